# Payload layouts of the mesh protocol (T_HELLO, T_PULL, routed T_DATA and
# T_READINGS with metrics). Pure functions: encoders take values, decoders
# take bytes and raise FrameError('malformed') on anything inconsistent.
# Layouts are documented in docs/protocol.md.
import struct
from micropython import const

from .wire import (ID_LEN, MAX_PAYLOAD, FrameError, _ascii, _take_text,
                   decode_reading_at)

T_HELLO = const(4)
T_PULL = const(5)

HELLO_MPR = const(0x80)     # entry flag: "relay what I send" (set on every entry; older firmware reads it, see protocol.md)
HELLO_Q = const(0x7F)       # entry: how well the sender hears this neighbour, 0..127
HELLO_SYNC = const(1)       # hello flag: sender just booted, its table is empty
HELLO_V2 = const(2)         # hello flag: sender takes frames up to MAX_FRAME_V2 (ESP-NOW v2)
HELLO_RELAYS = const(4)     # hello flag: sender rebroadcasts readings (mesh/relays.py)
PULL_FULL = const(1)        # pull flag: send me everything you hold
_HELLO_ENTRY = const(7)
_PULL_ENTRY = const(10)

KIND_REPLY = const(1)       # T_DATA kind bits
KIND_FLOODED = const(2)
KIND_ATTEMPT_SHIFT = const(4)
_KIND_VALID = const(0x33)
DATA_HEAD = const(18)       # 17 (kind..hop_limit) + frag info byte
MAX_BODY = const(208)       # MAX_PAYLOAD - DATA_HEAD
FRAG_MAX = const(16)
_DATA_FMT = "<B6s6sHBBB"
_NOBODY = b"\xff" * ID_LEN     # the broadcast address: never a node id


# ------------------------------------------------------------------ hello

def encode_hello(name, flags, held, entries):
    """held: readings we hold (a one-number digest); entries: [(id, q 0..127,
    is_mpr)] -> payload; entries beyond one frame are cut."""
    n = _ascii(name, "name")
    room = (MAX_PAYLOAD - 5 - len(n)) // _HELLO_ENTRY
    entries = entries[:room]
    parts = [bytes((len(n),)), n, struct.pack("<BHB", flags, min(held, 0xFFFF), len(entries))]
    for nid, q, mpr in entries:
        parts.append(nid + bytes(((q & HELLO_Q) | (HELLO_MPR if mpr else 0),)))
    return b"".join(parts)


def decode_hello(payload):
    """-> (name, flags, held, [(id, q, is_mpr)])."""
    end = len(payload)
    name, off = _take_text(payload, 0, end)
    if not name or off + 4 > end:
        raise FrameError("malformed")
    flags, held, count = struct.unpack_from("<BHB", payload, off)
    off += 4
    if off + count * _HELLO_ENTRY != end:
        raise FrameError("malformed")
    out = []
    for i in range(count):
        p = off + i * _HELLO_ENTRY
        b = payload[p + ID_LEN]
        out.append((bytes(payload[p:p + ID_LEN]), b & HELLO_Q, bool(b & HELLO_MPR)))
    return name, flags, held, out


# ------------------------------------------------------------------ pull

_ANYONE = b"\x00" * 6


def encode_pull(flags, haves, responder=_ANYONE):
    """haves: [(origin, boot16, seq16)] the puller holds (0, 0 = nothing);
    responder: the neighbour asked to answer (zeros: any neighbour)."""
    parts = [bytes((flags,)), responder, bytes((len(haves),))]
    for origin, boot, seq in haves:
        parts.append(origin + struct.pack("<HH", boot, seq))
    return b"".join(parts)


def max_pull_entries():
    return (MAX_PAYLOAD - 8) // _PULL_ENTRY


def decode_pull(payload):
    """-> (flags, responder or None for anyone, haves)."""
    if len(payload) < 8:
        raise FrameError("malformed")
    flags, count = payload[0], payload[7]
    if 8 + count * _PULL_ENTRY != len(payload) or flags > PULL_FULL:
        raise FrameError("malformed")
    responder = bytes(payload[1:7])
    out = []
    for i in range(count):
        p = 8 + i * _PULL_ENTRY
        boot, seq = struct.unpack_from("<HH", payload, p + ID_LEN)
        out.append((bytes(payload[p:p + ID_LEN]), boot, seq))
    return flags, (None if responder == _ANYONE else responder), out


# ------------------------------------------------------------------ readings
# count(u8) + readings + one hop byte each [+ one metric byte each].
# The metric byte is the relay's route metric to the origin (1/8 ETX units);
# without it (old senders) the metric is taken as 8 per hop.

ITEM_EXTRA = const(2)       # hop byte + metric byte per reading
# The largest encoded reading that fits a readings frame on its own (count
# byte + reading + its hop and metric bytes): what Node.publish accepts.
MAX_READING = const(223)    # MAX_PAYLOAD - 1 - ITEM_EXTRA


def encode_readings_items(raws, hops, metrics):
    return bytes((len(raws),)) + b"".join(raws) + bytes(hops) + bytes(metrics)


def item_size(raw):
    """Bytes one reading takes in a readings frame."""
    return len(raw) + ITEM_EXTRA


def decode_readings_items(payload):
    """-> [(raw, Reading, hops, metric)] (raw: the reading's encoded bytes)."""
    end = len(payload)
    if end < 1:
        raise FrameError("malformed")
    count = payload[0]
    off = 1
    spans = []
    for _ in range(count):
        r, nxt = decode_reading_at(payload, off, end)
        spans.append((off, nxt, r))
        off = nxt
    tail = end - off
    if tail != count and tail != 2 * count:
        raise FrameError("malformed")
    out = []
    for i in range(count):
        a, b, r = spans[i]
        hops = payload[off + i]
        metric = payload[off + count + i] if tail == 2 * count else min(255, 8 * (hops + 1))
        out.append((bytes(payload[a:b]), r, hops, metric))
    return out


# ------------------------------------------------------------------ routed data
# kind(u8) origin(6) dst(6) req_id(u16) hops(u8) hop_limit(u8) frag(u8) body
# kind: bit0 reply, bit1 flooded (no route: broadcast), bits 4-5 attempt.
# frag: index << 4 | (count - 1). The first 15 bytes + frag name the packet.

def encode_routed(kind, origin, dst, req_id, hops, limit, frag, body):
    if len(body) > MAX_BODY:
        raise ValueError("body too long")
    return struct.pack(_DATA_FMT, kind, origin, dst, req_id & 0xFFFF, hops, limit, frag) + bytes(body)


def decode_routed(payload):
    """-> [kind, origin, dst, req_id, hops, limit, frag, body]."""
    if len(payload) < DATA_HEAD:
        raise FrameError("malformed")
    kind, origin, dst, req_id, hops, limit, frag = struct.unpack_from(_DATA_FMT, payload, 0)
    if kind & ~_KIND_VALID or hops >= limit or (frag >> 4) > (frag & 15):
        raise FrameError("malformed")
    # ends are node ids: the broadcast address as an origin would make the
    # destination answer "everyone", the one address a reply cannot go to
    if origin == _NOBODY or dst == _NOBODY or origin == dst:
        raise FrameError("malformed")
    return [kind, bytes(origin), bytes(dst), req_id, hops, limit, frag, bytes(payload[DATA_HEAD:])]


def packet_key(payload):
    """What names one routed packet across hops (hops excluded)."""
    return bytes(payload[:15]) + bytes(payload[17:18])

