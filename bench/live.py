"""Live-emulation benchmarks: many emulated boards in real time on this machine.

Measures, from node n1's console (as a laptop would see the mesh): which
nodes' readings arrive, how long after start each node's first reading
arrives, the CPU the whole emulation uses, and the nodes' heap (the readings
carry gc.mem_free() of their origin).
"""
import os
import time

from nowmesh.console.protocol import parse_line
from nowmesh.emulation.mesh import Emulation, parse_heap_bytes

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


class _ReadingTimes:
    """A tap on one board's output: when each origin's first reading event
    appeared there, and the lowest heap figure each origin reported."""

    def __init__(self):
        self.first_seen, self.min_free = {}, {}
        self._buf = bytearray()

    def __call__(self, data):                 # the board's supervisor thread
        self._buf += data
        while b"\n" in self._buf:
            end = self._buf.index(b"\n")
            line, self._buf = bytes(self._buf[:end]), self._buf[end + 1:]
            self._line(parse_line(line.decode("utf-8", "replace").rstrip("\r")))

    def _line(self, line):
        if line.kind != "event" or line.data.get("ev") != "reading" or line.data.get("local"):
            return
        origin = line.data.get("id")
        self.first_seen.setdefault(origin, time.monotonic())
        for name, value, _unit in line.data.get("values") or ():
            if name == "heap":
                self.min_free[origin] = min(self.min_free.get(origin, value), value)


def live_mesh(nodes, seconds, topology="random", interval_s=10.0):
    # Boot to first reading is timed per node, from its power-on to the
    # moment its reading shows on n1's console. n1's output is tapped from
    # n1's own power-on, so readings that arrive while the other boards are
    # still being started count too (a console opened afterwards missed
    # them, and counted the next reading, an interval later).
    times = _ReadingTimes()
    emu = Emulation(topology, nodes=nodes, interval_s=interval_s, taps={"n1": times})
    with emu:
        started = time.monotonic()
        cpu_start = _cpu_seconds([n.pid for n in emu.nodes])
        want = {n.mac.hex(":") for n in emu.nodes[1:]}
        powered_on = {n.mac.hex(":"): n.powered_on_at for n in emu.nodes}
        time.sleep(seconds)
        wall = time.monotonic() - started
        cpu = _cpu_seconds([n.pid for n in emu.nodes]) - cpu_start
        first_seen = {origin: t - powered_on.get(origin, started) for origin, t in times.first_seen.items()}
        min_free = dict(times.min_free)
        # the readings' "heap" value is gc.mem_free() of the whole interpreter,
        # whose heap is `heap` plus the REPL shim's allowance (emunode.board)
        from nowmesh.emulation.board.pty_board import SHIM_HEAP
        heap_total = emu.nodes[0].board.heap_bytes() + SHIM_HEAP
    firsts = sorted(first_seen.values())
    return {
        "nodes": nodes, "topology": topology, "seconds": round(wall, 1),
        "readings_reached_n1_from": len(set(first_seen) & want), "of": len(want),
        "delivery_to_n1": round(len(set(first_seen) & want) / float(len(want)), 4) if want else None,
        # per node: from its power-on to its first reading arriving at n1
        "first_reading_at_n1_s": {"median": _pick(firsts, 0.5), "p90": _pick(firsts, 0.9),
                                  "max": round(firsts[-1], 2) if firsts else None},
        "start_all_nodes_s": round(started - min(powered_on.values()), 2),
        "cpu_cores_used": round(cpu / wall, 2), "machine_cores": os.cpu_count(),
        "heap_bytes_per_node": heap_total,
        "peak_heap_used_bytes": int(heap_total - min(min_free.values())) if min_free else None,
    }


def _pick(values, fraction):
    if not values:
        return None
    return round(values[min(len(values) - 1, int(fraction * len(values)))], 2)


# ---------------------------------------------------------------- heap peaks
# Every node's own `stats` events carry gc.mem_alloc() right after a
# gc.collect() (heap_alloc): the live heap of the whole interpreter, which on
# an emulated node also holds what a board keeps in ROM -- the REPL shim (its
# SHIM_HEAP allowance) and the emulation-only espnow/network/machine modules,
# here compiled from source on the node -- and, on this 64-bit unix port,
# twice an ESP32's pointer and object-header sizes.

def _watch_heap(port, seconds, out):
    from nowmesh.console import ConsoleClient
    rec = out.setdefault(port, {"alloc": [], "free": [], "crashes": [], "readings": 0})
    try:
        with ConsoleClient(port) as client:
            for line in client.lines(seconds):
                if line.kind != "event":
                    continue
                ev = line.data.get("ev")
                if ev == "stats":
                    rec["alloc"].append(line.data.get("heap_alloc"))
                    rec["free"].append(line.data.get("heap_free"))
                    rec["readings"] = line.data.get("readings")
                elif ev == "crash":
                    rec["crashes"].append(line.data.get("error"))
    except Exception as exc:           # a node that went away is reported, not fatal
        rec["crashes"].append(repr(exc))


def heap_peaks(nodes=20, seconds=60.0, heap=None, topology="random"):
    """Peak gc.mem_alloc() of every node of a live mesh, from its stats events."""
    import threading
    from nowmesh.emulation.mesh import DEFAULT_HEAP
    heap = heap or DEFAULT_HEAP
    out = {}
    with Emulation(topology, nodes=nodes, interval_s=10, heap=heap) as emu:
        threads = [threading.Thread(target=_watch_heap, args=(n.port, seconds, out)) for n in emu.nodes]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    peaks = sorted(max(r["alloc"]) for r in out.values() if r["alloc"])
    from nowmesh.emulation.board.pty_board import SHIM_HEAP
    return {"nodes": nodes, "seconds": seconds, "heap": heap, "heap_bytes_per_node": parse_heap_bytes(heap),
            "interpreter_heap_bytes": parse_heap_bytes(heap) + SHIM_HEAP,
            "nodes_reporting": len(peaks), "crashes": sum(len(r["crashes"]) for r in out.values()),
            "readings_held_min": min([r["readings"] for r in out.values()] or [0]),
            "peak_heap_alloc_bytes": {"max": peaks[-1] if peaks else None, "median": _pick(peaks, 0.5)},
            "min_heap_free_bytes": min([min(r["free"]) for r in out.values() if r["free"]] or [None])}


def boots_at(heap, seconds=8.0):
    """Does one emulated node start the firmware with this heap? -> (ok, first error line)."""
    from nowmesh.console import ConsoleClient
    with Emulation("line", nodes=1, heap=heap, interval_s=10) as emu:
        with ConsoleClient(emu.nodes[0].port) as client:
            client.port.write(b"\x04")        # soft reset: see the boot from its start
            for line in client.lines(seconds):
                text = line.text or ""
                if line.kind == "event" and line.data.get("ev") == "stats":
                    return True, None
                if "MemoryError" in text or (line.kind == "event" and line.data.get("ev") == "crash"):
                    return False, (text or line.data.get("error")).strip()
    return False, "no stats event within %gs" % seconds


def code_heap():
    """Heap the imported code takes on this interpreter (no mesh running):
    the firmware compiled by mpy-cross, and the emulation-only modules."""
    import subprocess
    import sys
    import tempfile
    from nowmesh.bundle import Compiler, board_files
    from nowmesh.emulation.mesh import EMULATION_PATH
    probe = ("import gc\ngc.collect()\na = gc.mem_alloc()\nimport machine, espnow, network, esp32\n"
             "gc.collect()\nb = gc.mem_alloc()\nimport meshport.app\ngc.collect()\n"
             "print(b - a, gc.mem_alloc() - b)\n")
    upy = os.path.join(os.path.dirname(sys.executable), "micropython")
    with tempfile.TemporaryDirectory() as tmp:
        for path, data in board_files(Compiler.native()).items():
            if path.endswith(".mpy"):
                os.makedirs(os.path.dirname(os.path.join(tmp, path)), exist_ok=True)
                with open(os.path.join(tmp, path), "wb") as out:
                    out.write(data)
        env = dict(os.environ, MICROPYPATH=os.pathsep.join([tmp] + EMULATION_PATH))
        proc = subprocess.run([upy, "-X", "heapsize=1M", "-c", probe], capture_output=True, text=True,
                              env=env, timeout=60)
    shims, firmware = [int(x) for x in proc.stdout.split()]
    return {"firmware_code_bytes": firmware, "emulation_modules_bytes": shims}
