# Heap held by one node with state for a 100-node mesh, measured with
# gc.mem_alloc() on MicroPython (the figure that matters for a board); CPython
# has no such counter, so there the test only checks the state is built.
#
# "State" means what bench/heap_probe.py measures on a replayed simulation:
# everything the Node references after convergence, after gc.collect() -- a
# reading per origin with its learnt publication interval and repair check,
# a route per origin, 20 neighbours each with its two-hop set from hellos,
# replay windows. Built here from hand-made frames with the same shape
# (aggregated readings relayed by neighbours, hellos listing two-hop ids, two
# publications per origin), so the test and the bench agree (within ~10%).
import gc
import sys

from mesh import crypto
from mesh.frames import T_HELLO, encode_hello, encode_readings_items
from mesh.wire import T_READINGS, Reading, encode_reading
from heapmodel import price_state
from meshhelp import KEY, make_node, node_id

HEAP_TARGET = 32 * 1024      # issue 3's target, meant for a 32-bit board (ESP32)
# The unix interpreter here is 64-bit: every pointer, object header and GC
# block (32 B instead of 16 B) is twice an ESP32's. heapmodel prices the
# very objects of the state with both word sizes; its 64-bit price must match
# gc.mem_alloc() (so the model is checked on every run), and its 32-bit price
# must meet the target. On 64-bit gc.mem_alloc() itself is ~47 KB, held
# against regressions with ~10% headroom; `make bench` reports it against
# the 32 KB target (bench/results/heap.json, docs/heap.md).
HEAP_LIMIT = HEAP_TARGET if sys.maxsize < 2 ** 32 else 52 * 1024
MODEL_AGREEMENT = 0.10

ME = 200
_INTERVAL_MS = 10000


class _Neighbour:
    def __init__(self, index, keys):
        self.id = node_id(index)
        self.keys = keys
        self.ctr = 0

    def frame(self, ftype, payload):
        self.ctr += 1
        return crypto.seal(self.keys, ftype, self.id, 1, self.ctr, payload)


def _hello(nb, index, origins, neighbours):
    # each neighbour hears us and ~16 other nodes well (as in a random 100-node mesh)
    entries = [(node_id(ME), 120, index % 3 == 0)]
    for k in range(16):
        entries.append((node_id(1 + (index * 7 + k * 5) % origins), 100, False))
    return nb.frame(T_HELLO, encode_hello("n%d" % index, 0, origins, entries))


def _readings(nb, due, t_ms, hops):
    raws = [encode_reading(Reading(node_id(o), 1, seq, t_ms, [("temp", 20.0 + o, "C"), ("rh", 40.0, "%")]))
            for o, seq in due]
    return nb.frame(T_READINGS, encode_readings_items(raws, [hops] * len(raws), [8 * hops + 8] * len(raws)))


def _settle(node, t):
    d = node.next_deadline()
    while d is not None and d <= t:
        node.tick(d)
        d = node.next_deadline()
    node.pop_events()


def build_mesh_state(node, origins=100, neighbours=20, seconds=25):
    """Feed node a converged neighbourhood; every frame is built on the fly
    (no frame list on the heap). Each second every neighbour sends the
    readings of its share of the origins
    published in that second (origin o publishes every 10 s at phase o*100 ms),
    and a hello every 5 s."""
    keys = crypto.Keys(KEY)
    nbs = [_Neighbour(1 + j, keys) for j in range(neighbours)]
    for sec in range(seconds):
        t = 1000 * (sec + 1)
        for j in range(neighbours):
            nb = nbs[j]
            if sec % 5 == 0:
                node.receive(_hello(nb, 1 + j, origins, neighbours), nb.id, -60, t + j)
            due = _due(j, t, origins, neighbours)
            if due:
                node.receive(_readings(nb, due, t, 1 if due[0][0] != 1 + j else 0), nb.id, -60, t + j)
            _settle(node, t + j)
    _settle(node, 1000 * (seconds + 1))


def _due(j, t, origins, neighbours):
    """Origins relayed by neighbour j that published in (t - 1 s, t]: [(origin, seq)]."""
    out = []
    for o in range(1, origins + 1):
        if (o - 1) % neighbours != j:
            continue
        phase = 100 * o
        for k in range(4):
            at = phase + k * _INTERVAL_MS
            if t - 1000 < at <= t:
                out.append((o, k + 1))
    return out


def heap_for_mesh(origins=100, neighbours=20):
    gc.collect()
    before = gc.mem_alloc() if hasattr(gc, "mem_alloc") else None
    node = make_node(ME)
    node.publish([("temp", 1.0, "C"), ("rh", 50.0, "%")], 0)
    build_mesh_state(node, origins, neighbours)
    gc.collect()
    held = None if before is None else gc.mem_alloc() - before
    return node, held


def test_node_heap_for_100_node_mesh():
    node, held = heap_for_mesh()
    # the state really is a converged 100-node mesh's, not an empty table
    assert len(node.readings) == 101
    assert len(node.neighbours) == 20
    assert len(node.policy.routes) == 100
    assert len(node.policy.ae._ival) >= 95          # intervals learnt from two publications
    assert sum([len(n.two_hop) for n in node.neighbours.values()]) >= 200
    priced = price_state(node)
    assert priced["model_32bit_bytes"] <= HEAP_TARGET, priced
    if held is not None:
        print("heap_bytes", held, priced)
        model = priced["model_64bit_bytes"] if sys.maxsize > 2 ** 32 else priced["model_32bit_bytes"]
        assert abs(model - held) <= MODEL_AGREEMENT * held, (model, held)
        assert held <= HEAP_LIMIT, held
