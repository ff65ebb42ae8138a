# Repair of what loss dropped, catch-up after boot and partitions, and
# stale/forgotten origins.
#
# - Expected arrivals (NACK-style repair, as in SRM, Floyd et al. 1997):
#   origins publish periodically; from two consecutive readings a node learns
#   an origin's interval and expects the next one about one interval after
#   the last arrival. When it is pull_grace_ms late, the node broadcasts a
#   T_PULL listing what it holds for every overdue origin; any neighbour
#   holding something newer answers after a short random delay, unless it
#   hears another neighbour answer first (suppression). Two tries, then the
#   node waits for the next arrival (the origin may be dead or cut off).
# - Full sync (anti-entropy, Demers et al. 1987, push on request): a node that
#   boots, and any node that meets a new neighbour after start-up (a healed
#   partition, a revived node), asks that neighbour for its whole table with
#   a unicast T_PULL(FULL); the answer is unicast (MAC-acknowledged). Rate
#   limited by sync_holdoff_ms.
# Checks are timed in 256 ms slots, one per origin (origin -> slot): O(1) per
# reading; the origins are scanned when the earliest slot is due, not per frame.
import struct
from micropython import const

from .frames import PULL_FULL, T_PULL, encode_pull, max_pull_entries
from .store import raw_newer
from .unicast import BROADCAST

_ANYONE = b"\x00" * 6

_SLOT_SHIFT = const(8)
_TRIES = const(4)         # pulls per missing reading before waiting for the next
_RETRY_MS = const(1000)   # between them: the named answer comes in 20 ms, others' < 1 s
_SYNC_RETRY_MS = const(1500)
_BOOT_SYNC_WAIT_MS = const(300)
# The boot sync waits for our first hello to be out: the answer is sized by
# the frames our hello says we take (a responder that has not heard it since
# it last lost us answers in 250-byte frames), and it is due within imin.
_HELLO_WAIT_MS = const(50)
# After answering a full sync, relay every new reading this long: what was in
# flight when we pushed our table reaches the new member too, before relay
# sets (a few hello rounds) cover it. About a mesh diameter of batching.
_SYNC_PUSH_MS = const(5000)
# A node that booted into a running mesh (a neighbour has sent this many
# frames this boot) syncs once more this long after the first: readings in flight when
# the partner pushed its table have reached the partner by then, and a new
# node cannot pull them (it knows no origin's interval yet). At a cold start
# (everyone booting) the counters are low and nobody does this.
_FOLLOW_CTR = const(64)
_FOLLOW_MS = const(3000)
# Staleness follows the reading rate: an origin is stale after two of its
# intervals and forgotten after four, when that is longer than stale_ms /
# forget_ms (set for a reading every 30 s). With a reading every 900 s and
# forget_ms 600 s, every origin was forgotten before its next reading: no
# interval was ever learnt (no repair by pulls), and each table shrank and
# grew again, so hellos showed neighbours holding more origins and drew
# full-table syncs (1349 in 9000 s on 30 nodes, 40 % of the airtime).
_STALE_IVALS = const(2)
_FORGET_IVALS = const(4)


class AntiEntropy:
    def __init__(self, node, parts, now_ms):
        self.p = parts          # PartServices: send, jitter, push_all, queue_repair, routes
        self.node = node
        cfg = node.config
        self.grace = cfg.pull_grace_ms
        self.holdoff = cfg.sync_holdoff_ms
        self.stale_ms = cfg.stale_ms
        self.forget_ms = cfg.forget_ms
        self.boot_ms = now_ms
        self._ival = {}      # origin -> publication interval (ms)
        self._tries = {}     # origin -> pulls sent since its last arrival (< 0: it came that many graces late)
        # origin -> the 256 ms slot of its next check. One per origin (a newer
        # reading moves it): a flood of newer readings once left one entry
        # each, due up to an hour later. Scanned when the earliest slot is due.
        self._wheel = {}
        self._wheel_min = None
        self._pull = {}      # origins to pull at _pull_at
        self._pull_at = None
        self._sync_to = None     # neighbour id to ask for a full table
        self._sync_at = None
        self._last_sync = None
        self._synced = False
        self.hello_out = None    # -> True once our first hello is sent (set by MeshPolicy)
        self._stale = {}
        self._sweep_at = now_ms + 5000
        self._recheck_at = None
        self._retried = False   # the boot sync was retried once (see tick)
        self._follow_at = None
        # one more full sync when the start-up flood ends: it fills what the
        # first, unrepairable readings lost (no interval is known for them)
        self._settle_at = now_ms + cfg.startup_flood_ms if cfg.settle_sync else None
        self.sync_from = None
        self.sync_until = now_ms     # relay what sync_from sends until then (see _send_sync)
        self.push_until = now_ms     # relay everything until then (see on_pull)
        self._guess = None   # the last interval learnt, for origins heard once

    @property
    def interval(self):
        """The last publication interval learnt (ms; origins tend to share
        one), or None before any."""
        return self._guess

    @property
    def synced(self):
        """Whether we asked a neighbour for its whole table since boot."""
        return self._synced

    # ------------------------------------------------------------ arrivals

    def arrived(self, origin, r, old_raw, now_ms):
        """A newer reading from origin was stored (old_raw: the previous one)."""
        d = 0
        if old_raw is not None:
            boot, seq, t = struct.unpack_from("<HHI", old_raw, 6)
            d = (r.seq - seq) & 0xFFFF if boot == r.boot else 0
            if 0 < d < 64:
                ival = ((r.t_ms - t) & 0xFFFFFFFF) // d
                if 500 <= ival <= 3600000:
                    self._ival[origin] = ival
                    if self._guess is None:
                        self._arm_all(origin, ival, now_ms)
                    self._guess = ival   # origins tend to share one interval
        # The very reading we pulled for (the next seq) arrived about
        # _late_ms(tries) after it was expected: expect the next one from when
        # this one was due, not from now, or one repair would make every later
        # check late too. Kept as a negative try count until the next check.
        late = self._tries.pop(origin, 0)
        if d != 1 or late < 0:
            late = 0
        if late:
            self._tries[origin] = -late
        self._stale.pop(origin, None)
        self._pull.pop(origin, None)
        ival = self._ival.get(origin, self._guess)
        if ival is not None:
            self._schedule(origin, now_ms + ival + self.grace - self._late_ms(late))

    def overdue(self, origin, now_ms):
        """Whether origin's next reading is late here: a neighbour that comes
        back within its own interval is no stranger, so a link that merely
        dropped out for a while costs no table sync. Its interval, until
        learnt, is the mesh's usual one, and one we never heard from is late
        once an interval has passed since our boot. Before any interval is
        learnt the mesh is forming and nobody is late: hellos' table sizes
        start the syncs it needs (LinkState.on_hello). Counting every
        neighbour admitted before its first reading came as a stranger cost
        156 whole-table syncs in the first minutes of a 100-node mesh
        reading every 300 s (49.9 -> 46.5 ms per reading over 30 min)."""
        ival = self._ival.get(origin, self._guess)
        if ival is None:
            return False
        return now_ms - self.node.heard.get(origin, self.boot_ms) > ival + self.grace

    def _late_ms(self, tries):
        """How late a reading that needed `tries` pulls came, at least."""
        return 0 if tries <= 0 else self.grace + (tries - 1) * _RETRY_MS

    def _arm_all(self, skip, ival, now_ms):
        """The first interval learnt: expect the origins heard only once so
        far too (their first reading could not be timed), so that a lost
        second reading is pulled instead of waiting for the third."""
        me = self.node.id
        for origin, t in self.node.heard.items():
            if origin != me and origin != skip:
                self._schedule(origin, max(now_ms, t + ival + self.grace))

    def _schedule(self, origin, at_ms):
        slot = at_ms >> _SLOT_SHIFT
        self._wheel[origin] = slot
        if self._wheel_min is None or slot < self._wheel_min:
            self._wheel_min = slot

    def _check_wheel(self, now_ms):
        now_slot = now_ms >> _SLOT_SHIFT
        heard = self.node.heard
        wheel = self._wheel
        # one scan per due slot (not per frame): O(origins held) every 256 ms at most
        for origin in [o for o in wheel if wheel[o] <= now_slot]:
            del wheel[origin]
            ival = self._ival.get(origin, self._guess)
            t = heard.get(origin)
            if ival is None or t is None:
                continue
            tries = self._tries.get(origin, 0)
            if tries > 0:
                due = 0       # our re-check after a pull (an arrival resets tries)
            else:             # 300: slots fire up to 256 ms early; tries < 0: it came late
                due = ival + self.grace - 300 - self._late_ms(-tries)
            if now_ms - t < due:
                continue
            if tries < _TRIES:
                self._tries[origin] = max(0, tries) + 1
                self._pull[origin] = True
                self._schedule(origin, now_ms + _RETRY_MS)
            elif now_ms - t < self._stale_after(origin) // 2:
                # then once an interval for a while: a node that no
                # relay covers well lives on its pulls
                self._pull[origin] = True
                self._schedule(origin, now_ms + ival)
        self._wheel_min = min(wheel.values()) if wheel else None
        if self._pull and self._pull_at is None:
            self._pull_at = now_ms + self.p.jitter()

    def _send_pulls(self, now_ms):
        self._pull_at = None
        store = self.node.readings
        by_responder = {}   # first try: ask our next hop towards the origin by name
        for origin in sorted(self._pull):
            k = store.key_of(origin) or (0, 0)
            nh = None
            if self._tries.get(origin, 0) <= 1:
                r = self.p.routes.get(origin)
                nh = r[0] if r is not None and self.node.neighbours.get(r[0]) else None
            by_responder.setdefault(nh or _ANYONE, []).append((origin, k[0], k[1]))
        self._pull = {}
        out = []
        step = max_pull_entries()
        for responder in sorted(by_responder):
            haves = by_responder[responder]
            for i in range(0, len(haves), step):
                self.node.count("pulls")
                out += self.p.send(BROADCAST, T_PULL, encode_pull(0, haves[i:i + step], responder))
        return out

    # ------------------------------------------------------------ full sync

    def neighbour_up(self, nid, now_ms, holdoff=None):
        if self._sync_at is not None:
            return
        if not self._synced:
            # just booted: give the neighbourhood a moment to be heard, then
            # ask the strongest neighbour (weak links lose long pushes)
            self._sync_to = None
            # jittered: nodes that boot together (a power cut) hear the same
            # first frame, and their pulls to that neighbour would collide
            self._sync_at = now_ms + _BOOT_SYNC_WAIT_MS + self.p.jitter()
            return
        if holdoff is None:
            # a full push costs about one frame per 8 origins: its rate limit
            # grows with the table (sync_holdoff_ms up to 64 origins), or a
            # large mesh, whose tables fill unevenly while it forms, spends
            # its airtime pushing whole tables back and forth
            holdoff = self.holdoff * max(1, len(self.node.readings) // 64)
        if self._last_sync is not None and now_ms - self._last_sync < holdoff:
            return
        self._sync_to = nid
        self._sync_at = now_ms + 20 + self.p.jitter()

    def _send_sync(self, now_ms):
        if not self._synced and self.hello_out is not None and not self.hello_out():
            self._sync_at = now_ms + _HELLO_WAIT_MS
            return []
        nid, self._sync_to, self._sync_at = self._sync_to, None, None
        nbrs = self.node.neighbours
        n = nbrs.get(nid) if nid is not None else None
        running = False
        if nid is None:
            # the strongest neighbour, preferring one that has been up for a
            # while (it holds the mesh's table; one that booted with us not)
            for c in nbrs.values():
                old = c.ctr >= _FOLLOW_CTR
                running = running or old
                if n is None or (old, c.rssi) > (n.ctr >= _FOLLOW_CTR, n.rssi):
                    n = c
        if n is None:
            return []
        self._last_sync = now_ms
        # What it sends back is news for our side too, and for a while we
        # also relay for it: the latest sync partner is the seam we bridged,
        # until relay sets (two hello rounds) take the new link in. Not for
        # good: a leaf would rebroadcast all its partner sends, forever.
        self.sync_from = n.id
        self.sync_until = now_ms + self.node.config.startup_flood_ms
        if not self._synced:
            self._synced = True
            if not self._retried:
                self._recheck_at = now_ms + _SYNC_RETRY_MS
            if running:
                self._follow_at = now_ms + _FOLLOW_MS
        self.node.count("syncs")
        return self.p.send(n.mac, T_PULL, encode_pull(PULL_FULL, []))

    def on_pull(self, sender, flags, responder, haves, now_ms):
        """A neighbour's pull: queue what it lacks (repairs are suppressible)."""
        store = self.node.readings
        if flags & PULL_FULL:
            n = self.node.neighbours.get(sender)
            if n is not None:
                self.push_until = now_ms + _SYNC_PUSH_MS
                return self.p.push_all(n.mac)
            return []
        pending = self._pull
        for origin, boot, seq in haves:
            k = store.key_of(origin)
            if k is not None and (boot, seq) != k and raw_newer(k[0], k[1], boot, seq):
                self.p.queue_repair(origin, now_ms, responder)
            elif origin in pending and k == (boot, seq):
                # a neighbour asks for what we were about to ask for: its
                # answer is broadcast, so we wait for it (SRM request
                # suppression); our re-check still runs
                del pending[origin]
        return []

    # ------------------------------------------------------------ stale/forget

    def _sweep(self, now_ms):
        node = self.node
        self._sweep_at = now_ms + 5000
        for origin, t in list(node.heard.items()):
            if origin == node.id:
                continue
            age = now_ms - t
            ival = self._ival.get(origin, self._guess) or 0
            if age >= max(self.forget_ms, _FORGET_IVALS * ival):
                node.forget_origin(origin)      # our timers too (MeshPolicy.forget)
                node.emit(("forgotten", origin))
            elif age >= max(self.stale_ms, _STALE_IVALS * ival) and origin not in self._stale:
                self._stale[origin] = True
                node.emit(("stale", origin))

    def _stale_after(self, origin):
        """An origin is stale after stale_ms or two of its intervals, whichever
        is longer (see _STALE_IVALS)."""
        ival = self._ival.get(origin, self._guess) or 0
        return max(self.stale_ms, _STALE_IVALS * ival)

    def forget(self, origin):
        self._wheel.pop(origin, None)
        self._ival.pop(origin, None)
        self._tries.pop(origin, None)
        self._stale.pop(origin, None)
        self._pull.pop(origin, None)

    # ------------------------------------------------------------ timers

    def tick(self, now_ms):
        out = []
        if self._wheel_min is not None and (self._wheel_min << _SLOT_SHIFT) <= now_ms:
            self._check_wheel(now_ms)
        if self._pull_at is not None and self._pull_at <= now_ms:
            out += self._send_pulls(now_ms)
        if self._sync_at is not None and self._sync_at <= now_ms:
            out += self._send_sync(now_ms)
        if self._recheck_at is not None and self._recheck_at <= now_ms:
            self._recheck_at = None
            if len(self.node.readings) <= 1 and len(self.node.neighbours):
                # nothing came: ask another neighbour, once (when no node
                # has published yet, nothing comes from anyone: in a mesh
                # reporting every 900 s the retries went on every 1.5 s
                # until a reading came, 24 syncs per node)
                self._synced = False
                self._retried = True
                for n in self.node.neighbours.values():
                    self.neighbour_up(n.id, now_ms)
                    break
        if self._follow_at is not None and self._follow_at <= now_ms:
            self._follow_at = None
            if self._sync_at is None:
                self._sync_to, self._sync_at = None, now_ms + self.p.jitter()
        if self._settle_at is not None and self._settle_at <= now_ms:
            self._settle_at = None
            if self._sync_at is None:
                self._sync_to, self._sync_at = None, now_ms + self.p.jitter()
        if self._sweep_at <= now_ms:
            self._sweep(now_ms)
        return out

    def next_deadline(self):
        d = self._sweep_at
        for t in (self._pull_at, self._sync_at, self._recheck_at, self._settle_at, self._follow_at):
            if t is not None and t < d:
                d = t
        if self._wheel_min is not None:
            d = min(d, self._wheel_min << _SLOT_SHIFT)
        return d

    def snapshot(self):
        return (sorted(self._ival.items()), sorted(self._tries.items()),
                sorted(self._wheel.items()), sorted(self._pull),
                self._pull_at, self._sync_to, self._sync_at, self._last_sync, self._synced,
                sorted(self._stale), self._sweep_at, self._recheck_at, self._guess, self.sync_from, self.sync_until, self._settle_at, self.push_until, self._follow_at, self._retried)
