"""Live-emulation benchmarks: many emulated boards in real time on this machine.

Measures, from node n1's console (as a laptop would see the mesh): which
nodes' readings arrive, how long after start each node's first reading
arrives, the CPU the whole emulation uses, and the nodes' heap (the readings
carry gc.mem_free() of their origin).
"""
import os
import time

from nowmesh.console import ConsoleClient
from nowmesh.emulator import Emulation, parse_heap_bytes

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_seconds(pids):
    total = sum(os.times()[:2])                 # this process: medium and supervisors
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / TICKS
        except (OSError, ValueError, IndexError):
            pass
    return total


def live_mesh(nodes, seconds, topology="random", interval_s=10.0):
    with Emulation(topology, nodes=nodes, interval_s=interval_s) as emu:
        started = time.monotonic()
        cpu_start = _cpu_seconds([n.pid for n in emu.nodes])
        first_seen, min_free = {}, {}
        want = {n.mac.hex(":") for n in emu.nodes[1:]}
        with ConsoleClient(emu.nodes[0].port) as client:
            for line in client.lines(seconds):
                if line.kind != "event" or line.data.get("ev") != "reading":
                    continue
                origin = line.data["id"]
                first_seen.setdefault(origin, time.monotonic() - started)
                for name, value, _unit in line.data["values"]:
                    if name == "heap":
                        min_free[origin] = min(min_free.get(origin, value), value)
        wall = time.monotonic() - started
        cpu = _cpu_seconds([n.pid for n in emu.nodes]) - cpu_start
        heap_total = parse_heap_bytes(emu.heap)
    firsts = sorted(first_seen.values())
    return {
        "nodes": nodes, "topology": topology, "seconds": round(wall, 1),
        "readings_reached_n1_from": len(set(first_seen) & want), "of": len(want),
        "delivery_to_n1": round(len(set(first_seen) & want) / float(len(want)), 4) if want else None,
        "first_reading_at_n1_s": {"median": _pick(firsts, 0.5), "max": firsts[-1] if firsts else None},
        "cpu_cores_used": round(cpu / wall, 2), "machine_cores": os.cpu_count(),
        "heap_bytes_per_node": heap_total,
        "peak_heap_used_bytes": int(heap_total - min(min_free.values())) if min_free else None,
    }


def _pick(values, fraction):
    if not values:
        return None
    return round(values[min(len(values) - 1, int(fraction * len(values)))], 2)
