"""Baseline protocols, re-implemented from their published descriptions.

Both carry exactly the frames the mesh core would (same header, same
authentication and encryption, same reading encoding) so a comparison
measures the dissemination algorithm, not the framing. Sources and the
mapping from LoRa to ESP-NOW timing are in docs/baselines.md.

- FloodNode: naive flooding. Every node rebroadcasts each new packet once,
  at once, with a duplicate cache and a hop limit.
- ManagedFloodNode: Meshtastic's managed flood. A node rebroadcasts a new
  packet once after a random delay drawn from a contention window that is
  *smaller* the weaker the packet was received (far nodes go first, as they
  extend coverage most), and cancels if it hears someone else rebroadcast the
  same packet first. Hop limit 7.
"""
import random
import struct
from collections import OrderedDict

from nowmesh.bundle import core

core.load()     # explicit: this runs the firmware's mesh core (`mesh`) on CPython
from mesh import crypto, wire  # noqa: E402
from mesh.replay import ReplayTable  # noqa: E402

BROADCAST = b"\xff" * 6
# The frame type of both baselines: outside the mesh core's types (1-15), so
# a core node rejects a baseline frame as an unknown type.
T_BASELINE = 0x70
_KIND_READING, _KIND_REQUEST, _KIND_REPLY = 1, 2, 3
_HEAD = struct.Struct("<B6sIB")     # kind, origin, packet id, hops left
_ADDR = struct.Struct("<6sH")       # destination, request id
DUP_CACHE = 512
NOISE_DBM = -93.6


class FloodNode:
    """Naive flooding (the classic baseline)."""

    hop_limit = 7

    def __init__(self, mac, name, keys, boot, seed, now_ms, options=None):
        self.mac = mac
        self.name = name
        self.keys = keys
        self.boot = boot
        self.rng = random.Random(seed)
        self.ctr = 0
        self.pid = 0
        self.seq = 0
        self.replay = ReplayTable()
        self.seen = OrderedDict()        # (origin, pid) -> True, bounded FIFO
        self.readings = {}
        self.events = []
        self.stats = {"rx": 0, "tx": 0, "rejected": {}}
        self.pending = []                # [(due_ms, key, frame_payload)] for delayed sends
        self.req_id = 0
        self.outbox = []                 # frames produced while handling a packet

    # -- the Node interface ------------------------------------------------------
    def publish(self, values, now_ms):
        self.seq = (self.seq + 1) & 0xFFFF
        reading = wire.Reading(self.mac, self.boot & 0xFFFF, self.seq, now_ms & 0xFFFFFFFF, values)
        self.readings[self.mac] = reading
        return self._originate(_KIND_READING, wire.encode_reading(reading), now_ms)

    def request(self, dst, payload, now_ms):
        self.req_id = (self.req_id + 1) & 0xFFFF
        body = _ADDR.pack(dst, self.req_id) + payload
        return self.req_id, self._originate(_KIND_REQUEST, body, now_ms)

    def receive(self, frame, src_mac, rssi, now_ms):
        try:
            ftype, sender, boot, ctr, payload = self.keys.open(frame)
            if sender == self.mac:
                raise wire.FrameError("own")
            if ftype != T_BASELINE or len(payload) < _HEAD.size:
                raise wire.FrameError("type" if ftype != T_BASELINE else "malformed")
            if not self.replay.check(sender, boot, ctr):
                raise wire.FrameError("replay")
            kind, origin, pid, hops_left = _HEAD.unpack_from(payload, 0)
            body = payload[_HEAD.size:]
            self._handle(kind, origin, body, hops_left, now_ms)
        except wire.FrameError as exc:
            self._reject(exc.reason)
            return []
        self.replay.accept(sender, boot, ctr)
        self.stats["rx"] += 1
        return self._after_new_packet((origin, pid), payload, hops_left, rssi, now_ms)

    def tick(self, now_ms):
        due = [p for p in self.pending if p[0] <= now_ms]
        self.pending = [p for p in self.pending if p[0] > now_ms]
        return [self._seal(payload) for _due, _key, payload in due]

    def next_deadline(self):
        return min(p[0] for p in self.pending) if self.pending else None

    def send_done(self, dst, ok, now_ms):
        return []

    def pop_events(self):
        events, self.events = self.events, []
        return events

    # -- internals -----------------------------------------------------------------
    def _originate(self, kind, body, now_ms):
        self.pid = (self.pid + 1) & 0xFFFFFFFF
        self._remember((self.mac, self.pid))
        payload = _HEAD.pack(kind, self.mac, self.pid, self.hop_limit) + body
        return [self._seal(payload)]

    def _seal(self, payload):
        self.ctr += 1
        self.stats["tx"] += 1
        return BROADCAST, crypto.seal(self.keys, T_BASELINE, self.mac, self.boot, self.ctr, payload)

    def _reject(self, reason):
        rejected = self.stats["rejected"]
        rejected[reason] = rejected.get(reason, 0) + 1

    def _remember(self, key):
        self.seen[key] = True
        while len(self.seen) > DUP_CACHE:
            self.seen.popitem(last=False)

    def _handle(self, kind, origin, body, hops_left, now_ms):
        """Validate and apply a packet's content (duplicates apply nothing new)."""
        handler = _HANDLERS.get(kind)
        if handler is None:
            raise wire.FrameError("malformed")
        handler(self, origin, body, hops_left, now_ms)

    def _handle_reading(self, origin, body, hops_left, now_ms):
        readings = wire.decode_readings(bytes([1]) + body)
        if len(readings) != 1 or readings[0].origin != origin:
            raise wire.FrameError("malformed")
        reading = readings[0]
        held = self.readings.get(origin)
        if origin != self.mac and (held is None or reading.is_newer_than(held)):
            self.readings[origin] = reading
            self.events.append(("reading", origin, reading.boot, reading.seq, reading.t_ms,
                                reading.values))

    def _handle_request(self, origin, body, hops_left, now_ms):
        if len(body) < _ADDR.size:
            raise wire.FrameError("malformed")
        dst, req_id = _ADDR.unpack_from(body, 0)
        if dst == self.mac and (origin, "req", req_id) not in self.seen:
            self._remember((origin, "req", req_id))
            self.events.append(("request", origin, req_id, bytes(body[_ADDR.size:])))
            reply = _ADDR.pack(origin, req_id) + bytes([self.hop_limit - hops_left + 1]) + b"pong"
            self._queue_now(self._originate(_KIND_REPLY, reply, now_ms))

    def _handle_reply(self, origin, body, hops_left, now_ms):
        if len(body) < _ADDR.size + 1:
            raise wire.FrameError("malformed")
        dst, req_id = _ADDR.unpack_from(body, 0)
        if dst == self.mac and (origin, "rep", req_id) not in self.seen:
            self._remember((origin, "rep", req_id))
            hops = body[_ADDR.size]
            self.events.append(("reply", req_id, origin, bytes(body[_ADDR.size + 1:]), hops))

    def _queue_now(self, frames):
        self.outbox.extend(frames)

    def _after_new_packet(self, key, payload, hops_left, rssi, now_ms):
        out, self.outbox = self.outbox, []
        if key in self.seen:
            self._on_duplicate(key)
            return out
        self._remember(key)
        if hops_left > 1:
            forwarded = bytearray(payload)
            forwarded[_HEAD.size - 1] = hops_left - 1
            out = out + self._schedule_forward(key, bytes(forwarded), rssi, now_ms)
        return out

    def _schedule_forward(self, key, payload, rssi, now_ms):
        return [self._seal(payload)]

    def _on_duplicate(self, key):
        pass


class ManagedFloodNode(FloodNode):
    """Meshtastic's managed flood, timed for ESP-NOW (see docs/baselines.md)."""

    CW_MIN, CW_MAX = 2, 7
    SNR_MIN, SNR_MAX = -4.0, 26.0     # ESP-NOW's usable SNR span, 30 dB like LoRa's

    def __init__(self, mac, name, keys, boot, seed, now_ms, options=None):
        super().__init__(mac, name, keys, boot, seed, now_ms, options)
        self.slot_ms = (options or {}).get("slot_ms", 2.0)

    def _contention_window(self, rssi):
        snr = rssi - NOISE_DBM
        frac = (min(max(snr, self.SNR_MIN), self.SNR_MAX) - self.SNR_MIN) / (self.SNR_MAX - self.SNR_MIN)
        return int(round(self.CW_MIN + frac * (self.CW_MAX - self.CW_MIN)))

    def _schedule_forward(self, key, payload, rssi, now_ms):
        cw = self._contention_window(rssi)
        slots = 2 * self.CW_MAX + self.rng.randrange(0, 2 ** cw)
        due = now_ms + int(slots * self.slot_ms)
        self.pending.append((due, key, payload))
        return []

    def _on_duplicate(self, key):
        # Someone else rebroadcast it first: our copy would add little coverage.
        self.pending = [p for p in self.pending if p[1] != key]


_HANDLERS = {
    _KIND_READING: FloodNode._handle_reading,
    _KIND_REQUEST: FloodNode._handle_request,
    _KIND_REPLY: FloodNode._handle_reply,
}
