# Routed request/reply (T_DATA): hop-by-hop unicast along RouteTable next
# hops, MAC-ACK feedback through send_done, end-to-end retry, fragments.
#
# - A packet goes to the next hop of its destination as a unicast frame, so
#   the MAC acknowledges (and retries) every hop. A hop that still fails is
#   taken as a dead neighbour: it is dropped (its routes withdrawn) and the
#   packet is re-sent as a flooded broadcast (KIND_FLOODED set: a new packet
#   key, so duplicate filters and loop detection see a distinct packet).
# - No route: flooded at once, each node rebroadcasting once after jitter.
# - The requester retries after e2e_timeout_ms (attempt number in the kind
#   byte, again a distinct packet); the last attempt is flooded.
# - Hop limit in every packet; duplicates dropped by packet key.
import struct
from micropython import const

from .dedup import DupCache
from .fragments import Reassembly, split
from .wire import T_DATA
from .frames import (KIND_ATTEMPT_SHIFT, KIND_FLOODED, KIND_REPLY, decode_routed,
                     encode_routed)

BROADCAST = b"\xff\xff\xff\xff\xff\xff"
_PING = b"ping"
_PONG = b"pong"
_ATTEMPTS = const(3)


def _key(kind, origin, dst, req_id, frag):
    return bytes((kind,)) + origin + dst + struct.pack("<HB", req_id, frag)


class Unicast:
    def __init__(self, node, parts, now_ms):
        self.p = parts          # PartServices: send, jitter, next_hop, link_failed
        cfg = node.config
        self.node = node
        self.limit = cfg.hop_limit
        self.e2e_ms = cfg.e2e_timeout_ms
        self.queue_max = cfg.relay_queue_max
        self.dup = DupCache(cfg.dup_cache_max, cfg.dup_ttl_ms)
        self.frags = Reassembly(cfg.frag_buffers, cfg.frag_timeout_ms, node.count)
        self._req_id = node.rng.below(0x10000)  # random start: ids differ across reboots
        self._pending = {}   # req_id -> [dst, body, due_ms, attempt]
        self._inflight = {}  # next-hop mac -> [payload, ...] awaiting send_done, FIFO
        self._flood = []     # [due_ms, payload] flooded packets to rebroadcast

    def decode(self, payload):
        return decode_routed(payload)

    # ------------------------------------------------------------ local

    def request(self, dst, body, now_ms):
        pieces = split(body)      # ValueError before any state change
        if len(self._pending) >= self.queue_max:
            raise ValueError("too many requests in flight")
        self._req_id = (self._req_id + 1) & 0xFFFF
        self._pending[self._req_id] = [dst, bytes(body), now_ms + self.e2e_ms, 0]
        return self._req_id, self._originate(0, dst, self._req_id, pieces, now_ms)

    def reply(self, dst, req_id, body, now_ms, attempt_bits=0):
        return self._originate(KIND_REPLY | attempt_bits, dst, req_id, split(body), now_ms)

    def _originate(self, kind, dst, req_id, pieces, now_ms):
        out = []
        me = self.node.id
        for frag, piece in pieces:
            self.dup.add(_key(kind, me, dst, req_id, frag), now_ms)
            out += self._route([kind, me, dst, req_id, 0, self.limit, frag, piece], now_ms)
        return out

    # ------------------------------------------------------------ receive

    def handle(self, sender, msg, now_ms):
        kind, origin, dst, req_id, hops, limit, frag, body = msg
        key = _key(kind, origin, dst, req_id, frag)
        if origin == self.node.id or self.dup.seen(key, now_ms):
            return []
        self.dup.add(key, now_ms)
        if dst == self.node.id:
            return self._deliver(kind, origin, req_id, hops, frag, body, now_ms)
        if hops + 1 >= limit:
            self.node.count("hop_limit")
            return []
        msg[4] = hops + 1
        if kind & KIND_FLOODED:
            self._queue_flood(now_ms + self.p.jitter(), msg)
            return []
        return self._route(msg, now_ms)

    def _deliver(self, kind, origin, req_id, hops, frag, body, now_ms):
        body = self.frags.add(bytes((kind & KIND_REPLY,)) + origin + struct.pack("<H", req_id),
                              frag, body, now_ms)
        if body is None:
            return []
        node = self.node
        if kind & KIND_REPLY:
            p = self._pending.get(req_id)
            if p is not None and p[0] == origin:
                del self._pending[req_id]
                node.emit(("reply", req_id, origin, body, hops + 1))
            return []
        if body == _PING:
            pkey = b"p" + origin + struct.pack("<HB", req_id, kind & 0x30)
            if self.dup.seen(pkey, now_ms):   # same attempt over another path: answered
                return []
            self.dup.add(pkey, now_ms)
            return self.reply(origin, req_id, _PONG, now_ms, kind & 0x30)
        ekey = b"q" + origin + struct.pack("<H", req_id)
        if not self.dup.seen(ekey, now_ms):   # retried attempts: one event
            self.dup.add(ekey, now_ms)
            node.emit(("request", origin, req_id, body))
        return []

    # ------------------------------------------------------------ forwarding

    def _route(self, msg, now_ms):
        nh = None if msg[0] & KIND_FLOODED else self.p.next_hop(msg[2])
        if nh is None:
            msg[0] |= KIND_FLOODED
            return self.p.send(BROADCAST, T_DATA, encode_routed(*msg))
        payload = encode_routed(*msg)
        q = self._inflight.setdefault(nh.mac, [])
        if len(q) >= self.queue_max:
            q.pop(0)
        q.append(payload)
        return self.p.send(nh.mac, T_DATA, payload)

    def _queue_flood(self, due, msg):
        if len(self._flood) >= self.queue_max:
            self.node.count("relay_dropped")
            return
        self._flood.append([due, encode_routed(*msg)])

    def busy(self, mac):
        """Whether a routed frame to mac awaits its MAC outcome."""
        return mac in self._inflight

    def send_done(self, dst_mac, ok, now_ms):
        q = self._inflight.get(dst_mac)
        if not q:
            return []
        payload = q.pop(0)
        if not q:
            del self._inflight[dst_mac]
        if ok:
            return []
        self.node.count("route_fail")
        self.p.link_failed(dst_mac, now_ms)
        msg = decode_routed(payload)
        msg[0] |= KIND_FLOODED       # new packet key: a distinct forwarding attempt
        return self.p.send(BROADCAST, T_DATA, encode_routed(*msg))

    # ------------------------------------------------------------ timers

    def tick(self, now_ms):
        out = []
        keep = []
        for item in self._flood:
            if item[0] <= now_ms:
                out += self.p.send(BROADCAST, T_DATA, item[1])
            else:
                keep.append(item)
        self._flood = keep
        for req_id in [r for r, p in self._pending.items() if p[2] <= now_ms]:
            out += self._retry(req_id, now_ms)
        self.frags.expire(now_ms)
        return out

    def _retry(self, req_id, now_ms):
        p = self._pending[req_id]
        p[3] += 1
        if p[3] >= _ATTEMPTS:
            del self._pending[req_id]
            self.node.count("req_timeout")
            return []
        p[2] = now_ms + self.e2e_ms * (p[3] + 1)
        kind = p[3] << KIND_ATTEMPT_SHIFT
        if p[3] == _ATTEMPTS - 1:
            kind |= KIND_FLOODED
        return self._originate(kind, p[0], req_id, split(p[1]), now_ms)

    def next_deadline(self):
        d = None
        for item in self._flood:
            d = item[0] if d is None else min(d, item[0])
        for p in self._pending.values():
            d = p[2] if d is None else min(d, p[2])
        f = self.frags.next_deadline()
        if f is not None:
            d = f if d is None else min(d, f)
        return d

    def snapshot(self):
        return (self._req_id, sorted([(k, tuple(v)) for k, v in self._pending.items()]),
                sorted([(k, tuple(v)) for k, v in self._inflight.items()]),
                [tuple(f) for f in self._flood], self.dup.snapshot(), self.frags.snapshot())
