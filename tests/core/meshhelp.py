# Shared helpers for the core tests. Plain Python that runs under MicroPython
# too: no pytest fixtures. Fakes the radio at the transport seam: frames a
# node returns are handed to the nodes it is linked to, nothing else.
from mesh.node import Node
from mesh.wire import parse_id

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
    """Nodes on a fixed topology with a virtual clock jumping to deadlines."""

    def __init__(self, nodes, links):
        self.nodes = {}
        for n in nodes:
            self.nodes[n.id] = n
        self.links = {}
        for a, b in links:
            self.links.setdefault(a.id, []).append(b.id)
            self.links.setdefault(b.id, []).append(a.id)
        self.now = 0
        self.sent = 0
        self.events = {}
        for k in self.nodes:
            self.events[k] = []

    def deliver(self, sender, frames):
        queue = [(sender, f) for f in frames]
        while queue:
            src, (dst, frame) = queue.pop(0)
            self.sent += 1
            for nid in self.links.get(src.id, ()):
                if dst == b"\xff" * 6 or dst == nid:
                    n = self.nodes[nid]
                    queue += [(n, f) for f in n.receive(frame, src.id, -60, self.now)]
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
