# Heap of one mesh-core node holding a whole mesh's state, under the real
# micropython interpreter: replays a capture made by bench/heap_capture.py
# into a fresh Node and reports gc.mem_alloc() growth as JSON. Frames are
# streamed from the file so the capture itself takes no heap.
# Usage: micropython bench/heap_probe.py CAPTURE NAME MAC_HEX BOOT
import gc
import json
import struct
import sys

from mesh.node import Node

KEY = bytes(range(16))         # the simulator's default network key
_SAMPLE_EVERY = 250            # frames between gc.collect() samples of live heap


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


def main(path, name, mac_hex, boot):
    gc.collect()
    base = gc.mem_alloc()
    node = Node({"id": bytes.fromhex(mac_hex), "name": name, "key": KEY}, boot, b"heapprobe", 0)
    with open(path, "rb") as stream:
        count, max_live = replay(node, stream, base)
    gc.collect()
    print(json.dumps({"heap_bytes": gc.mem_alloc() - base, "max_live_bytes": max_live,
                      "readings_held": len(node.readings), "frames_replayed": count}))


main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
