# Heap of one mesh-core node holding a whole mesh's state, under the real
# micropython interpreter: replays a capture made by bench/heap_capture.py
# into a fresh Node and reports gc.mem_alloc() growth as JSON. Frames are
# streamed from the file so the capture itself takes no heap.
#
# heap_bytes: live state after the replay (the mesh has converged), after
# gc.collect() -- the same definition as tests/core/test_mesh_heap.py.
# max_live_bytes: the largest live state sampled (after gc.collect()) every
# _SAMPLE_EVERY frames during the replay. priced: the same objects priced
# with MicroPython's allocation rules at 64 and 32 bits (an ESP32), so the
# share of the figure the word size explains is a count, not a guess.
# breakdown: what each part of the
# state holds, measured by dropping the parts one by one at the end (a part
# shared with a later one is counted where it is dropped last).
# Usage: micropython bench/heap_probe.py CAPTURE NAME MAC_HEX BOOT
import gc
import json
import struct
import sys

from heapmodel import price_state      # tests/core/heapmodel.py
from mesh.node import Node

KEY = bytes(range(16))         # the simulator's default network key
_SAMPLE_EVERY = 100            # frames between gc.collect() samples of live heap


def records(stream):
    while True:
        head = stream.read(12)
        if len(head) < 12:
            return
        t_ms, rssi, mac, n = struct.unpack("<Ib6sB", head)
        yield t_ms, rssi, mac, stream.read(n)


def replay(node, stream, base):
    count = max_live = 0
    for t_ms, rssi, mac, frame in records(stream):
        deadline = node.next_deadline()
        while deadline is not None and deadline <= t_ms:
            node.tick(deadline)
            deadline = node.next_deadline()
        node.receive(frame, mac, rssi, t_ms)
        node.pop_events()
        count += 1
        if count % _SAMPLE_EVERY == 0:
            gc.collect()
            max_live = max(max_live, gc.mem_alloc() - base)
    return count, max_live


def _drop(obj, attr, empty):
    def run():
        setattr(obj, attr, empty)
    return run


def breakdown(node):
    """-> [(part, bytes)] freed by dropping each part of node's state in turn."""
    p = node.policy
    parts = [("repair wheel", _drop(p.ae, "_wheel", {})), ("intervals", _drop(p.ae, "_ival", {})),
             ("routes", _drop(p.routes, "table", {})), ("replay windows", _drop(node.replay, "_senders", {})),
             ("heard times", _drop(node, "heard", {})), ("readings", _drop(node.readings, "raw", {}))]
    out = []
    for name, drop in parts:
        gc.collect()
        before = gc.mem_alloc()
        drop()
        gc.collect()
        out.append((name, before - gc.mem_alloc()))
    return out


def main(path, name, mac_hex, boot):
    gc.collect()
    base = gc.mem_alloc()
    node = Node({"id": bytes.fromhex(mac_hex), "name": name, "key": KEY}, boot, b"heapprobe", 0)
    gc.collect()
    fresh = gc.mem_alloc() - base
    with open(path, "rb") as stream:
        count, max_live = replay(node, stream, base)
    gc.collect()
    held = gc.mem_alloc() - base
    sizes = {"readings": len(node.readings), "neighbours": len(node.neighbours),
             "routes": len(node.policy.routes), "replay_senders": len(node.replay),
             "two_hop_ids": sum([len(n.two_hop) for n in node.neighbours.values()])}
    priced = price_state(node)          # before breakdown() takes the state apart
    parts = breakdown(node)
    gc.collect()
    # neighbours (with their two-hop sets), the origin ids they share with the
    # interning table, policy objects, keys, config: what a node is made of
    parts.append(("neighbours, ids, node", gc.mem_alloc() - base))
    print(json.dumps({"heap_bytes": held, "max_live_bytes": max(max_live, held), "readings_held": sizes["readings"],
                      "table_sizes": sizes, "breakdown": dict(parts), "frames_replayed": count, "empty_node_bytes": fresh,
                      "word_bytes": 8 if sys.maxsize > 2 ** 32 else 4,
                      "priced": priced}))


main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
