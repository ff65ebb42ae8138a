# Link state for the mesh policy: Trickle-timed hellos (two-hop
# neighbourhood, link quality, whether we relay), our own relaying decision
# (mesh/relays.py), and one probe for a neighbour gone silent.
#
# Control follows change, not the clock: the hello interval doubles from
# hello_min_ms to beacon_ms while our advertised neighbourhood (who we list,
# whether we relay) stays the same, and is reset by news: a neighbour up or
# down, a neighbour whose hello does not list us yet.
# Liveness is learnt from every authenticated frame a neighbour sends
# (readings, relays, acks), so hellos are not what keeps links alive; a
# neighbour silent past its timeout gets one unicast probe (an empty pull
# addressed to it, MAC-acknowledged) and is dropped only if that fails.
from micropython import const

from .frames import HELLO_RELAYS, HELLO_SYNC, HELLO_V2, T_HELLO, T_PULL, decode_hello, encode_hello, encode_pull
from .relays import forward_rank, must_forward
from .trickle import Trickle
from .unicast import BROADCAST
from .wire import MAX_FRAME, MAX_FRAME_V2, T_BEACON, encode_beacon

# A neighbour's link to a third node counts for the relaying decision when it
# hears that node at >= 75 %, and stays counted down to 62 %: a chain of
# weaker links is no replacement for our own rebroadcast (counted from 50 %,
# the line and corridor cells of the scenario matrix lost far more readings).
_Q2_MIN = const(96)
_Q2_KEEP = const(80)
_PROBE_WAIT_MS = const(1000)  # a probe's MAC ack comes in ms; none after this: down
# A due hello that would say what the last one said (same neighbours and
# relaying) is skipped when other broadcasts of ours
# went out since: they already told every neighbour we are alive and let it
# measure our link. When none did, it shrinks to a name-only beacon: a sign
# of life and a counter to measure the link by, well under half of a
# 20-neighbour hello's airtime, and a frame every firmware since the first
# understands.
# At most this many in a row, so that a neighbour that lost the last full
# hello still hears one every few minutes.
_SKIP_MAX = const(3)
_NEWS_REPEAT = const(4)     # news: a second hello this many imin after the first


class LinkState:
    def __init__(self, node, send, ae, now_ms):
        self.node = node
        self.send = send            # (dst mac, ftype, payload) -> frames
        self.ae = ae
        cfg = node.config
        self.trickle = Trickle(cfg.hello_min_ms, cfg.beacon_ms, 0, node.rng, now_ms)
        self.relays_all = False     # we rebroadcast readings (decided as hellos come; the start-up flood covers the first)
        self.dirty = False          # to decide again whether we relay
        self._view = None           # hash of the neighbourhood last decided on
        self._probe = {}            # neighbour id -> [sent, when it fell silent]
        self._said = None           # what our last hello said (_gist), and when:
        self._said_ctr = 0          # ... our broadcast counter after it
        self._skipped = 0           # hellos skipped since (see _SKIP_MAX)
        self._news = []             # when the hellos that carry news are due (see reset)

    # ------------------------------------------------------------ news

    def reset(self, now_ms):
        """News (a neighbour admitted or lost): two hellos soon,
        the second for neighbours that lost the first, then the Trickle
        interval goes on where it was. A hello is news for one hop only, so
        restarting Trickle at imin (about seven hellos until it is back at
        imax) bought nothing but airtime. Nothing to add while Trickle
        itself runs fast (after boot), or while both hellos are still owed."""
        imin = self.trickle.imin
        if self.trickle.interval <= 2 * imin or len(self._news) == 2:
            return
        first = now_ms + imin // 2 + self.node.rng.below(imin // 2 + 1)
        self._news = [first, first + _NEWS_REPEAT * imin]

    def on_hello(self, sender, msg, now_ms):
        name, flags, held, entries = msg
        n = self.node.neighbours.get(sender)
        if n is None:
            return
        n.name = name
        n.hello = True
        n.max_frame = MAX_FRAME_V2 if flags & HELLO_V2 else MAX_FRAME
        me = self.node.id
        n.relays = bool(flags & HELLO_RELAYS)
        sym, q_out = False, -1
        two = []
        canonical = self.node.readings.canonical
        for nid, q, _relay_bit in entries:
            if nid == me:
                sym, q_out = True, q
            elif q >= _Q2_MIN or (q >= _Q2_KEEP and nid in n.two_hop):
                two.append(canonical(nid))   # hysteresis: a wobbling estimate does not flip our decision
        two = tuple(two)
        if two != n.two_hop or sym != n.sym:
            self.dirty = True
        n.sym, n.q_out, n.two_hop = sym, q_out, two
        n.lone = len(entries) == (1 if sym else 0)
        if sym:
            self.node.neighbours.vouched(n)
        if sym and held >= len(self.node.readings) + 2:
            # it knows more origins than we do: sync with it (rarely: tables
            # grow unevenly while a mesh forms)
            self.ae.neighbour_up(sender, now_ms)

    # ------------------------------------------------------------ relaying

    def update_relaying(self):
        """Decide again whether we relay (mesh/relays.py), over our admitted,
        symmetric neighbours and their good links. Nothing to tell anyone at
        once: the next hello carries it, and our neighbours only use it to
        know how long we may stay silent."""
        if not self.dirty:
            return
        self.dirty = False
        members = []
        for n in self.node.neighbours.values():
            if n.sym and n.stable:
                members.append((n.id, n.two_hop))
        # Most hellos change nothing we weigh (it is decided again before
        # each of ours, and as theirs arrive): a hash of the view skips the
        # quadratic check. Not kept in snapshots: CPython salts it per process.
        view = hash(tuple(members))
        if view != self._view:
            self._view = view
            self.relays_all = must_forward(self.node.id, members, forward_rank)

    def carries_alone(self, n):
        """True if what neighbour n sends may reach no one unless we relay it:
        our decision did not weigh n (it is not an admitted, symmetric
        neighbour of ours) and its hello lists nobody but us. On a
        line, a neighbour we do not admit yet (a young or one-way link) is
        exactly that, and its readings would stop at us. A neighbour with
        other links is weighed by those neighbours' decisions instead:
        relaying for every one we do not admit cost 30 % more airtime on the
        random-100 mesh (docs/protocol.md, Relays)."""
        return n.hello and n.lone and not (n.sym and n.stable)

    # ------------------------------------------------------------ hellos

    def _payload(self, now_ms):
        self.dirty = True      # a neighbour's admission may have lapsed since: no event tells
        self.update_relaying()
        entries = []
        for n in sorted(self.node.neighbours.values(), key=lambda n: -n.q_in):
            if n.stable:      # admitted (>= 50 %, kept down to 25 %): fringe links are useless to anyone
                # The relay bit is set on every entry: firmware from before
                # the coverage condition relays only what a neighbour picked
                # it for, so next to ours it relays everything, as in its
                # start-up flood. We ignore the bit.
                entries.append((n.id, min(127, n.q_in >> 1), True))
        cfg = self.node.config
        flags = (0 if self.ae.synced else HELLO_SYNC) | (HELLO_V2 if cfg.max_frame >= MAX_FRAME_V2 else 0) \
            | (HELLO_RELAYS if self.relays_all else 0)
        return encode_hello(self.node.name, flags, len(self.node.readings), entries)

    def _hello(self, now_ms, news=False):
        payload = self._payload(now_ms)
        gist = self._gist(payload)
        node = self.node
        if not news and gist == self._said and self._skipped < _SKIP_MAX:
            self._skipped += 1
            if node.broadcasts > self._said_ctr:
                out = []
                node.count("hello_skipped")
            else:
                out = self.send(BROADCAST, T_BEACON, encode_beacon(node.name))
                node.count("hello_short")
            self._said_ctr = node.broadcasts
            return out
        out = self.send(BROADCAST, T_HELLO, payload)
        self._said, self._said_ctr, self._skipped = gist, node.broadcasts, 0
        return out

    def said_hello(self):
        """True once a hello of ours went out this boot."""
        return self._said is not None

    def _gist(self, payload):
        """What a hello says that its receivers act on at once: flags (our
        relaying among them), the ids listed (in id order: the list is strongest
        first, and that order drifts). Link quality is left out: with 10 %
        loss the estimate moves by more than a tenth between two hellos, so
        no hello would ever be skipped; a full hello every _SKIP_MAX + 1
        keeps the figures fresh."""
        _name, flags, _held, entries = decode_hello(payload)
        gist = bytearray([flags])      # one small bytes object, not a list of tuples (heap)
        for nid, _q, mpr in sorted(entries):
            gist += nid
            gist.append(1 if mpr else 0)
        return bytes(gist)

    # ------------------------------------------------------------ probes

    def silent(self, n, now_ms):
        """The neighbour table's on_silent: n passed its timeout. -> the ms to
        wait for a probe's answer, or None to drop it now (probed already)."""
        p = self._probe.pop(n.id, None)
        if not n.stable:
            return None             # a fringe link we never counted on: not worth a probe
        if n.hello and not n.sym:
            # its hello does not list us: it does not hear us, so a probe
            # could only fail. Its silence is news only at the configured
            # failure time. Probing it failed on the air six times, and the
            # drop churned our hellos: 217 of 989 probes failed in the
            # random-100, every-300-s hour, nearly all on such links
            left = n.last_ms + self.node.neighbours.timeout_ms - now_ms
            return left if left > 0 else None
        if p is not None and now_ms - p[1] <= 2 * _PROBE_WAIT_MS:
            return None             # our probe went unanswered
        self._probe[n.id] = [False, now_ms]
        return _PROBE_WAIT_MS

    def probe_done(self, mac, ok, now_ms):
        """A unicast to mac finished -> True if it answered one of our probes."""
        for nid, p in self._probe.items():
            n = self.node.neighbours.get(nid)
            if p[0] and n is not None and n.mac == mac:
                del self._probe[nid]
                if ok:
                    self.node.neighbours.touch(nid, now_ms)
                else:
                    self.node.neighbours.drop(nid)
                return True
        return False

    def forget(self, nid):
        self._probe.pop(nid, None)

    # ------------------------------------------------------------ timers

    def tick(self, now_ms, busy):
        """-> frames: the hello if due, probes not sent yet (busy(mac): a
        unicast is already in flight there, whose outcome says as much)."""
        out = []
        if self.dirty:
            self.update_relaying()
        if self.trickle.due(now_ms):
            out += self._hello(now_ms)
        if self._news and now_ms >= self._news[0]:
            self._news.pop(0)
            out += self._hello(now_ms, news=True)
        for nid, p in list(self._probe.items()):
            n = self.node.neighbours.get(nid)
            if n is None or now_ms - p[1] > 2 * _PROBE_WAIT_MS:
                del self._probe[nid]
            elif not p[0] and not busy(n.mac):
                p[0] = True
                self.node.count("probes")
                # only its MAC ack matters: an empty pull naming it (9 bytes,
                # answered with nothing), not a hello listing 20 neighbours
                out += self.send(n.mac, T_PULL, encode_pull(0, [], n.id))
        return out

    def next_deadline(self, now_ms):
        if self.dirty or any(not p[0] for p in self._probe.values()):
            return now_ms
        d = self.trickle.next_deadline()
        return min(d, self._news[0]) if self._news else d

    def snapshot(self):
        return (self.trickle.snapshot(), self.relays_all, self.dirty, sorted([(k, tuple(v)) for k, v in self._probe.items()]),
                self._said, self._said_ctr, self._skipped, tuple(self._news))
