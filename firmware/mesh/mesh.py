# The mesh protocol policy (default for Node): hellos with two-hop
# neighbourhood and link quality, relay (MPR) selection, batched and
# aggregated dissemination of readings, Babel-style routes learnt from the
# readings themselves, routed request/reply, anti-entropy repair.
# Same contract with Node as flood.py (decode/handle/on_publish/request/
# reply/tick/next_deadline/send_done/snapshot). See docs/protocol.md.
from micropython import const

from .antientropy import AntiEntropy
from .frames import (MAX_READING, T_HELLO, T_PULL, decode_hello, decode_pull,
                     decode_readings_items, encode_readings_items, item_size)
from .hello import LinkState
from .routes import INFINITY, RouteTable
from .store import raw_key, raw_newer
from .unicast import BROADCAST, Unicast
from .wire import (HEADER_LEN, MAX_FRAME, MAX_FRAME_V2, T_BEACON, T_DATA, T_READINGS, TAG_LEN,
                   FrameError, decode_beacon)

_ROUTE_COST_MAX = const(48)  # no route through a link worse than ETX 6


class PartServices:
    """The narrow interface between MeshPolicy and the parts it is made of
    (Unicast, AntiEntropy): the policy's actions they may ask for, and the
    route table. The parts keep this, never the policy, so what they depend
    on is this list; the node (its id, config, tables, counters, events) they
    use through its public attributes."""

    def __init__(self, policy):
        self.send = policy.send                  # (dst mac, ftype, payload) -> frames
        self.jitter = policy.jitter              # -> a relay jitter in ms
        self.next_hop = policy.next_hop          # dst id -> the Neighbour to send through, or None
        self.link_failed = policy.link_failed    # (mac, now_ms): the MAC gave up on that neighbour
        self.push_all = policy.push_all          # mac -> frames carrying our whole table to it
        self.queue_repair = policy.queue_repair  # (origin, now_ms, asked id or None): answer a pull
        self.routes = policy.routes              # RouteTable: next hop and metric per origin


class MeshPolicy:
    BROADCAST = BROADCAST
    max_reading = MAX_READING   # Node.publish refuses larger encoded readings

    def __init__(self, node, now_ms):
        self.node = node
        cfg = node.config
        self.cfg = cfg
        self.routes = RouteTable(cfg.readings_max + 1, node.neighbours)
        self.parts = parts = PartServices(self)
        self.unicast = Unicast(node, parts, now_ms)
        self.ae = AntiEntropy(node, parts, now_ms)
        self.links = LinkState(node, self.send, self.ae, now_ms)
        self.ae.hello_out = self.links.said_hello
        self._batch = {}            # origin -> [hops, is_repair]
        self._batch_at = None
        self._v1_lost_ms = None     # when a neighbour that takes only v1 frames was last dropped
        node.neighbours.on_change = self._neighbour_change
        node.neighbours.on_rejoin = self._neighbour_rejoin
        node.neighbours.on_silent = self.links.silent
        node.neighbours.on_admit = self._neighbour_admitted
        self._decoders = {T_BEACON: decode_beacon, T_READINGS: decode_readings_items,
                          T_DATA: self.unicast.decode, T_HELLO: decode_hello, T_PULL: decode_pull}
        self._plugged = {}          # frame type -> a part plugged in later (mesh/ota.py)

    def plug(self, ftype, part):
        """Add a part that owns frame type ftype; it has decode(payload),
        handle(sender, message, now_ms), tick(now_ms) and next_deadline()."""
        self._decoders[ftype] = part.decode
        self._plugged[ftype] = part

    @property
    def relays(self):
        """True if we rebroadcast the readings we receive (mesh/relays.py)."""
        return self.links.relays_all

    # ------------------------------------------------------------ receive

    def decode(self, ftype, payload):
        dec = self._decoders.get(ftype)
        if dec is None:
            raise FrameError("type")
        return dec(payload)

    def handle(self, ftype, sender, message, now_ms):
        if ftype == T_READINGS:
            return self._on_readings(sender, message, now_ms)
        if ftype == T_HELLO:
            self.links.on_hello(sender, message, now_ms)
            return []
        if ftype == T_DATA:
            return self.unicast.handle(sender, message, now_ms)
        if ftype == T_PULL:
            return self.ae.on_pull(sender, message[0], message[1], message[2], now_ms)
        part = self._plugged.get(ftype)
        if part is not None:
            return part.handle(sender, message, now_ms)
        n = self.node.neighbours.get(sender)   # legacy name-only beacon
        if n is not None:
            n.name = message
        return []

    def _on_readings(self, sender, items, now_ms):
        node = self.node
        n = node.neighbours.get(sender)
        cost = n.cost() if n is not None else INFINITY
        # Relay when our neighbourhood says we must (mesh/relays.py: the same
        # for every origin); for a neighbour whose hello we have not heard
        # (our decision cannot have weighed whom it reaches) or whose hello
        # lists nobody but us (LinkState.carries_alone); for everything
        # while the neighbourhood forms after our boot (hellos need a few
        # rounds to tell it); and for a while after we pushed our table to a
        # new member. A sender our full table does not track is no neighbour
        # of ours to weigh: it rides on the decision.
        ae = self.ae
        relay = self.links.relays_all or (n is not None and (not n.hello or self.links.carries_alone(n))) \
            or now_ms - ae.boot_ms < self.cfg.startup_flood_ms \
            or (sender == ae.sync_from and now_ms < ae.sync_until) or now_ms < ae.push_until
        limit = self.cfg.hop_limit
        canonical = node.readings.canonical   # one id object per origin in every table
        held = node.readings.raw
        for raw, r, hops, metric in items:
            origin = canonical(r.origin)
            if origin == node.id:
                continue
            if cost <= _ROUTE_COST_MAX:
                self.routes.update(origin, r.boot, r.seq, metric, sender, cost)
            old = held.get(origin)
            if old is not None and not raw_newer(r.boot, r.seq, *raw_key(old)):
                # a copy of what we hold (most items in a busy mesh): the
                # store would refuse it by this same test
                self._overheard(origin, old, r)
            elif node.store_raw(r, raw, now_ms):
                self.ae.arrived(origin, r, old, now_ms)
                # A known origin is back with a new boot counter: news every
                # node must hear at once, so it is flooded (every node relays
                # it once, after a short jitter instead of a batch window).
                reboot = old is not None and raw_key(old)[0] != r.boot
                if (relay or reboot) and hops + 1 < limit:
                    self._queue(origin, hops + 1, False, now_ms, reboot)
            else:
                self._overheard(origin, old, r)
        return []

    def _overheard(self, origin, old, r):
        """A copy of a reading we hold: maybe our pending send is redundant."""
        p = self._batch.get(origin)
        if p is None or old is None or raw_newer(*(raw_key(old) + (r.boot, r.seq))):
            return
        p[2] += 1
        # A repair someone else already sent, or a relay heard `relay_suppress`
        # times (counter-based suppression, Tseng et al. 2002): drop ours.
        c = self.cfg.relay_suppress
        if p[1] or (c and p[2] >= c):
            del self._batch[origin]

    def _neighbour_change(self, n, up):
        self.links.dirty = True
        now = self.node.now_ms
        nid = n.id
        if up:
            if not self.ae.synced:
                self.ae.neighbour_up(nid, now)    # we just booted
        else:
            self.links.forget(nid)
            if n.max_frame < self.cfg.max_frame:
                self._v1_lost_ms = now
            if n.stable:      # we listed it: who counts on that must hear
                self.links.reset(now)
            self.routes.drop_via(n.slot)

    def _neighbour_admitted(self, n):
        # a good, steady link (not the first frame of a fringe one): list it
        # and let it learn of us soon
        now = self.node.now_ms
        self.links.dirty = True
        self.links.reset(now)
        if now - self.ae.boot_ms >= self.cfg.startup_flood_ms and self.ae.overdue(n.id, now):
            # a stranger (a partition healed, it moved in): swap tables, over
            # a link good enough to carry a whole table (the first frame of a
            # fringe neighbour across a healed cut once took the sync, whose
            # push was lost, and the rate limit kept the good link from it)
            self.ae.neighbour_up(n.id, now)

    def _neighbour_rejoin(self, nid):
        # Silent far longer than usual, now back: we were probably cut apart
        # (partition, outage); swap tables with it.
        now = self.node.now_ms
        if now - self.ae.boot_ms >= self.cfg.startup_flood_ms:
            self.ae.neighbour_up(nid, now)

    def forget(self, origin):
        """origin's reading was dropped (evicted or forgotten): so is all we keep for it."""
        self.routes.forget(origin)
        self.ae.forget(origin)
        self._batch.pop(origin, None)

    def link_failed(self, mac, now_ms):
        for n in list(self.node.neighbours.values()):
            if n.mac == mac:
                self.node.neighbours.drop(n.id)

    # ------------------------------------------------------------ dissemination

    def _queue(self, origin, hops, repair, now_ms, urgent=False):
        p = self._batch.get(origin)
        if p is None:
            self._batch[origin] = [hops, repair, 1]   # fewest hops, only a repair, copies heard
        else:
            p[0] = min(p[0], hops)
            p[1] = p[1] and repair
        if urgent:
            # every neighbour relays it: spread them over a quarter batch
            # window, or hidden terminals collide and some node hears none
            due = now_ms + 1 + self.node.rng.below(self.cfg.batch_ms // 4 + 1)
            if self._batch_at is None or due < self._batch_at:
                self._batch_at = due
        elif self._batch_at is None:
            b = self._window()
            self._batch_at = now_ms + (1 if repair else b // 2) + self.node.rng.below(b // 2 + 1)

    def _window(self):
        """How long a relay waits for more readings to share its frame:
        batch_ms while the mesh publishes at least one reading per window
        (origins held / their interval), else a quarter of it, still long
        enough to spread relays and hear some copies first. Waiting for
        readings that will not come only adds latency (and late arrivals
        draw pulls)."""
        b = self.cfg.batch_ms
        ival = self.ae.interval
        if ival is not None and len(self.node.readings) * b < ival:
            return b // 4
        return b

    def queue_repair(self, origin, now_ms, asked):
        """A neighbour lacks origin's reading. Asked by name: answer at once;
        otherwise after a random delay (longer when another was named),
        unless someone answers first (SRM-style suppression)."""
        if origin in self._batch:
            return
        self._batch[origin] = [0, True, 1]
        b = self.cfg.batch_ms
        rng = self.node.rng
        if asked == self.node.id:
            due = now_ms + 1 + rng.below(20)
        elif asked is None:
            due = now_ms + 1 + rng.below(b // 2 + 1)
        else:
            due = now_ms + b // 2 + rng.below(b + 1)
        if self._batch_at is None or due < self._batch_at:
            self._batch_at = due

    def on_publish(self, reading, now_ms):
        # Our own reading goes at once, taking whatever relays are pending along.
        self._queue(self.node.id, 0, False, now_ms)
        return self._flush(now_ms)

    def _flush(self, now_ms):
        self._batch_at = None
        batch, self._batch = self._batch, {}
        return self._frames(BROADCAST, [(o, p[0]) for o, p in sorted(batch.items())])

    def push_all(self, mac):
        """Answer a full-sync pull: our whole table, unicast to the puller."""
        return self._frames(mac, [(o, 0) for o in sorted(self.node.readings.raw)])

    def frame_limit(self, dst):
        """The largest frame every intended receiver of a frame to dst takes:
        our own radio's limit and, for each receiver, what its hello said (v1
        until it says more). A broadcast must fit every neighbour, and also
        any v1 node that may be listening unseen (_v1_may_listen); with no
        neighbour known nothing is assumed."""
        limit = self.cfg.max_frame
        if limit <= MAX_FRAME:
            return limit
        if dst == BROADCAST and self._v1_may_listen():
            return MAX_FRAME
        receivers = [n for n in self.node.neighbours.values() if dst == BROADCAST or n.mac == dst]
        if not receivers:
            return MAX_FRAME
        for n in receivers:
            limit = min(limit, n.max_frame)
        return limit

    def _v1_may_listen(self):
        """A v1 node may be in range though not in our table: while the
        neighbourhood forms after our boot (nodes powered on together say
        their hellos in any order), and for a failure time after a v1
        neighbour was dropped (a reboot, a failed unicast: it is back before
        we hear it). A broadcast it cannot take is lost to it entirely."""
        now = self.node.now_ms
        if now - self.ae.boot_ms < self.cfg.startup_flood_ms:
            return True
        lost = self._v1_lost_ms
        return lost is not None and now - lost < self.node.neighbours.timeout_ms

    def _frames(self, dst, entries):
        store = self.node.readings.raw
        room = self.frame_limit(dst) - HEADER_LEN - TAG_LEN
        out, raws, hops, metrics, size = [], [], [], [], 1
        for origin, h in entries:
            raw = store.get(origin)
            if raw is None:
                continue
            n = item_size(raw)
            if raws and (size + n > room or len(raws) == 255):
                out += self.send(dst, T_READINGS, encode_readings_items(raws, hops, metrics))
                raws, hops, metrics, size = [], [], [], 1
            raws.append(raw)
            hops.append(h)
            if origin == self.node.id:
                metrics.append(0)
            else:
                metrics.append(self.routes.advertised(origin, *raw_key(raw)))
            size += n
        if raws:
            out += self.send(dst, T_READINGS, encode_readings_items(raws, hops, metrics))
        return out

    # ------------------------------------------------------------ local API

    def request(self, dst, body, now_ms):
        return self.unicast.request(dst, body, now_ms)

    def reply(self, dst, req_id, body, now_ms):
        return self.unicast.reply(dst, req_id, body, now_ms)

    def send_done(self, dst_mac, ok, now_ms):
        if self.links.probe_done(dst_mac, ok, now_ms):
            return []
        if ok:          # its MAC acked: alive (ESP-NOW: the MAC is the id)
            self.node.neighbours.touch(dst_mac, now_ms)
        return self.unicast.send_done(dst_mac, ok, now_ms)

    def next_hop(self, dst):
        nbrs = self.node.neighbours
        r = self.routes.get(dst)
        if r is not None:
            n = nbrs.get(r[0])
            if n is not None:
                return n
        n = nbrs.get(dst)
        return n if n is not None and n.cost() < INFINITY else None

    # ------------------------------------------------------------ timers

    def tick(self, now_ms):
        out = self.links.tick(now_ms, self.unicast.busy)
        if self._batch_at is not None and now_ms >= self._batch_at:
            out += self._flush(now_ms)
        out += self.unicast.tick(now_ms)
        out += self.ae.tick(now_ms)
        for part in self._plugged.values():
            out += part.tick(now_ms)
        return out

    def next_deadline(self):
        d = self.links.next_deadline(self.node.now_ms)
        for t in (self._batch_at, self.unicast.next_deadline(), self.ae.next_deadline()):
            if t is not None and t < d:
                d = t
        for part in self._plugged.values():
            t = part.next_deadline()
            if t < d:
                d = t
        return d

    # ------------------------------------------------------------ helpers

    def jitter(self):
        return self.node.rng.below(self.cfg.relay_jitter_ms + 1)

    def send(self, dst, ftype, payload):
        frame = self.node.seal(ftype, payload, dst != BROADCAST)
        return [(dst, frame)] if frame is not None else []

    def snapshot(self):
        return (self.links.snapshot(),
                sorted([(k, tuple(v)) for k, v in self._batch.items()]), self._batch_at,
                self.routes.snapshot(), self.unicast.snapshot(), self.ae.snapshot())
