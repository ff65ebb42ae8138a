# The mesh node, sans-I/O: fed frames, readings and the time; returns frames
# to send as (dst_mac, bytes) and events to drain. No clocks, radios or
# randomness of its own, so many nodes can live in one process (h11 style).
#
# Receive pipeline (order matters for security): authenticate and decrypt,
# refuse our own id, check the replay window, decode the payload completely;
# only then accept into the replay window and change any state. Anything that
# fails is counted in stats['rejected'][reason] and changes nothing else.
# A neighbour is addressed by its authenticated id (on ESP-NOW, its MAC), never
# by the unauthenticated source MAC of a frame.
from .config import NodeConfig
from .crypto import Keys, seal
from .unicast import BROADCAST
from .mesh import MeshPolicy
from .neighbours import NeighbourTable
from .store import ReadingStore, raw_newer
from .prng import Rng
from .replay import ReplayTable
from .routes import estimate_hops
from .wire import FrameError, Reading, encode_reading

# Two frame-counter streams per boot: broadcast frames count up from 0,
# unicast frames from UNICAST_STREAM. Neighbours measure how well they hear us
# from gaps in the broadcast stream alone: ESP-NOW filters unicast by
# destination, so our unicasts to one neighbour are gaps nobody else can hear.
UNICAST_STREAM = 0x80000000
_CTR_LIMIT = 0x7FFFFFFF  # a stream must never wrap within a boot (CTR nonce)


class Node:
    def __init__(self, config, boot_counter, seed, now_ms, policy=MeshPolicy, keys=None):
        if isinstance(config, dict):
            config = NodeConfig.from_dict(config)
        self.config = config
        self.id = config.id
        self.name = config.name
        self.boot = boot_counter & 0xFFFFFFFF
        self.rng = Rng(seed)
        # keys: a host may share one Keys (or a subclass) between nodes of a
        # simulation; it must have been derived from config.key.
        if keys is not None and getattr(keys, "network_key", None) != config.key:
            raise ValueError("keys were not derived from config.key")
        self.keys = keys if keys is not None else Keys(config.key)
        self.replay = ReplayTable(config.replay_max, config.replay_window)
        min_timeout = config.neighbour_min_timeout_ms if policy is MeshPolicy else None
        self.neighbours = NeighbourTable(config.neighbours_max, config.neighbour_timeout_ms, self.emit,
                                         min_timeout)
        self.readings = ReadingStore()  # origin id -> newest reading, encoded (ours included)
        self.now_ms = now_ms
        # origin id -> ms its reading was last stored: eviction here; the policy's
        # anti-entropy reads it (stale, forgotten, expected arrivals), never writes it
        self.heard = {}
        self.stats = {"rx": 0, "tx": 0, "rejected": {}}
        self._events = []
        self._ctr = 0       # broadcast stream
        self._uctr = 0      # unicast stream (UNICAST_STREAM | _uctr on the wire)
        self._seq = 0
        self.policy = policy(self, now_ms)

    # ------------------------------------------------------------ inputs

    def receive(self, frame, src_mac, rssi, now_ms):
        """A frame heard from src_mac -> frames to send now."""
        self.stats["rx"] += 1
        self.now_ms = now_ms
        try:
            ftype, sender, boot, ctr, payload = self.keys.open(frame)
            if sender == self.id:
                raise FrameError("own")
            # each stream has its own replay window
            unicast = ctr >= UNICAST_STREAM
            window = sender + b"u" if unicast else sender
            if not self.replay.check(window, boot, ctr):
                raise FrameError("replay")
            message = self.policy.decode(ftype, payload)
            if src_mac != sender:
                # The sealer is always the transmitter (relays re-seal), so an
                # authentic frame from another radio is someone replaying it.
                raise FrameError("mac")
        except FrameError as e:
            self._reject(e.reason)
            return []
        self.replay.accept(window, boot, ctr)
        if unicast:     # a sign of life, but no probe of the link's delivery ratio
            self.neighbours.heard(sender, rssi, now_ms)
        else:
            self.neighbours.heard(sender, rssi, now_ms, boot, ctr)
        return self.policy.handle(ftype, sender, message, now_ms)

    def publish(self, values, now_ms):
        """Publish our own reading -> frames. Raises ValueError for unencodable values."""
        seq = (self._seq + 1) & 0xFFFF
        r = Reading(self.id, self.boot, seq, now_ms, values)
        raw = encode_reading(r)
        # It must fit one readings frame of the policy's own framing (which
        # knows its per-reading bytes); checked before any change.
        if len(raw) > self.policy.max_reading:
            raise ValueError("reading too large for one frame")
        self._seq = seq
        self.now_ms = now_ms
        self.readings.put(self.id, raw)
        self.heard[self.id] = now_ms
        return self.policy.on_publish(r, now_ms)

    def request(self, dst_id, payload, now_ms):
        """Send an application request (e.g. b"ping") -> (req_id, frames)."""
        dst_id = self._check_dst(dst_id)
        return self.policy.request(dst_id, bytes(payload), now_ms)

    def reply(self, dst_id, req_id, payload, now_ms):
        """Answer a ('request', ...) event the core did not answer itself -> frames."""
        dst_id = self._check_dst(dst_id)
        return self.policy.reply(dst_id, req_id & 0xFFFF, bytes(payload), now_ms)

    def tick(self, now_ms):
        """Run timers due at now_ms -> frames."""
        self.now_ms = now_ms
        self.neighbours.expire(now_ms)
        return self.policy.tick(now_ms)

    def next_deadline(self):
        a = self.policy.next_deadline()
        b = self.neighbours.next_deadline()
        if a is None:
            return b
        return a if b is None else min(a, b)

    def send_done(self, dst_mac, ok, now_ms):
        self.count("tx_ok" if ok else "tx_fail")
        return self.policy.send_done(bytes(dst_mac), ok, now_ms)

    def pop_events(self):
        ev = self._events
        self._events = []
        return ev

    # ------------------------------------------------------------ services for the policy

    def seal(self, ftype, payload, unicast=False):
        """Seal a frame from us (from the unicast counter stream if it goes
        to one neighbour), or None once that stream is exhausted."""
        n = self._uctr if unicast else self._ctr
        if n >= _CTR_LIMIT:
            # Reusing a counter would reuse a CTR nonce: stay silent until reboot.
            self.count("ctr_exhausted")
            return None
        ctr = UNICAST_STREAM | n if unicast else n
        frame = seal(self.keys, ftype, self.id, self.boot, ctr, payload, self.config.encrypt)
        if unicast:
            self._uctr += 1
        else:
            self._ctr += 1
        self.stats["tx"] += 1
        return frame

    @property
    def broadcasts(self):
        """Broadcast frames sealed this boot (each one a sign of life to every neighbour)."""
        return self._ctr

    def others_held(self):
        """How many other nodes' readings we hold (ours is not counted,
        published yet or not)."""
        return len(self.readings) - (1 if self.id in self.readings else 0)

    def store_reading(self, r, now_ms):
        """Keep r if it is newer than what we hold for its origin. True if stored."""
        return self.store_raw(r, encode_reading(r), now_ms)

    def store_raw(self, r, raw, now_ms):
        """Keep reading r (raw: its encoded bytes) if newer than what we hold."""
        if r.origin == self.id:
            return False
        old = self.readings.key_of(r.origin)
        if old is not None and not raw_newer(r.boot, r.seq, old[0], old[1]):
            return False
        # readings_max bounds other nodes' readings; our own is kept on top.
        if old is None and self.others_held() >= self.config.readings_max:
            self._evict_reading()
        self.readings.put(r.origin, bytes(raw))
        self.heard[r.origin] = now_ms
        self.emit(("reading", r.origin, r.boot, r.seq, r.t_ms, r.values))
        return True

    def forget_origin(self, origin):
        """Drop origin's reading and every table entry the policy keeps for it
        (routes, repair timers, pending relays): what bounds them all."""
        self.readings.pop(origin)
        self.heard.pop(origin, None)
        forget = getattr(self.policy, "forget", None)
        if forget is not None:
            forget(origin)

    def _evict_reading(self):
        oldest = None
        for origin, t in self.heard.items():
            if origin != self.id and (oldest is None or t < self.heard[oldest]):
                oldest = origin
        if oldest is not None:
            self.forget_origin(oldest)

    def emit(self, event):
        if len(self._events) >= self.config.events_max:
            self._events.pop(0)
            self.count("events_dropped")
        self._events.append(event)

    def count(self, name):
        self.stats[name] = self.stats.get(name, 0) + 1

    # ------------------------------------------------------------ internals

    def _reject(self, reason):
        rej = self.stats["rejected"]
        rej[reason] = rej.get(reason, 0) + 1
        self.emit(("rejected", reason))

    def _check_dst(self, dst_id):
        dst_id = bytes(dst_id)
        if len(dst_id) != 6 or dst_id == BROADCAST or dst_id == self.id:
            raise ValueError("dst must be another node's 6-byte id")
        return dst_id

    def route_list(self):
        """[(dst id, next hop id, metric, hops)] for the console's `routes`;
        hops is routes.estimate_hops's estimate. Empty for policies without routes."""
        routes = getattr(self.policy, "routes", None)
        if routes is None:
            return []
        out = []
        for dst, nh, metric in routes.entries():
            out.append((dst, nh, metric, estimate_hops(metric, nh == dst)))
        return out

    def snapshot(self):
        """Comparable copy of all protocol state (not stats or events)."""
        readings = sorted(self.readings.raw.items())
        return (readings, sorted(self.heard.items()), self.replay.snapshot(),
                self.neighbours.snapshot(), self.policy.snapshot(),
                self._ctr, self._uctr, self._seq, self.rng.state())

