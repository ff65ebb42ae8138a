# nowmesh wire format v1: the one module that defines frame bytes.
#
# Frame (little-endian), at most 250 bytes (ESP-NOW payload limit):
#   0   1  magic|version  0xA0 | VERSION
#   1   1  flags|type     bit7 = payload encrypted, bits0-6 = frame type
#   2   6  sender id      (its MAC)
#   8   4  sender boot counter (u32)
#   12  4  sender frame counter (u32)
#   16  n  payload        (ciphertext when bit7 is set)
#   16+n 8 tag            HMAC-SHA256(K_mac, bytes[0:16+n])[:8]
# Everything here is pure: encoders take values, decoders take bytes and raise
# FrameError (never anything else) on input they cannot make sense of.
import struct
from micropython import const

VERSION = const(1)
MAGIC = const(0xA0)
HEADER_LEN = const(16)
TAG_LEN = const(8)
MAX_FRAME = const(250)
MAX_PAYLOAD = const(226)  # MAX_FRAME - HEADER_LEN - TAG_LEN
# ESP-NOW v2 (firmware built with ESP-IDF >= 5.4) carries up to 1470 bytes.
# Nodes send frames this large only to receivers that said, in their hello,
# that they take them (mesh.py frame_limit); every other frame fits MAX_FRAME.
MAX_FRAME_V2 = const(1470)
MAX_PAYLOAD_V2 = const(1446)  # MAX_FRAME_V2 - HEADER_LEN - TAG_LEN
FLAG_ENCRYPTED = const(0x80)
TYPE_MASK = const(0x7F)

T_BEACON = const(1)
T_READINGS = const(2)
T_DATA = const(3)
# 4..15 are reserved for the routing protocol.
T_ROUTING_FIRST = const(4)
T_ROUTING_LAST = const(15)
# 0x70 is the simulator's baseline protocols (nowmesh.sim.protocols.baselines).

ID_LEN = const(6)
_HDR_FMT = "<BB6sII"
_READING_HDR = "<6sHHIB"
_READING_HDR_LEN = const(15)
_VALUE_LEN = const(5)
_F32_MAX = 3.4028234663852886e38
_HEX = "0123456789abcdef"

# Known (name, unit) pairs; the code is the index. Code 0 = custom, spelled out.
# A tuple so it cannot be mutated (many nodes share this module).
QUANTITIES = (
    None,
    ("temp", "C"),
    ("rh", "%"),
    ("pressure", "hPa"),
    ("voltage", "V"),
    ("light", "lx"),
    ("co2", "ppm"),
    ("soil", "%"),
    ("battery", "V"),
    ("heap", "B"),
    ("uptime", "s"),
    ("rssi", "dBm"),
)


class FrameError(Exception):
    """Remote input we reject. `.reason` is a short string used as stats key."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


# ---------------------------------------------------------------- header


def pack_header(buf, ftype, encrypted, sender, boot, ctr):
    """Write the 16-byte header into buf[0:16] (a preallocated bytearray)."""
    flags = (ftype & TYPE_MASK) | (FLAG_ENCRYPTED if encrypted else 0)
    struct.pack_into(_HDR_FMT, buf, 0, MAGIC | VERSION, flags, sender, boot & 0xFFFFFFFF, ctr & 0xFFFFFFFF)


def build_header(ftype, encrypted, sender, boot, ctr):
    buf = bytearray(HEADER_LEN)
    pack_header(buf, ftype, encrypted, sender, boot, ctr)
    return bytes(buf)


def parse_header(frame):
    """-> (version, encrypted, ftype, sender, boot, ctr). Checks magic only."""
    if len(frame) < HEADER_LEN:
        raise FrameError("short")
    mv, flags, sender, boot, ctr = struct.unpack_from(_HDR_FMT, frame, 0)
    if mv & 0xF0 != MAGIC:
        raise FrameError("magic")
    return mv & 0x0F, bool(flags & FLAG_ENCRYPTED), flags & TYPE_MASK, bytes(sender), boot, ctr


# ---------------------------------------------------------------- readings


def serial_newer(a, b):
    """RFC 1982 serial arithmetic on 16 bits: is a newer than b?"""
    d = (a - b) & 0xFFFF
    return 0 < d < 0x8000


class Reading:
    """One sensor sample set from `origin`. values: list of (name, value, unit).

    Values travel as IEEE-754 float32, so a decoded value equals the original
    only to about 7 significant digits.
    """

    def __init__(self, origin, boot, seq, t_ms, values):
        self.origin = bytes(origin)
        self.boot = boot & 0xFFFF
        self.seq = seq & 0xFFFF
        self.t_ms = t_ms & 0xFFFFFFFF
        self.values = list(values)

    def key(self):
        return (self.origin, self.boot, self.seq)

    def is_newer_than(self, other):
        """Newer in (boot, seq) order, each compared with 16-bit serial arithmetic."""
        if self.boot != other.boot:
            return serial_newer(self.boot, other.boot)
        return serial_newer(self.seq, other.seq)

    def __eq__(self, other):
        return isinstance(other, Reading) and self.key() == other.key() and self.t_ms == other.t_ms and self.values == other.values

    def __ne__(self, other):
        return not self.__eq__(other)

    def __repr__(self):
        return "Reading(%s, %d, %d, %d, %r)" % (format_id(self.origin), self.boot, self.seq, self.t_ms, self.values)


def quantity_code(name, unit):
    for code in range(1, len(QUANTITIES)):
        if QUANTITIES[code] == (name, unit):
            return code
    return 0


def _f32(value):
    # CPython refuses to pack finite floats beyond f32 range, MicroPython
    # makes them inf: make both runtimes agree on inf.
    v = float(value)
    if v > _F32_MAX:
        return float("inf")
    if v < -_F32_MAX:
        return -float("inf")
    return v


def _ascii(text, what):
    raw = text.encode() if isinstance(text, str) else bytes(text)
    if len(raw) > 255:
        raise ValueError(what + " too long")
    for c in raw:
        if c < 32 or c > 126:
            raise ValueError(what + " not printable ascii")
    return raw


def encode_value(name, value, unit):
    code = quantity_code(name, unit)
    if code:
        return struct.pack("<Bf", code, _f32(value))
    n = _ascii(name, "name")
    u = _ascii(unit, "unit")
    if not n:
        raise ValueError("empty name")
    return bytes((0, len(n))) + n + bytes((len(u),)) + u + struct.pack("<f", _f32(value))


def encode_reading(r):
    if len(r.values) > 255:
        raise ValueError("too many values")
    parts = [struct.pack(_READING_HDR, r.origin, r.boot, r.seq, r.t_ms, len(r.values))]
    for name, value, unit in r.values:
        parts.append(encode_value(name, value, unit))
    return b"".join(parts)


def encode_readings(readings):
    """count(u8) + readings: the readings block (T_READINGS payload prefix)."""
    if len(readings) > 255:
        raise ValueError("too many readings")
    return bytes((len(readings),)) + b"".join([encode_reading(r) for r in readings])


def _take_text(buf, off, end):
    if off >= end:
        raise FrameError("malformed")
    n = buf[off]
    off += 1
    if off + n > end:
        raise FrameError("malformed")
    for i in range(off, off + n):
        if buf[i] < 32 or buf[i] > 126:
            raise FrameError("malformed")
    return bytes(buf[off:off + n]).decode(), off + n


def _decode_value(buf, off, end):
    if off >= end:
        raise FrameError("malformed")
    code = buf[off]
    off += 1
    if code == 0:
        name, off = _take_text(buf, off, end)
        if not name:
            raise FrameError("malformed")
        unit, off = _take_text(buf, off, end)
    elif code < len(QUANTITIES):
        name, unit = QUANTITIES[code]
    else:
        raise FrameError("malformed")
    if off + 4 > end:
        raise FrameError("malformed")
    return (name, struct.unpack_from("<f", buf, off)[0], unit), off + 4


def decode_reading_at(buf, off, end):
    """-> (Reading, next offset). Strict: raises FrameError('malformed')."""
    if off + _READING_HDR_LEN > end:
        raise FrameError("malformed")
    origin, boot, seq, t_ms, count = struct.unpack_from(_READING_HDR, buf, off)
    off += _READING_HDR_LEN
    values = []
    for _ in range(count):
        v, off = _decode_value(buf, off, end)
        values.append(v)
    return Reading(origin, boot, seq, t_ms, values), off


def decode_readings_at(buf, off=0):
    """Decode a readings block starting at off -> (list of Reading, next offset)."""
    end = len(buf)
    if off >= end:
        raise FrameError("malformed")
    count = buf[off]
    off += 1
    out = []
    for _ in range(count):
        r, off = decode_reading_at(buf, off, end)
        out.append(r)
    return out, off


def decode_readings(buf):
    """Decode a whole readings block (count + readings, nothing after)."""
    out, off = decode_readings_at(buf, 0)
    if off != len(buf):
        raise FrameError("malformed")
    return out


# ------------------------------------------------- beacons
# Beacon: name_len(u8) name(ascii). The mesh policy still takes a neighbour's
# name from one (the retired flood policy sent them).


def encode_beacon(name):
    """A name-only beacon: what a hello that would repeat itself shrinks to
    (mesh/hello.py), and what the first firmware sent."""
    raw = _ascii(name, "name")
    return bytes((len(raw),)) + raw


def decode_beacon(payload):
    name, off = _take_text(payload, 0, len(payload))
    if off != len(payload) or not name:
        raise FrameError("malformed")
    return name


# ---------------------------------------------------------------- ids


def format_id(node_id):
    return ":".join(["%02x" % b for b in node_id])


def parse_id(text):
    """'aa:bb:cc:dd:ee:ff' -> 6 bytes; raises ValueError."""
    parts = text.split(":")
    if len(parts) != ID_LEN:
        raise ValueError("id needs 6 ':'-separated bytes")
    out = bytearray(ID_LEN)
    for i in range(ID_LEN):
        p = parts[i].lower()
        if len(p) != 2 or _HEX.find(p[0]) < 0 or _HEX.find(p[1]) < 0:
            raise ValueError("id byte must be 2 hex digits")
        out[i] = _HEX.find(p[0]) * 16 + _HEX.find(p[1])
    return bytes(out)
