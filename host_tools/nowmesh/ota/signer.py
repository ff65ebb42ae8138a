"""The laptop side of OTA signing: an LMS key (RFC 8554) derived from the
operator key, and its leaf counter.

The LMS private key is not a second secret: SEED and I are HMACs of the
operator key (nowmesh-operator-key.json), generated as RFC 8554 Appendix A
describes, so the laptop that can admin the mesh can sign for it and nothing
else can. LMS is stateful: a leaf signs once. The next unused leaf is kept in
nowmesh-ota-state.json beside the operator key and is reserved (written
atomically, fsync'd) *before* a signature is made, so a crash can waste a leaf
but never reuse one; when the tree is used up signing is refused.

Verification is firmware/mesh/lms.py, the code the boards run.
"""
import hashlib
import hmac
import json
import os
import secrets

from nowmesh.bundle import core
from nowmesh.errors import InputError

STATE_FILE = "nowmesh-ota-state.json"
LMS_SHA256_M32_H10 = 6
LMOTS_SHA256_N32_W4 = 3


def _lms():
    core.load()
    from mesh import lms
    return lms


class LmsKey:
    """One LMS private key: seed, identifier I and the Merkle tree over its
    one-time keys (built once per process; 2^h * p * 2^w hashes)."""

    def __init__(self, seed, ident, lms_type=LMS_SHA256_M32_H10, ots_type=LMOTS_SHA256_N32_W4):
        lms = _lms()
        self.seed, self.ident = bytes(seed), bytes(ident)
        self.lms_type, self.ots_type = lms_type, ots_type
        self.h = lms.LMS_TYPES[lms_type]
        self.w, self.p, self.ls = lms.OTS_TYPES[ots_type]
        self._tree = None

    @classmethod
    def from_operator_key(cls, operator_key_hex, **types):
        master = bytes.fromhex(operator_key_hex)
        seed = hmac.new(master, b"nowmesh/ota/lms-seed", hashlib.sha256).digest()
        ident = hmac.new(master, b"nowmesh/ota/lms-id", hashlib.sha256).digest()[:16]
        return cls(seed, ident, **types)

    @property
    def leaves(self):
        return 1 << self.h

    def _x(self, q, i):
        lms = _lms()
        return lms.sha256(self.ident + lms.u32(q) + lms.u16(i) + b"\xff" + self.seed)

    def _ots_public(self, q):
        lms = _lms()
        prefix = self.ident + lms.u32(q)
        top = (1 << self.w) - 1
        ys = [lms.chain(prefix, i, self._x(q, i), 0, top) for i in range(self.p)]
        return lms.sha256(prefix + lms.u16(lms.D_PBLC) + b"".join(ys))

    def tree(self):
        """T[1 .. 2^(h+1)-1] as a list (index 0 unused)."""
        if self._tree is None:
            lms = _lms()
            n = self.leaves
            t = [b""] * (2 * n)
            for q in range(n):
                t[n + q] = lms.sha256(self.ident + lms.u32(n + q) + lms.u16(lms.D_LEAF)
                                      + self._ots_public(q))
            for r in range(n - 1, 0, -1):
                t[r] = lms.sha256(self.ident + lms.u32(r) + lms.u16(lms.D_INTR) + t[2 * r] + t[2 * r + 1])
            self._tree = t
        return self._tree

    def public_key(self):
        lms = _lms()
        return lms.u32(self.lms_type) + lms.u32(self.ots_type) + self.ident + self.tree()[1]

    def sign(self, q, message, randomiser=None):
        """The signature of message with leaf q. The caller guarantees q is
        used once (State.reserve)."""
        lms = _lms()
        if not 0 <= q < self.leaves:
            raise ValueError("leaf %d outside the tree" % q)
        prefix = self.ident + lms.u32(q)
        c = randomiser if randomiser is not None else secrets.token_bytes(lms.N)
        digits = lms.with_checksum(lms.sha256(prefix + lms.u16(lms.D_MESG) + c + bytes(message)),
                                   self.w, self.ls)
        ys = [lms.chain(prefix, i, self._x(q, i), 0, lms.coef(digits, i, self.w))
              for i in range(self.p)]
        t = self.tree()
        node = self.leaves + q
        path = []
        while node > 1:
            path.append(t[node ^ 1])
            node >>= 1
        return (lms.u32(q) + lms.u32(self.ots_type) + c + b"".join(ys)
                + lms.u32(self.lms_type) + b"".join(path))


class State:
    """The leaf counter file: {"next_leaf": int, "public_key": hex}."""

    def __init__(self, path):
        self.path = path

    def read(self):
        try:
            with open(self.path, encoding="utf-8") as f:
                data = json.load(f)
        except FileNotFoundError:
            return {"next_leaf": 0}
        except (OSError, ValueError) as exc:
            raise InputError(self.path, None, "unreadable OTA signing state (%s); never delete or "
                                              "roll it back: a reused leaf breaks the signature "
                                              "scheme" % exc) from None
        if not isinstance(data, dict) or not isinstance(data.get("next_leaf"), int) \
                or data["next_leaf"] < 0:
            raise InputError(self.path, "next_leaf", "not an OTA signing state file")
        return data

    def write(self, data):
        tmp = "%s.%d.tmp" % (self.path, os.getpid())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, self.path)
        dir_fd = os.open(os.path.dirname(os.path.abspath(self.path)), os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def reserve(self, leaves):
        """-> the next unused leaf, marked used on disk before it is returned."""
        data = self.read()
        q = data["next_leaf"]
        if q >= leaves:
            raise InputError(self.path, "next_leaf", "the OTA signing key is used up (%d "
                                                     "signatures): make a new operator key and "
                                                     "redeploy every node by cable" % leaves)
        data["next_leaf"] = q + 1
        self.write(data)
        return q


class Signer:
    """Sign manifests with the operator's LMS key, never reusing a leaf."""

    def __init__(self, operator_key_hex, state_path, **types):
        self.key = LmsKey.from_operator_key(operator_key_hex, **types)
        self.state = State(state_path)

    def public_key(self):
        """The board's verification key (cached in the state file: the tree
        takes a second or two to build)."""
        data = self.state.read()
        cached = data.get("public_key")
        ident = self.key.ident.hex()
        if isinstance(cached, str) and cached[16:48] == ident and len(cached) == 112:
            return bytes.fromhex(cached)
        pub = self.key.public_key()
        data = self.state.read()
        data["public_key"] = pub.hex()
        self.state.write(data)
        return pub

    def sign(self, message):
        q = self.state.reserve(self.key.leaves)
        return self.key.sign(q, message)

    def remaining(self):
        return self.key.leaves - self.state.read()["next_leaf"]
