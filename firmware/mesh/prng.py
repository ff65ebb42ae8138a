# Small deterministic PRNG (xorshift32, Marsaglia 2003) for protocol jitter.
# Not for secrets. The seed comes from the port (os.urandom on a board, a
# seeded generator in the simulator), so runs are reproducible on the host.
import hashlib


class Rng:
    def __init__(self, seed):
        if isinstance(seed, int):
            seed = seed.to_bytes(8, "little")
        # Hash so that similar seeds give unrelated streams; xorshift needs != 0.
        d = hashlib.sha256(b"nowmesh/rng" + bytes(seed)).digest()
        self._s = int.from_bytes(d[:4], "little") or 0x9E3779B9

    def next32(self):
        x = self._s
        x ^= (x << 13) & 0xFFFFFFFF
        x ^= x >> 17
        x ^= (x << 5) & 0xFFFFFFFF
        self._s = x
        return x

    def below(self, n):
        """Uniform-ish integer in 0..n-1 (0 when n <= 1)."""
        if n <= 1:
            return 0
        return self.next32() % n

    def state(self):
        return self._s
