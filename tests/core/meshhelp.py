# Shared helpers for the core tests. Plain Python that runs under MicroPython
# too: no pytest fixtures. Fakes the radio at the transport seam: frames a
# node returns are handed to the nodes it is linked to, nothing else.
from mesh import crypto
from mesh.frames import T_HELLO, encode_hello, encode_readings_items
from mesh.node import Node
from mesh.prng import Rng
from mesh.wire import T_READINGS, parse_id

BROADCAST = b"\xff" * 6

KEY = bytes(range(16))  # fixed test network key


def node_id(i):
    return bytes((0x02, 0, 0, 0, 0, i))


def make_node(i, boot=1, now_ms=0, policy=None, **extra):
    cfg = {"id": node_id(i), "name": "node%d" % i, "key": KEY}
    for k in extra:
        cfg[k] = extra[k]
    if policy is None:
        return Node(cfg, boot, bytes((i, boot & 0xFF)), now_ms)
    return Node(cfg, boot, bytes((i, boot & 0xFF)), now_ms, policy=policy)


class Net:
    """Nodes on a fixed topology with a virtual clock jumping to deadlines.

    Like ESP-NOW: a unicast frame is acknowledged by the MAC, and the sender
    learns the outcome through send_done(ok) (ok: delivered and the ack came
    back; the MAC's own retries are folded into the loss figures). Broadcasts
    get no feedback. Loss is per direction of a link (`lose`), for frames and,
    separately, for the acks of unicast frames (`lose_acks`), drawn from a
    seeded generator so that a run repeats exactly. `log` keeps every
    transmission as (ms, sender id, dst mac, frame)."""

    def __init__(self, nodes, links, seed=1, feedback=True):
        self.nodes = {}
        for n in nodes:
            self.nodes[n.id] = n
        self.links = {}
        for a, b in links:
            self.link(a, b)
        self.now = 0
        self.sent = 0
        self.feedback = feedback
        self.loss = {}       # (src id, dst id) -> probability a frame is lost
        self.ack_loss = {}   # (src id, dst id) -> probability the ack of src's unicast is lost
        self.rng = Rng(seed)
        self.log = []
        self.events = {}
        for k in self.nodes:
            self.events[k] = []

    def link(self, a, b):
        for x, y in ((a.id, b.id), (b.id, a.id)):
            peers = self.links.setdefault(x, [])
            if y not in peers:
                peers.append(y)

    def cut(self, a, b):
        """The radio link between a and b is gone (both ways)."""
        for x, y in ((a.id, b.id), (b.id, a.id)):
            if y in self.links.get(x, ()):
                self.links[x].remove(y)

    def lose(self, src, dst, p):
        self.loss[(src.id, dst.id)] = p

    def lose_acks(self, src, dst, p):
        self.ack_loss[(src.id, dst.id)] = p

    def _lost(self, table, src_id, dst_id):
        p = table.get((src_id, dst_id), 0)
        return p >= 1 or (p > 0 and self.rng.below(10000) < int(p * 10000))

    def deliver(self, sender, frames):
        queue = [(sender, f) for f in frames]
        while queue:
            src, (dst, frame) = queue.pop(0)
            self.sent += 1
            self.log.append((self.now, src.id, dst, frame))
            delivered = False
            for nid in self.links.get(src.id, ()):
                if dst == BROADCAST or dst == nid:
                    if self._lost(self.loss, src.id, nid):
                        continue
                    delivered = True
                    n = self.nodes[nid]
                    queue += [(n, f) for f in n.receive(frame, src.id, -60, self.now)]
            if self.feedback and dst != BROADCAST:
                ok = delivered and not self._lost(self.ack_loss, src.id, dst)
                queue += [(src, f) for f in src.send_done(dst, ok, self.now)]
        self._collect()

    def _collect(self):
        for k, n in self.nodes.items():
            self.events[k] += n.pop_events()

    def run_until(self, t_end):
        while True:
            due = [(n.next_deadline(), k) for k, n in self.nodes.items() if n.next_deadline() is not None]
            if not due:
                break
            t, k = min(due)
            if t > t_end:
                break
            self.now = max(self.now, t)
            n = self.nodes[k]
            self.deliver(n, n.tick(self.now))
        self.now = max(self.now, t_end)

    def kinds(self, node, kind):
        return [e for e in self.events[node.id] if e[0] == kind]


def parse(text):
    return parse_id(text)


def raises_frame_error(fn, reason="malformed"):
    """Assert fn() raises FrameError with this reason (no pytest under micropython)."""
    from mesh.wire import FrameError
    try:
        fn()
    except FrameError as e:
        assert e.reason == reason, e.reason
        return
    assert False, "no FrameError"


def full_pulls(node, frames, to):
    """How many of the frames node sent are full-table pulls addressed to `to`."""
    from mesh.frames import PULL_FULL, T_PULL, decode_pull
    n = 0
    for dst, frame in frames:
        ftype, _sender, _boot, _ctr, payload = node.keys.open(frame)
        if ftype == T_PULL and dst == to and decode_pull(payload)[0] & PULL_FULL:
            n += 1
    return n


def is_probe(node, dst, frame, to):
    """Whether (dst, frame), sent by node, is a liveness probe to `to`: an
    empty pull unicast to it, naming it (only the MAC ack matters)."""
    from mesh.frames import T_PULL, encode_pull
    ftype, _sender, _boot, _ctr, payload = node.keys.open(frame)
    return dst == to and ftype == T_PULL and bytes(payload) == encode_pull(0, [], to)


def repair_delay(responder_of, batch_ms=600, boot=1):
    """A holds o's reading 2, b asks for anything newer than 1, naming
    `responder_of(a, c)` as the one to answer -> ms until a sends the repair
    (boot: a's boot counter, which seeds its random delays)."""
    from mesh.frames import T_PULL, encode_pull
    a = make_node(1, boot=boot, batch_ms=batch_ms)
    o = make_node(9)
    for t in (0, 10):
        for _d, f in o.publish([("temp", 1.0, "C")], t):
            a.receive(f, o.id, -50, t)
    a.tick(5000)
    b = node_id(2)
    pull = encode_pull(0, [(o.id, 1, 1)], responder_of(a.id, node_id(3)))
    start = 6000
    a.receive(crypto.seal(crypto.Keys(KEY), T_PULL, b, 1, 0, pull), b, -50, start)
    for t in range(start, start + 3 * batch_ms):
        for _dst, frame in a.tick(t):
            if frame[1] & 0x7F == T_READINGS:
                return t - start
    return None


class Feed:
    """Frames from neighbours (by number) into node a, each with its own counter."""

    def __init__(self, a):
        self.a = a
        self.ctr = {}

    def send(self, i, ftype, payload, now, rssi=-50):
        sid = node_id(i)
        c = self.ctr.get(sid, 0) + 1
        self.ctr[sid] = c
        return self.a.receive(crypto.seal(crypto.Keys(KEY), ftype, sid, 1, c, payload), sid, rssi, now)

    def readings(self, i, raws_hops, now, rssi=-50):
        raws = [r for r, _h in raws_hops]
        return self.send(i, T_READINGS, encode_readings_items(raws, [h for _r, h in raws_hops],
                                                             [0] * len(raws)), now, rssi)

    def hello(self, i, entries, now):
        return self.send(i, T_HELLO, encode_hello("n%d" % i, 0, 0, entries), now)


def origin_raw(i, seq=1, boot=1):
    """Origin i's reading number seq of boot `boot`, as it travels."""
    o = make_node(i, boot=boot)
    for k in range(seq):
        o.publish([("temp", float(k), "C")], k * 1000)
    return o.readings.raw[o.id]


def tick_through(node, until, start=0):
    """Tick node (or a part: anything with tick and next_deadline) at each of
    its deadlines up to `until`, the clock never going back from `start`
    -> yields (ms, frames sent then), one tick at a time (what the caller
    reads between them, such as events, belongs to that tick)."""
    t = start
    while True:
        d = node.next_deadline()
        if d is None or d > until:
            return
        t = max(t, d)
        yield t, node.tick(t)
