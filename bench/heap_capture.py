"""Record every frame one node receives in a simulated mesh, for bench/heap_probe.py.

The probe replays them into a fresh core Node under the micropython
interpreter and measures its heap: the state of one node in a mesh of that
size, with the real protocol's real traffic (no hand-made frames).
Record format, repeated: t_ms (u32) rssi (i8) src mac (6) length (u8) frame.
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "host_tools"))

from nowmesh.sim.engine import SimParams, Simulation  # noqa: E402
from nowmesh.sim.runner import make_topology  # noqa: E402

RECORD = struct.Struct("<Ib6sB")


def capture(path, nodes=100, seed=11, duration_s=180.0, probe=0):
    topo = make_topology("random", nodes, seed)
    sim = Simulation(topo, SimParams(protocol="nowmesh", seed=seed, duration_s=duration_s,
                                     reading_interval_s=10.0, requests=0))
    records = []
    original = sim.deliver

    def deliver(j, frame, sender, rssi):
        if j == probe:
            records.append(RECORD.pack(sim.q.now_ms, rssi, sim.nodes[sender].mac, len(frame)) + frame)
        original(j, frame, sender, rssi)

    sim.deliver = deliver
    result = sim.run()
    with open(path, "wb") as out:
        out.write(b"".join(records))
    held = len(sim.nodes[probe].proto.readings)
    return {"frames": len(records), "readings_held_in_sim": held, "nodes": nodes,
            "name": sim.nodes[probe].name, "mac": sim.nodes[probe].mac.hex(),
            "boot": sim.nodes[probe].boot, "delivery_ratio": result["delivery_ratio"]}


if __name__ == "__main__":
    print(capture(sys.argv[1] if len(sys.argv) > 1 else "/tmp/heap_capture.bin"))
