# Leighton-Micali hash-based signature verification (RFC 8554), the check a
# board runs on an OTA manifest (docs/ota.md). Only SHA-256 is needed, which
# every MicroPython port has in C; NIST SP 800-208 approves LMS for firmware
# signing. A board holds only the public key: a node with the network key
# (or every node's admin key) still cannot sign.
#
# Single-tree LMS (no HSS), n = m = 32. The signer is the laptop
# (nowmesh.ota.signer); its tree and leaf index stay there.
#
#   public key: u32 lms_type | u32 ots_type | I (16) | T[1] (32)
#   signature:  u32 q | u32 ots_type | C (32) | y[0..p-1] (32 each)
#               | u32 lms_type | path[0..h-1] (32 each)
import hashlib
import struct
from micropython import const

D_PBLC = const(0x8080)
D_MESG = const(0x8181)
D_LEAF = const(0x8282)
D_INTR = const(0x8383)
N = const(32)

# RFC 8554 section 8 / IANA: type -> (w, p, ls) and type -> h
OTS_TYPES = {1: (1, 265, 7), 2: (2, 133, 6), 3: (4, 67, 4), 4: (8, 34, 0)}
LMS_TYPES = {5: 5, 6: 10, 7: 15, 8: 20, 9: 25}
PUBLIC_KEY_LEN = const(56)


class SignatureError(Exception):
    """A signature refused; .reason is one word (docs/ota.md)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def u32(x):
    return struct.pack(">I", x)


def u16(x):
    return struct.pack(">H", x)


def sha256(data):
    return hashlib.sha256(data).digest()


def coef(s, i, w):
    """The i-th w-bit digit of byte string s (RFC 8554 section 3.1.3)."""
    per_byte = 8 // w
    return ((1 << w) - 1) & (s[i * w // 8] >> (8 - (w * (i % per_byte) + w)))


def with_checksum(q, w, ls):
    """Q || Cksm(Q): the digits every chain is advanced by (section 4.4)."""
    top = (1 << w) - 1
    total = 0
    for i in range(N * 8 // w):
        total += top - coef(q, i, w)
    return q + u16((total << ls) & 0xFFFF)


def chain(prefix, i, tmp, start, stop):
    """Advance chain i from step start to stop: H(I|q|i|j|tmp) each step."""
    head = prefix + u16(i)
    for j in range(start, stop):
        tmp = sha256(head + bytes((j,)) + tmp)
    return tmp


def ots_candidate(ident, q, message, at, ots_type):
    """Algorithm 4b: the one-time public key the signature implies. `at(offset,
    n)` gives the bytes of the LM-OTS signature (u32 type | C | y[0..p-1])."""
    w, p, ls = OTS_TYPES[ots_type]
    if struct.unpack(">I", at(0, 4))[0] != ots_type:
        raise SignatureError("malformed")
    prefix = ident + u32(q)
    # the message (an OTA manifest body) is hashed in place or piece by
    # piece, never copied: a board's heap has few large pieces (docs/heap.md)
    h = hashlib.sha256(prefix + u16(D_MESG) + at(4, N))
    if isinstance(message, (bytes, bytearray, memoryview)):
        h.update(message)
    else:
        for piece in message:         # pieces read from flash (mesh/ota_manifest.accept_from)
            h.update(piece)
    digits = with_checksum(h.digest(), w, ls)
    top = (1 << w) - 1
    # the p chain ends are hashed as they come, not gathered (2 KB fewer)
    z = hashlib.sha256(prefix + u16(D_PBLC))
    for i in range(p):
        z.update(chain(prefix, i, at(4 + N * (i + 1), N), coef(digits, i, w), top))
    return z.digest()


def parse_public_key(pub):
    """-> (lms_type, ots_type, I, root); SignatureError if it is not one."""
    pub = bytes(pub)
    if len(pub) != PUBLIC_KEY_LEN:
        raise SignatureError("key")
    lms_type, ots_type = struct.unpack(">II", pub[:8])
    if lms_type not in LMS_TYPES or ots_type not in OTS_TYPES:
        raise SignatureError("key")
    return lms_type, ots_type, pub[8:24], pub[24:]


def signature_len(lms_type, ots_type):
    return 4 + 4 + N * (OTS_TYPES[ots_type][1] + 1) + 4 + N * LMS_TYPES[lms_type]


def verify(pub, message, sig):
    """Raise SignatureError unless sig is pub's signature of message (bytes,
    or an iterable of its pieces). Returns the leaf index q (the signer
    never reuses one)."""
    sig = memoryview(sig)             # slices are views: no copies of its 2.5 KB
    return verify_at(pub, message, lambda offset, n: bytes(sig[offset:offset + n]), len(sig))


def verify_at(pub, message, read, length):
    """verify() of a signature of `length` bytes that read(offset, n) gives,
    32 bytes at a time (on a board: from the manifest file on flash, so the
    heap never needs one 2.5 KB piece for it)."""
    lms_type, ots_type, ident, root = parse_public_key(pub)
    h = LMS_TYPES[lms_type]
    if length != signature_len(lms_type, ots_type):
        raise SignatureError("malformed")
    q = struct.unpack(">I", read(0, 4))[0]
    ots_end = 4 + 4 + N * (OTS_TYPES[ots_type][1] + 1)
    if q >= 1 << h or struct.unpack(">I", read(ots_end, 4))[0] != lms_type:
        raise SignatureError("malformed")
    key = ots_candidate(ident, q, message, lambda offset, n: read(4 + offset, n), ots_type)
    node = (1 << h) + q
    tmp = sha256(ident + u32(node) + u16(D_LEAF) + key)
    path = ots_end + 4
    while node > 1:
        sibling = read(path, N)
        path += N
        pair = sibling + tmp if node & 1 else tmp + sibling
        node >>= 1
        tmp = sha256(ident + u32(node) + u16(D_INTR) + pair)
    if tmp != root:
        raise SignatureError("signature")
    return q
