"""`make bench`: the project's performance figures, measured, never asserted.

Each benchmark runs its protocols on the identical topology, radio and seed in
this one process, prints a side-by-side table and writes JSON to
bench/results/<name>.json. `--only NAME` runs one; `--quick` shortens runs
(for a smoke check, not for figures to quote).
"""
import argparse
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "host_tools"))
sys.path.insert(0, HERE)

from nowmesh.sim import report  # noqa: E402
from nowmesh.sim.runner import make_topology, simulate  # noqa: E402
from nowmesh.radio.scenario import kill_and_revive  # noqa: E402

RESULTS = os.path.join(HERE, "results")
PROTOCOLS = ("nowmesh", "flood", "managed-flood")


def _compare(name, topology_kind, nodes, seed, duration_s, quick, scenario_fn=None, **params):
    if quick:
        duration_s = min(duration_s, 120.0)
    topo = make_topology(topology_kind, nodes, seed)
    scenario = scenario_fn(topo, seed, duration_s) if scenario_fn else None
    results = []
    for protocol in PROTOCOLS:
        print("  %s: %s ..." % (name, protocol), flush=True)
        results.append(simulate(protocol=protocol, topology=topo, seed=seed, scenario=scenario,
                                duration_s=duration_s, **params))
    by_name = {r["protocol"]: r for r in results}
    ratios = {
        "nowmesh_vs_flood_airtime": _ratio(by_name, "nowmesh", "flood"),
        "nowmesh_vs_managed_flood_airtime": _ratio(by_name, "nowmesh", "managed-flood"),
    }
    print(report.format_comparison(results))
    print("  airtime per reading, nowmesh / flood = %s, nowmesh / managed-flood = %s" % (
        ratios["nowmesh_vs_flood_airtime"], ratios["nowmesh_vs_managed_flood_airtime"]))
    return {"results": results, "ratios": ratios}


def _ratio(by_name, a, b):
    x, y = by_name[a]["airtime_per_reading_ms"], by_name[b]["airtime_per_reading_ms"]
    return round(x / y, 3) if x and y else None


def _kill_revive(topo, seed, duration_s):
    kill_at, revive_at = min(200.0, duration_s / 3), min(400.0, 2 * duration_s / 3)
    return kill_and_revive(topo, 0.1, kill_at, revive_at, seed)


def bench_random100(quick):
    return _compare("random-100, 10% loss", "random", 100, 11, 600.0, quick, loss=0.1,
                    reading_interval_s=10.0, requests=200)


def bench_grid25_kill(quick):
    return _compare("grid-25, kill 10% / revive", "grid", 25, 5, 600.0, quick, _kill_revive,
                    reading_interval_s=10.0, requests=50)


def bench_random100_kill(quick):
    return _compare("random-100, kill 10% / revive", "random", 100, 11, 600.0, quick, _kill_revive,
                    reading_interval_s=10.0, requests=100)


def _speed(protocol, nodes, duration_s, quick, options=None):
    if quick:
        duration_s = min(duration_s, 10.0)
    started = time.perf_counter()
    result = simulate(protocol=protocol, topology="random", nodes=nodes, seed=1,
                      duration_s=duration_s, reading_interval_s=30.0, requests=0,
                      protocol_options=options)
    wall = time.perf_counter() - started
    print("  %s, %d nodes, %gs simulated: %.1f s wall (%.2fx real time), delivery %s" % (
        protocol, nodes, duration_s, wall, duration_s / wall, result["delivery_ratio"]))
    return {"protocol": protocol, "nodes": nodes, "simulated_s": duration_s,
            "wall_s": round(wall, 2), "result": result}


def bench_flood1000(quick):
    return _speed("flood", 1000, 60.0, quick)


def bench_nowmesh1000(quick):
    # Tables sized for the mesh (board defaults hold 128 origins, 32 neighbours):
    # every node keeps all 1000 readings, as the delivery metric assumes.
    return _speed("nowmesh", 1000, 600.0, quick, {"readings_max": 1024, "neighbours_max": 64})


def bench_heap(quick):
    """One core node's heap under micropython after a simulated 100-node mesh."""
    from heap_capture import capture
    capture_path = os.path.join(RESULTS, "heap_capture.tmp")
    info = capture(capture_path, nodes=100, duration_s=60.0 if quick else 180.0)
    upy = os.path.join(os.path.dirname(sys.executable), "micropython")
    root = os.path.dirname(HERE)
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([os.path.join(root, "firmware"),
                                                        os.path.join(root, "tests", "core")]))
    proc = subprocess.run([upy, "-X", "heapsize=8M", os.path.join(HERE, "heap_probe.py"), capture_path,
                           info["name"], info["mac"], str(info["boot"])],
                          capture_output=True, text=True, env=env, timeout=600)
    os.remove(capture_path)
    if proc.returncode != 0:
        raise SystemExit("heap probe failed:\n" + proc.stderr)
    probe = json.loads(proc.stdout.strip().splitlines()[-1])
    target = 32 * 1024
    probe["target_bytes"] = target
    probe["target_met"] = probe["heap_bytes"] <= target
    print("  one node after %d frames of a 100-node mesh: heap_bytes %d (max live %d; target %d: %s), "
          "%d readings held (micropython unix port, %d-bit)" % (
              probe["frames_replayed"], probe["heap_bytes"], probe["max_live_bytes"], target,
              "met" if probe["target_met"] else "NOT met", probe["readings_held"], 8 * probe["word_bytes"]))
    print("  " + ", ".join("%s %d" % kv for kv in sorted(probe["breakdown"].items(), key=lambda kv: -kv[1])))
    priced = probe["priced"]
    probe["heap_bytes_32bit_estimate"] = priced["model_32bit_bytes"]
    print("  the same %d allocations priced at 64 bits: %d B (measured %d); at 32 bits (ESP32): %d B "
          "(target %s there)" % (priced["allocations"], priced["model_64bit_bytes"], probe["heap_bytes"],
                                 priced["model_32bit_bytes"],
                                 "met" if priced["model_32bit_bytes"] <= target else "NOT met"))
    return dict(probe, capture=info)


def bench_live50(quick):
    """50 emulated boards in real time (10 with --quick): delivery to n1, boot to first reading, CPU, heap."""
    from live import live_mesh
    result = live_mesh(10 if quick else 50, 30.0 if quick else 90.0)
    print("  %(nodes)d live nodes for %(seconds)ss: readings from %(readings_reached_n1_from)d/%(of)d nodes "
          "reached n1; first reading at n1 after %(first_reading_at_n1_s)s s; %(cpu_cores_used)s of "
          "%(machine_cores)d cores; peak heap in use %(peak_heap_used_bytes)s of %(heap_bytes_per_node)s "
          "bytes per node" % result)
    return result


def bench_live20_heap(quick):
    """Firmware heap on emulated boards of a live 20-node mesh (issue 4's heap target)."""
    from live import boots_at, code_heap, heap_peaks
    from nowmesh.emulation.board.pty_board import SHIM_HEAP
    result = heap_peaks(20, 30.0 if quick else 60.0)
    result.update(code_heap())
    result["repl_shim_bytes"] = SHIM_HEAP
    ok, error = boots_at("110K")
    result["starts_at_110K"] = ok
    result["error_at_110K"] = error
    peak = result["peak_heap_alloc_bytes"]["max"]
    print("  20 live nodes at heap %(heap)s: peak gc.mem_alloc() %(peak)s B (median %(median)s), "
          "min free %(free)s B, %(crashes)d crashes, %(reporting)d/20 nodes reporting" % {
              "heap": result["heap"], "peak": peak, "median": result["peak_heap_alloc_bytes"]["median"],
              "free": result["min_heap_free_bytes"], "crashes": result["crashes"],
              "reporting": result["nodes_reporting"]})
    print("  of which imported code: firmware %(firmware_code_bytes)d B, emulation-only modules "
          "%(emulation_modules_bytes)d B; REPL shim allowance %(repl_shim_bytes)d B (64-bit unix port)" % result)
    print("  at heap 110K: %s" % ("starts" if ok else "does not start (%s)" % error))
    return result


BENCHES = {
    "random100": bench_random100,
    "grid25_kill": bench_grid25_kill,
    "random100_kill": bench_random100_kill,
    "flood1000": bench_flood1000,
    "nowmesh1000": bench_nowmesh1000,
    "heap": bench_heap,
    "live50": bench_live50,
    "live20_heap": bench_live20_heap,
}
# Benchmarks that live in their own module bench/<module>.py with run(quick) -> dict.
MODULE_BENCHES = {
    "deploy": "deploy_bench",        # nowmesh deploy vs mpremote fs cp -r vs ampy put
    "nodes20": "nodes_bench",        # `nowmesh nodes --json` on a converged 20-node mesh
    "provision": "provision_bench",  # image + flash --all vs flash + deploy, 5 boards
    "heap32": "heap32",              # the core's heap on 32-bit MicroPython (wasm port) and 64-bit unix
    "timings": "timings_bench",      # durations tests no longer assert: topology generation, emulate run
    "simspeed": "simspeed",          # this simulator vs the one before issue 13, side by side
    "sweep200": "sweep_bench",       # a 200-run sweep: local processes vs a Dask LocalCluster
    "mqtt": "mqtt_bench",            # nowmesh bridge: board -> broker latency, outage loss, CPU
    "matrix": "matrix",              # issue 14's scenario matrix: three protocols per cell, and a floor
    "ota": "ota_bench",              # a 64 KB signed bundle over random-100 at 10% loss (mesh/ota.py); 1000 power-cut runs
    "app": "app_bench",              # the user app API: ping p95 before/after the asyncio loop, heap on 32 bits
}
# Benchmarks with a longer form behind --full: run(quick, full).
FULL_BENCHES = {"simspeed", "matrix"}


def _module_bench(module_name):
    def run(quick, **extra):
        import importlib
        return importlib.import_module(module_name).run(quick, **extra)
    return run


for _name, _module in MODULE_BENCHES.items():
    if os.path.exists(os.path.join(HERE, _module + ".py")):
        BENCHES[_name] = _module_bench(_module)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(BENCHES), action="append")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--full", action="store_true",
                        help="the long forms too (simspeed: 10,000 nodes for 300 simulated seconds)")
    args = parser.parse_args(argv)
    os.makedirs(RESULTS, exist_ok=True)
    for name in args.only or BENCHES:
        print("== %s" % name, flush=True)
        extra = {"full": True} if args.full and name in FULL_BENCHES else {}
        data = BENCHES[name](args.quick, **extra)
        data["quick"] = args.quick
        with open(os.path.join(RESULTS, name + ".json"), "w") as out:
            json.dump(data, out, indent=2, sort_keys=True)
        print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
