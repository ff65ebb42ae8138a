# Direct neighbours: nodes whose frames we received ourselves (the sealed
# sender of a frame is always its last transmitter). Bounded; emits
# ('neighbour', id, 'up'|'down') events through the callback given.
#
# Link quality in both directions: q_in is an EWMA (1/16) of how many of the
# neighbour's frames we receive, measured from gaps in its frame counter
# (every sealed frame carries a per-boot counter, so every frame is a probe,
# not just hellos). q_out is what the neighbour says, in its hello, about
# how well it hears us. ETX = 1 / (q_in * q_out) (De Couto et al. 2003).
#
# Failure detection adapts to each neighbour's traffic: the timeout is
# `silence_factor` times the EWMA of its inter-frame gaps, and at least
# _HI_FACTOR times the longest silence it showed lately (bursty traffic: a
# wave of relays, then a minute of quiet), clamped to [min_timeout_ms,
# timeout_ms]; a busy relay is declared down within seconds, a quiet leaf
# only after the configured timeout.
from micropython import const

from .wire import MAX_FRAME

_Q_ONE = const(256)
_Q_START = const(96)   # a newcomer must prove itself before it carries routes
_YOUNG_FRAMES = const(16)  # frames judged by the young-link estimate, then the EWMA
_Q_PRIOR = const(64)       # the young-link estimate's prior: 25 %, worth _PRIOR_FRAMES frames
_PRIOR_FRAMES = const(4)
_GAP_MISS_MAX = const(16)
# Admission hysteresis: a neighbour counts (listed in our hellos, a relay
# candidate, news worth a hello reset) once it has sent _ADMIT_FRAMES frames
# and we hear >= 50 % of them, and until we hear < 25 %. A link at the fringe,
# heard once now and then, must not reset everyone's hello timer each time.
_ADMIT_FRAMES = const(3)
_Q_ADMIT = const(128)
Q_KEEP = const(64)
_SILENCE_FACTOR = const(8)
# A live neighbour's longest normal silence, three times over, is not a
# failure: traffic in a mesh that reports every few minutes comes in waves
# (every relay sends within a second of a reading, then nothing until its
# hello a minute later), and the mean gap of those waves is short. On the
# 100-node, 10 %-loss, every-300-s run, 8 mean gaps declared 1191 live
# neighbours silent in an hour; 957 of them answered the probe.
_HI_FACTOR = const(3)


class Neighbour:
    def __init__(self, node_id, mac, rssi, now_ms, gap_ms):
        self.id = node_id
        self.slot = 0            # small number routes use to name it
        self.mac = mac
        self.name = None
        self.rssi = rssi
        self.last_ms = now_ms
        self.due = now_ms        # last_ms + failure timeout, set by the table
        self.boot = -1
        self.ctr = 0
        self.ctr0 = 0            # first counter heard this boot, and frames since
        self.got = 0
        self.q_in = _Q_START     # 0..256
        self.q_out = -1          # 0..127 from its hello, -1 = not heard yet
        self.gap = gap_ms        # EWMA of inter-frame gap, ms (0: no gap seen yet)
        self.gap_hi = gap_ms     # longest gap lately: forgotten at 1/8 of the time that passes
        self.hello = False       # got a hello from it
        self.sym = False         # its hello lists us
        self.relays = True       # its hello says it rebroadcasts readings (busy: silence is news)
        self.two_hop = ()        # ids it hears well (from its hello)
        self.lone = False        # its hello lists nobody but us
        self.max_frame = MAX_FRAME  # largest frame it takes: v1 until its hello says more
        self.stable = False      # admitted: a good link for a while (hysteresis, see _admit)

    def cost(self):
        """Link cost in 1/8 ETX units (8 = perfect link), 255 = unusable."""
        if self.hello and not self.sym:
            return 255           # it does not hear us (asymmetric link)
        qo = self.q_out * 2 + 2 if self.q_out >= 0 else self.q_in
        prod = self.q_in * qo
        if prod <= 0:
            return 255
        return min(255, (8 * _Q_ONE * _Q_ONE) // prod)

    def as_tuple(self):
        return (self.id, self.slot, self.mac, self.name, self.rssi, self.last_ms,
                self.boot, self.ctr, self.ctr0, self.got, self.q_in, self.q_out, self.gap, self.hello, self.sym,
                self.relays, self.two_hop, self.max_frame, self.stable, self.gap_hi,
                self.lone)


class NeighbourTable:
    def __init__(self, max_entries, timeout_ms, emit, min_timeout_ms=None):
        self.max_entries = max_entries
        self.timeout_ms = timeout_ms
        self.min_timeout_ms = timeout_ms if min_timeout_ms is None else min(min_timeout_ms, timeout_ms)
        self._emit = emit
        self.on_change = None    # callback(node_id, up) for the policy
        self.on_rejoin = None    # callback(node_id): heard again after a long silence
        # callback(n, now_ms) when n passes its timeout: -> ms more to wait
        # (a probe is on its way), or None to drop it now
        self.on_silent = None
        self.on_admit = None     # callback(n): n became stable (admitted)
        self.table = {}  # id -> Neighbour
        self._slots = {}  # small slot number -> Neighbour (routes refer to slots)
        # earliest n.due, or None = recompute: the host asks for the next
        # deadline after every frame, and a scan per frame is O(neighbours)
        self._due_min = None

    def by_slot(self, slot):
        return self._slots.get(slot)

    def _free_slot(self):
        slot = 0
        while slot in self._slots:
            slot += 1
        return slot

    def __len__(self):
        return len(self.table)

    def get(self, node_id):
        return self.table.get(node_id)

    def values(self):
        return self.table.values()

    def heard(self, node_id, rssi, now_ms, boot=None, ctr=None):
        """An authenticated frame from node_id -> its entry, or None when the
        table is full of admitted neighbours heard at >= 50 % (a newcomer is
        then not tracked). Its MAC is its id (ESP-NOW): a
        frame's source MAC is not authenticated and is never taken as the
        address (Node.receive refuses frames whose source differs)."""
        n = self.table.get(node_id)
        new = n is None
        if new:
            if len(self.table) >= self.max_entries:
                victim = self.table[self._least_recent()]
                if victim.stable and victim.q_in >= _Q_ADMIT:
                    # a table full of good, steady links: a newcomer is not
                    # tracked (it cannot prove better than them before it is
                    # in, and each swap was news: evicted, heard again,
                    # admitted again; 3 news hellos per node per minute in a
                    # 50-node mesh of degree 20 with 32 entries)
                    return None
                # the evicted one is in range still: no failure, no news for
                # our neighbours (the next regular hello stops listing it)
                victim.stable = False
                self.drop(victim.id)
            n = Neighbour(node_id, node_id, rssi, now_ms, 0)
            n.slot = self._free_slot()
            self.table[node_id] = n
            self._slots[n.slot] = n
            self._emit(("neighbour", node_id, "up"))
        else:
            silence = now_ms - n.last_ms
            if self.on_rejoin is not None and n.q_in >= _Q_ONE // 2 and silence > self._unusual(n):
                self.on_rejoin(node_id)   # back after a long silence: a healed cut?
            # the first gap seen replaces the prior outright: hellos back off
            # to a minute, so a guess would take many frames to unlearn
            n.gap = max(1, silence) if n.gap == 0 else n.gap + (silence - n.gap) // 8
            n.gap_hi = max(silence, n.gap_hi - silence // 8)
        if boot is not None:
            self._count(n, boot, ctr)
            self._admit(n)
        n.rssi = rssi
        n.last_ms = now_ms
        old_due, n.due = n.due, now_ms + self._timeout(n)
        m = self._due_min
        if m is not None and (n.due < m or (old_due == m and not new)):
            self._due_min = n.due if n.due < m else None
        if new and self.on_change is not None:
            self.on_change(n, True)
        return n

    def _count(self, n, boot, ctr):
        if boot != n.boot:
            n.boot, n.ctr, n.ctr0, n.got = boot, ctr, ctr, 1
            return
        gap = ctr - n.ctr
        if gap <= 0:
            return
        n.got += 1
        if n.got <= _YOUNG_FRAMES:
            # young link: the ratio over the frames after the first (we only
            # know of the neighbour because its first frame got through, so
            # that one says nothing), shrunk toward 25 % (many links heard at
            # all are fringe ones). A good neighbour is a relay candidate
            # after two or three frames (50 % after two, 62 % after four),
            # while two lucky frames in a row from one at the fringe read
            # 40 %, not a perfect link.
            span = ctr - n.ctr0
            n.q_in = (_Q_ONE * (n.got - 1) + _Q_PRIOR * _PRIOR_FRAMES) // (span + _PRIOR_FRAMES)
            n.ctr = ctr
            return
        q = n.q_in
        for _ in range(min(gap - 1, _GAP_MISS_MAX)):
            q -= q >> 4
        n.q_in = q - (q >> 4) + 16
        n.ctr = ctr

    def _admit(self, n, vouched=False):
        """Admission hysteresis (see _ADMIT_FRAMES). vouched: its hello
        lists us, i.e. it admitted us; then hearing it at Q_KEEP is enough
        (a link forms in one hello's time, not after three frames each way)."""
        if n.stable:
            n.stable = n.q_in >= Q_KEEP
        elif (n.got >= _ADMIT_FRAMES and n.q_in >= _Q_ADMIT) or (vouched and n.q_in >= Q_KEEP):
            n.stable = True
            if self.on_admit is not None:
                self.on_admit(n)

    def vouched(self, n):
        """n's hello lists us."""
        self._admit(n, True)

    def _least_recent(self):
        """The entry a newcomer replaces in a full table: the weakest (then
        the least recently heard) of those not admitted, else of all.
        In a mesh denser than the table, plain LRU evicted admitted
        neighbours all the time, and each loss and return was news (hellos,
        syncs): 25 hellos per node per minute with 50 nodes in range of each
        other and 32 entries. Weakest before oldest: dropping the least
        recent one instead cost the clustered cell's weak bridges between
        rooms (delivery 0.9999 -> 0.9982) and more airtime."""
        oldest, best = None, None
        for n in self.table.values():
            key = (n.stable, n.q_in, n.last_ms)
            if oldest is None or key < best:
                oldest, best = n, key
        return oldest.id

    def drop(self, node_id):
        n = self.table.pop(node_id, None)
        if n is None:
            return
        self._slots.pop(n.slot, None)
        if n.due == self._due_min:
            self._due_min = None
        self._emit(("neighbour", node_id, "down"))
        if self.on_change is not None:
            self.on_change(n, False)

    def _unusual(self, n):
        # A silence this long from a neighbour still in the table: we were
        # probably cut apart. A neighbour that relays nothing sends a frame a
        # minute or two by design; half the failure time was within its
        # normal quiet, and each such "rejoin" cost a whole-table sync (112
        # in 30 min on random-100 at a reading every 300 s, against 11).
        if not n.relays:
            return self.timeout_ms
        return max(self.timeout_ms // 2, 8 * n.gap, _HI_FACTOR * n.gap_hi)

    def _timeout(self, n):
        # A neighbour that relays nothing sends a reading and a hello a
        # minute or so, in no steady rhythm; its short gaps after a burst
        # (its boot, a repair) said nothing about the quiet that follows, and
        # probing every such neighbour once the mesh settled cost more than
        # the readings. It has the configured failure time.
        if n.gap == 0 or not n.relays:
            return self.timeout_ms
        # expected silence grows as the link gets lossier: 8 gaps at q = 100 %,
        # 20 at 40 %, so a weak but alive link is not declared down by chance
        t = max(n.gap * _SILENCE_FACTOR * _Q_ONE // max(n.q_in, 32), _HI_FACTOR * n.gap_hi)
        return max(self.min_timeout_ms, min(self.timeout_ms, t))

    def touch(self, node_id, now_ms):
        """A sign of life that is not a frame (the MAC ack of our unicast):
        alive, but no sample of its gaps or delivery ratio."""
        n = self.table.get(node_id)
        if n is None:
            return
        # it was alive all along: that silence was a normal one
        n.gap_hi = max(n.gap_hi, now_ms - n.last_ms)
        n.last_ms = now_ms
        n.due = max(n.due, now_ms + self._timeout(n))
        self._due_min = None

    def expire(self, now_ms):
        due = self.next_deadline()
        if due is None or now_ms < due:
            return
        for node_id in [k for k, n in self.table.items() if now_ms >= n.due]:
            n = self.table[node_id]
            wait = self.on_silent(n, now_ms) if self.on_silent is not None else None
            if wait is None:
                self.drop(node_id)
            else:
                n.due = now_ms + wait
                self._due_min = None

    def next_deadline(self):
        if self._due_min is None and self.table:
            self._due_min = min([n.due for n in self.table.values()])
        return self._due_min

    def snapshot(self):
        return sorted([n.as_tuple() for n in self.table.values()])
