"""CPython stand-in for MicroPython's `cryptolib` (host only, never deployed).

Only what the mesh core uses: `aes(key, 1)` (ECB) with `encrypt`/`decrypt` on
whole 16-byte blocks, backed by the `cryptography` package.
"""
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_MODE_ECB = 1


class aes:  # noqa: N801 - the name MicroPython uses
    def __init__(self, key, mode, iv=None):
        if mode != _MODE_ECB:
            raise ValueError("mode")
        if len(key) not in (16, 32):
            raise ValueError("key")
        self._cipher = Cipher(algorithms.AES(bytes(key)), modes.ECB())

    def encrypt(self, data, out=None):
        return self._run(self._cipher.encryptor(), data, out)

    def decrypt(self, data, out=None):
        return self._run(self._cipher.decryptor(), data, out)

    @staticmethod
    def _run(ctx, data, out):
        if len(data) % 16:
            raise ValueError("blksize")
        result = ctx.update(bytes(data)) + ctx.finalize()
        if out is None:
            return result
        out[: len(result)] = result
        return None
