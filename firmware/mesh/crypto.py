# Mesh-layer security: AES-128-CTR encryption then HMAC-SHA256 (truncated to
# 8 bytes) over header + payload. ESP-NOW's own encryption cannot cover
# broadcast or more than ~6 peers, so the mesh protects itself.
#
# Runs on MicroPython, whose cryptolib has ECB/CBC but no CTR and whose
# hashlib.sha256 has no copy(): CTR and HMAC (RFC 2104) are built here.
import hashlib
import struct
from micropython import const

from .wire import (HEADER_LEN, MAX_FRAME_V2, MAX_PAYLOAD_V2, TAG_LEN, VERSION, FrameError,
                   pack_header, parse_header)

try:
    import cryptolib
except ImportError:  # a build without AES: frames are authenticated, not encrypted
    cryptolib = None

_BLOCK = const(64)  # SHA-256 block size (HMAC pads)
_AES_ECB = const(1)


def _xor_bytes(data, byte):
    return bytes([b ^ byte for b in data])


class Hmac:
    """HMAC-SHA256 with the key's pads precomputed (RFC 2104)."""

    def __init__(self, key):
        key = bytes(key)
        if len(key) > _BLOCK:
            key = hashlib.sha256(key).digest()
        key = key + bytes(_BLOCK - len(key))
        self._ipad = _xor_bytes(key, 0x36)
        self._opad = _xor_bytes(key, 0x5C)
        # CPython can clone a hash state: hash the pads once. MicroPython can't.
        inner = hashlib.sha256(self._ipad)
        self._inner = inner if hasattr(inner, "copy") else None
        if self._inner is not None:
            self._outer = hashlib.sha256(self._opad)

    def digest(self, msg):
        if self._inner is not None:
            h = self._inner.copy()
            h.update(msg)
            o = self._outer.copy()
            o.update(h.digest())
            return o.digest()
        h = hashlib.sha256(self._ipad)
        h.update(msg)
        o = hashlib.sha256(self._opad)
        o.update(h.digest())
        return o.digest()


def hmac_sha256(key, msg):
    return Hmac(key).digest(msg)


class Keys:
    """Keys derived from the shared network key (16 or 32 bytes)."""

    def __init__(self, network_key):
        network_key = bytes(network_key)
        if len(network_key) not in (16, 32):
            raise ValueError("network key must be 16 or 32 bytes")
        self.network_key = network_key
        # Domain-separated derivation: one key per purpose, never reused.
        self.k_enc = hashlib.sha256(b"nowmesh/enc" + network_key).digest()[:16]
        k_mac = hashlib.sha256(b"nowmesh/mac" + network_key).digest()
        self.mac = Hmac(k_mac)
        self.has_aes = cryptolib is not None
        # CTR only ever encrypts counter blocks, so one ECB object serves both
        # directions (MicroPython forbids mixing encrypt/decrypt on one object).
        self._ecb = cryptolib.aes(self.k_enc, _AES_ECB) if self.has_aes else None

    def open(self, frame):
        """open_frame(self, frame); a method so a host can wrap it (e.g. cache)."""
        return open_frame(self, frame)

    def tag(self, data):
        return self.mac.digest(data)[:TAG_LEN]

    def ctr_xor(self, nonce14, data):
        """AES-128-CTR (NIST SP 800-38A): counter block i = nonce14 + u16le(i)."""
        n = len(data)
        if n == 0:
            return b""
        blocks = (n + 15) // 16
        ctrs = bytearray(16 * blocks)
        for i in range(blocks):
            ctrs[16 * i:16 * i + 14] = nonce14
            struct.pack_into("<H", ctrs, 16 * i + 14, i)
        stream = self._ecb.encrypt(ctrs)
        # XOR as big integers: far faster than a per-byte loop on MicroPython.
        x = int.from_bytes(bytes(data), "little") ^ int.from_bytes(stream[:n], "little")
        return x.to_bytes(n, "little")


def _tags_equal(a, b):
    # Constant-time-ish: always look at every byte.
    if len(a) != len(b):
        return False
    diff = 0
    for i in range(len(a)):
        diff |= a[i] ^ b[i]
    return diff == 0


def seal(keys, ftype, sender, boot, ctr, payload, encrypt=True):
    """Build a complete frame. Encrypts only if asked and AES is available."""
    n = len(payload)
    if n > MAX_PAYLOAD_V2:          # callers keep to what their receivers take
        raise ValueError("payload too long")
    if len(sender) != 6:
        raise ValueError("sender must be 6 bytes")
    encrypted = bool(encrypt and keys.has_aes)
    buf = bytearray(HEADER_LEN + n + TAG_LEN)
    pack_header(buf, ftype, encrypted, sender, boot, ctr)
    if encrypted:
        # nonce = sender + boot + ctr = header bytes 2..16, unique per frame.
        buf[HEADER_LEN:HEADER_LEN + n] = keys.ctr_xor(bytes(buf[2:HEADER_LEN]), payload)
    else:
        buf[HEADER_LEN:HEADER_LEN + n] = payload
    buf[HEADER_LEN + n:] = keys.tag(memoryview(buf)[:HEADER_LEN + n])
    return bytes(buf)


def open_frame(keys, frame):
    """Verify and decrypt -> (ftype, sender, boot, ctr, payload).

    Raises FrameError and nothing else, whatever the bytes.
    """
    try:
        frame = bytes(frame)
    except Exception:
        raise FrameError("malformed")
    if len(frame) < HEADER_LEN + TAG_LEN:
        raise FrameError("short")
    version, encrypted, ftype, sender, boot, ctr = parse_header(frame)
    if version != VERSION:
        raise FrameError("version")
    if len(frame) > MAX_FRAME_V2:
        raise FrameError("malformed")
    end = len(frame) - TAG_LEN
    if not _tags_equal(keys.tag(memoryview(frame)[:end]), frame[end:]):
        raise FrameError("tag")
    body = frame[HEADER_LEN:end]
    if encrypted:
        if not keys.has_aes:
            raise FrameError("no_aes")
        body = keys.ctr_xor(frame[2:HEADER_LEN], body)
    return ftype, sender, boot, ctr, body
