# Link state for the mesh policy: Trickle-timed hellos (two-hop neighbourhood,
# link quality, relay choice), relay (MPR) selection, and one probe for a
# neighbour gone silent.
#
# Control follows change, not the clock: the hello interval doubles from
# hello_min_ms to beacon_ms while our advertised neighbourhood (who we list,
# whom we picked as relays) stays the same, and is reset by news: a neighbour
# up or down, a new relay, a neighbour whose hello does not list us yet.
# Liveness is learnt from every authenticated frame a neighbour sends
# (readings, relays, acks), so hellos are not what keeps links alive; a
# neighbour silent past its timeout gets one unicast probe (a hello addressed
# to it, MAC-acknowledged) and is dropped only if that fails.
from micropython import const

from .frames import HELLO_SYNC, HELLO_V2, T_HELLO, encode_hello
from .relays import select_relays
from .trickle import Trickle
from .unicast import BROADCAST
from .wire import MAX_FRAME, MAX_FRAME_V2

_Q2_MIN = const(64)         # two-hop links heard at >= 50% count for relay selection
_Q2_KEEP = const(48)        # ... and stay counted down to 38%
Q_LIST_MIN = const(64)      # hellos list neighbours we hear >= 25% of the time
_RELAY_COST_MAX = const(32)  # neighbours worse than ETX 4 are not picked as relays
_RELAY_COST_KEEP = const(44)  # ... and current relays are kept up to ETX 5.5
_PROBE_WAIT_MS = const(1000)  # a probe's MAC ack comes in ms; none after this: down


class LinkState:
    def __init__(self, node, send, ae, now_ms):
        self.node = node
        self.send = send            # (dst mac, ftype, payload) -> frames
        self.ae = ae
        cfg = node.config
        self.trickle = Trickle(cfg.hello_min_ms, cfg.beacon_ms, 0, node.rng, now_ms)
        self.relays = []            # neighbours we picked as relays (sorted ids)
        self.dirty = False          # relays to choose again
        self._probe = {}            # neighbour id -> [sent, when it fell silent]

    # ------------------------------------------------------------ news

    def reset(self, now_ms):
        """Our neighbourhood changed: hellos at the fast rate again."""
        self.trickle.reset(now_ms)

    def on_hello(self, sender, msg, now_ms):
        name, flags, held, entries = msg
        n = self.node.neighbours.get(sender)
        if n is None:
            return
        n.name = name
        n.hello = True
        n.max_frame = MAX_FRAME_V2 if flags & HELLO_V2 else MAX_FRAME
        me = self.node.id
        sym, selects, q_out = False, False, -1
        two = []
        canonical = self.node.readings.canonical
        for nid, q, mpr in entries:
            if nid == me:
                sym, selects, q_out = True, mpr, q
            elif q >= _Q2_MIN or (q >= _Q2_KEEP and nid in n.two_hop):
                two.append(canonical(nid))   # hysteresis: a wobbling estimate does not churn relays
        two = tuple(two)
        if two != n.two_hop or sym != n.sym:
            self.dirty = True
        n.sym, n.selects_me, n.q_out, n.two_hop = sym, selects, q_out, two
        if sym and held >= len(self.node.readings) + 2:
            # it knows more origins than we do: sync with it (rarely: tables
            # grow unevenly while a mesh forms)
            self.ae.neighbour_up(sender, now_ms)

    # ------------------------------------------------------------ relays

    def update_relays(self, now_ms):
        if not self.dirty:
            return
        self.dirty = False
        cands = []
        for n in self.node.neighbours.values():
            c = n.cost()
            if n.sym and (c <= _RELAY_COST_MAX or (c <= _RELAY_COST_KEEP and n.id in self.relays)):
                cands.append((n.id, n.two_hop, c))
        rel = select_relays(self.node.id, cands, self.node.config.relay_coverage, self.relays)
        if rel != self.relays:
            added = [r for r in rel if r not in self.relays]
            self.relays = rel
            if added:   # new relays must hear it soon; dropped ones can wait
                self.reset(now_ms)

    # ------------------------------------------------------------ hellos

    def _payload(self, now_ms):
        # Costs drift without marking relays dirty (a young link improving
        # past _RELAY_COST_MAX): choose afresh for every hello we send.
        self.dirty = True
        self.update_relays(now_ms)
        rel = self.relays
        entries = []
        for n in sorted(self.node.neighbours.values(), key=lambda n: -n.q_in):
            if n.q_in >= Q_LIST_MIN:      # links this weak are useless to anyone
                entries.append((n.id, min(127, n.q_in >> 1), n.id in rel))
        cfg = self.node.config
        flags = (0 if self.ae.synced else HELLO_SYNC) | (HELLO_V2 if cfg.max_frame >= MAX_FRAME_V2 else 0)
        return encode_hello(self.node.name, flags, len(self.node.readings), entries)

    # ------------------------------------------------------------ probes

    def silent(self, n, now_ms):
        """The neighbour table's on_silent: n passed its timeout. -> the ms to
        wait for a probe's answer, or None to drop it now (probed already)."""
        p = self._probe.pop(n.id, None)
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
            self.update_relays(now_ms)
        if self.trickle.due(now_ms):
            out += self.send(BROADCAST, T_HELLO, self._payload(now_ms))
        for nid, p in list(self._probe.items()):
            n = self.node.neighbours.get(nid)
            if n is None or now_ms - p[1] > 2 * _PROBE_WAIT_MS:
                del self._probe[nid]
            elif not p[0] and not busy(n.mac):
                p[0] = True
                self.node.count("probes")
                out += self.send(n.mac, T_HELLO, self._payload(now_ms))
        return out

    def next_deadline(self, now_ms):
        if self.dirty or any(not p[0] for p in self._probe.values()):
            return now_ms
        return self.trickle.next_deadline()

    def snapshot(self):
        return (self.trickle.snapshot(), self.relays, self.dirty, sorted([(k, tuple(v)) for k, v in self._probe.items()]))
