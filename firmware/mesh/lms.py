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


def ots_candidate(ident, q, message, sig, ots_type):
    """Algorithm 4b: the one-time public key the signature implies."""
    w, p, ls = OTS_TYPES[ots_type]
    if len(sig) != 4 + N * (p + 1) or struct.unpack(">I", sig[:4])[0] != ots_type:
        raise SignatureError("malformed")
    prefix = ident + u32(q)
    c = sig[4:4 + N]
    digits = with_checksum(sha256(prefix + u16(D_MESG) + c + message), w, ls)
    top = (1 << w) - 1
    z = [prefix, u16(D_PBLC)]
    for i in range(p):
        y = sig[4 + N * (i + 1):4 + N * (i + 2)]
        z.append(chain(prefix, i, y, coef(digits, i, w), top))
    return sha256(b"".join(z))


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
    """Raise SignatureError unless sig is pub's signature of message.
    Returns the leaf index q (the signer never reuses one)."""
    lms_type, ots_type, ident, root = parse_public_key(pub)
    sig = bytes(sig)
    h = LMS_TYPES[lms_type]
    if len(sig) != signature_len(lms_type, ots_type):
        raise SignatureError("malformed")
    q = struct.unpack(">I", sig[:4])[0]
    ots_end = 4 + 4 + N * (OTS_TYPES[ots_type][1] + 1)
    if q >= 1 << h or struct.unpack(">I", sig[ots_end:ots_end + 4])[0] != lms_type:
        raise SignatureError("malformed")
    key = ots_candidate(ident, q, bytes(message), sig[4:ots_end], ots_type)
    node = (1 << h) + q
    tmp = sha256(ident + u32(node) + u16(D_LEAF) + key)
    path = ots_end + 4
    while node > 1:
        sibling = sig[path:path + N]
        path += N
        pair = sibling + tmp if node & 1 else tmp + sibling
        node >>= 1
        tmp = sha256(ident + u32(node) + u16(D_INTR) + pair)
    if tmp != root:
        raise SignatureError("signature")
    return q
