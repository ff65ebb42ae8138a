# The retired placeholder dissemination policy (the first generation of the
# mesh core: beacons, flooded readings, flooded request/reply) and the payload
# codecs that served only it. It no longer ships to boards; the core tests that
# pin Node's policy contract still run it (policy=FloodPolicy), under CPython
# and MicroPython. The contract with Node (node.py) is the method set of FloodPolicy:
#   decode(ftype, payload) -> message (raise FrameError; must not mutate)
#   handle(ftype, sender, message, now_ms) -> frames
#   on_publish(reading, now_ms) -> frames
#   request(dst, body, now_ms) -> (req_id, frames); reply(dst, req_id, body, now_ms) -> frames
#   tick(now_ms) -> frames; next_deadline() -> ms or None
#   send_done(dst_mac, ok, now_ms) -> frames; snapshot() -> comparable state
# and it may use node.seal(), node.store_reading(), node.emit(), node.rng,
# node.config, node.id, node.neighbours, node.stats.
import struct
from micropython import const

from mesh.dedup import DupCache
from mesh.wire import (MAX_PAYLOAD, T_BEACON, T_DATA, T_READINGS, FrameError, _ascii,
                       decode_beacon, decode_readings_at, encode_beacon, encode_reading, encode_readings)

# T_DATA kinds of the flood policy
DATA_REQUEST = const(0)
DATA_REPLY = const(1)
_DATA_HDR = "<B6s6sHBB"
DATA_HDR_LEN = const(17)


BROADCAST = b"\xff\xff\xff\xff\xff\xff"
_FIRST_BEACON_MAX_MS = const(1000)
_PING = b"ping"
_PONG = b"pong"


# ------------------------------------------------- flood payloads
# Beacon: name_len(u8) name(ascii).
# Readings frame: readings block + one hop count (u8) per reading, in order.
# Data: kind(u8) origin(6) dst(6) req_id(u16) hops(u8) hop_limit(u8) body.


def encode_readings_frame(readings, hops):
    return encode_readings(readings) + bytes([h & 0xFF for h in hops])


def decode_readings_frame(payload):
    """-> list of (Reading, hops)."""
    readings, off = decode_readings_at(payload, 0)
    if off + len(readings) != len(payload):
        raise FrameError("malformed")
    return [(readings[i], payload[off + i]) for i in range(len(readings))]


def encode_data(kind, origin, dst, req_id, hops, hop_limit, body):
    if len(body) > MAX_PAYLOAD - DATA_HDR_LEN:
        raise ValueError("body too long")
    return struct.pack(_DATA_HDR, kind, origin, dst, req_id & 0xFFFF, hops, hop_limit) + bytes(body)


def decode_data(payload):
    """-> (kind, origin, dst, req_id, hops, hop_limit, body)."""
    if len(payload) < DATA_HDR_LEN:
        raise FrameError("malformed")
    kind, origin, dst, req_id, hops, limit = struct.unpack_from(_DATA_HDR, payload, 0)
    if kind > DATA_REPLY or hops >= limit:
        raise FrameError("malformed")
    return kind, bytes(origin), bytes(dst), req_id, hops, limit, bytes(payload[DATA_HDR_LEN:])


# Duplicate-cache keys are packed bytes: one small object each instead of a
# tuple of four or five (this matters with ~100 KB of heap).
def _reading_key(r):
    return b"r" + r.origin + struct.pack("<HH", r.boot, r.seq)


def _data_key(kind, origin, dst, req_id):
    return struct.pack("<B", kind) + origin + dst + struct.pack("<H", req_id)


class FloodPolicy:
    max_reading = MAX_PAYLOAD - 2   # count byte + reading + hop byte in one frame

    def __init__(self, node, now_ms):
        self.node = node
        cfg = node.config
        self.hop_limit = cfg.hop_limit
        self.relay_jitter = cfg.relay_jitter_ms
        self.queue_max = cfg.relay_queue_max
        self.dup = DupCache(cfg.dup_cache_max, cfg.dup_ttl_ms)
        # Spread first beacons of nodes that boot together.
        self._beacon_at = now_ms + node.rng.below(min(cfg.beacon_ms, _FIRST_BEACON_MAX_MS))
        self._relay = {}  # origin -> [due_ms, hops, Reading]: newest reading only
        self._data = []   # [due_ms, T_DATA payload] waiting to be relayed
        self._req_id = node.rng.below(0x10000)  # random start: ids differ across reboots
        self._decoders = {T_BEACON: decode_beacon, T_READINGS: decode_readings_frame, T_DATA: decode_data}
        self._handlers = {T_BEACON: self._on_beacon, T_READINGS: self._on_readings, T_DATA: self._on_data}

    # ------------------------------------------------------------ receive

    def decode(self, ftype, payload):
        dec = self._decoders.get(ftype)
        if dec is None:
            raise FrameError("type")
        return dec(payload)

    def handle(self, ftype, sender, message, now_ms):
        return self._handlers[ftype](sender, message, now_ms)

    def _on_beacon(self, sender, name, now_ms):
        n = self.node.neighbours.get(sender)
        if n is not None:
            n.name = name
        return []

    def _on_readings(self, sender, items, now_ms):
        node = self.node
        for r, hops in items:
            key = _reading_key(r)
            if self.dup.seen(key, now_ms):
                continue
            self.dup.add(key, now_ms)
            if node.store_reading(r, now_ms) and hops + 1 < self.hop_limit:
                # One pending relay per origin: a newer reading replaces an older one.
                self._relay[r.origin] = [now_ms + self._jitter(), hops + 1, r]
        return []

    def _on_data(self, sender, msg, now_ms):
        kind, origin, dst, req_id, hops, limit, body = msg
        node = self.node
        key = _data_key(kind, origin, dst, req_id)
        if origin == node.id or self.dup.seen(key, now_ms):
            return []
        self.dup.add(key, now_ms)
        if dst != node.id:
            if hops + 1 < limit:
                self._queue_data(now_ms + self._jitter(), encode_data(kind, origin, dst, req_id, hops + 1, limit, body))
            return []
        if kind == DATA_REPLY:
            node.emit(("reply", req_id, origin, body, hops + 1))
            return []
        if body == _PING:
            return self.reply(origin, req_id, _PONG, now_ms)
        node.emit(("request", origin, req_id, body))
        return []

    def _queue_data(self, due, payload):
        if len(self._data) >= self.queue_max:
            self.node.count("relay_dropped")
            return
        self._data.append([due, payload])

    # ------------------------------------------------------------ local

    def on_publish(self, reading, now_ms):
        self.dup.add(_reading_key(reading), now_ms)
        return self._broadcast(T_READINGS, encode_readings_frame([reading], [0]))

    def request(self, dst, body, now_ms):
        self._req_id = (self._req_id + 1) & 0xFFFF
        payload = encode_data(DATA_REQUEST, self.node.id, dst, self._req_id, 0, self.hop_limit, body)
        self.dup.add(_data_key(DATA_REQUEST, self.node.id, dst, self._req_id), now_ms)
        return self._req_id, self._broadcast(T_DATA, payload)

    def reply(self, dst, req_id, body, now_ms):
        payload = encode_data(DATA_REPLY, self.node.id, dst, req_id, 0, self.hop_limit, body)
        self.dup.add(_data_key(DATA_REPLY, self.node.id, dst, req_id), now_ms)
        return self._broadcast(T_DATA, payload)

    def send_done(self, dst_mac, ok, now_ms):
        return []  # everything is broadcast here; nothing to retry

    # ------------------------------------------------------------ timers

    def tick(self, now_ms):
        out = []
        if now_ms >= self._beacon_at:
            out += self._broadcast(T_BEACON, encode_beacon(self.node.name))
            b = self.node.config.beacon_ms
            j = b // 5
            self._beacon_at = now_ms + b - j // 2 + self.node.rng.below(j + 1)
        out += self._flush_readings(now_ms)
        keep = []
        for item in self._data:
            if item[0] <= now_ms:
                out += self._broadcast(T_DATA, item[1])
            else:
                keep.append(item)
        self._data = keep
        return out

    def _flush_readings(self, now_ms):
        # Readings due together travel together: one T_READINGS frame holds
        # as many as fit (count byte + readings + one hop byte each).
        due = sorted([o for o, p in self._relay.items() if p[0] <= now_ms])
        out = []
        batch, hops, size = [], [], 1
        for origin in due:
            _, h, r = self._relay.pop(origin)
            n = len(encode_reading(r)) + 1
            if batch and (size + n > MAX_PAYLOAD or len(batch) == 255):
                out += self._broadcast(T_READINGS, encode_readings_frame(batch, hops))
                batch, hops, size = [], [], 1
            batch.append(r)
            hops.append(h)
            size += n
        if batch:
            out += self._broadcast(T_READINGS, encode_readings_frame(batch, hops))
        return out

    def next_deadline(self):
        d = self._beacon_at
        for p in self._relay.values():
            d = min(d, p[0])
        for item in self._data:
            d = min(d, item[0])
        return d

    # ------------------------------------------------------------ helpers

    def _jitter(self):
        return self.node.rng.below(self.relay_jitter + 1)

    def _broadcast(self, ftype, payload):
        frame = self.node.seal(ftype, payload)
        return [(BROADCAST, frame)] if frame is not None else []

    def snapshot(self):
        relay = sorted([(o, p[0], p[1], p[2].key()) for o, p in self._relay.items()])
        return (self._beacon_at, relay, [tuple(d) for d in self._data], self.dup.snapshot(), self._req_id)
