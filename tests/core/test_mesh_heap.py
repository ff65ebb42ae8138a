# Heap held by one node with state for a 100-node mesh (readings, routes,
# neighbours, replay windows). Measured with gc.mem_alloc() on MicroPython
# (the figure that matters for a board); CPython has no such counter, so
# there the test only exercises the same path.
import gc

from mesh import crypto, wire
from mesh.wire import Reading
from meshhelp import make_node, node_id

HEAP_LIMIT = 32 * 1024


def _frames(origins, neighbours):
    """Readings of `origins` nodes relayed by `neighbours` neighbours."""
    keys = crypto.Keys(bytes(range(16)))
    out = []
    for i in range(origins):
        relay = node_id(1 + i % neighbours)
        r = Reading(node_id(1 + i), 1, 3, 30000, [("temp", 20.0 + i, "C"), ("rh", 40.0, "%")])
        payload = wire.encode_readings_frame([r], [1])
        out.append((relay, crypto.seal(keys, wire.T_READINGS, relay, 1, i // neighbours, payload)))
    return out


def heap_for_mesh(origins=100, neighbours=12):
    frames = _frames(origins, neighbours)
    gc.collect()
    if not hasattr(gc, "mem_alloc"):
        before = None
    else:
        before = gc.mem_alloc()
    node = make_node(200)
    node.publish([("temp", 1.0, "C"), ("rh", 50.0, "%")], 0)
    t = 10
    for relay, frame in frames:
        node.receive(frame, relay, -60, t)
        t += 10
    for _ in range(4):                  # relays sent, sync asked: steady state
        node.tick(node.next_deadline())
    node.pop_events()
    gc.collect()
    held = None if before is None else gc.mem_alloc() - before
    return node, held


def test_node_heap_for_100_node_mesh():
    node, held = heap_for_mesh()
    assert len(node.readings) == 101
    if held is not None:
        print("heap_bytes", held)
        assert held <= HEAP_LIMIT, held
