"""One simspeed run in a fresh process: simspeed_child.py ROOT LAYOUT NODES SECONDS sized|defaults [split].

ROOT is the source tree whose simulator runs (this one, or the old one's
temporary worktree). Prints one JSON line: wall and CPU seconds, peak memory,
result. CPU seconds (user + system of this process) are what the bench
compares: on a machine shared by other work, wall time also counts the time
the process waited for a core.

`split` (a separate run, never the timed one: the wrappers cost ~1 us a
call) also reports the CPU spent inside the core's Node methods, the radio
model's set-up and the relaying decision. The core runs once per reception on any
simulator, so 1 / (core share) bounds what any speed-up of the simulator's
own code can give.
"""
import json
import os
import resource
import sys
import time

root, layout, nodes, duration, options = (sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
                                          sys.argv[5])
split = sys.argv[6:] == ["split"]
sys.path.insert(0, os.path.join(root, "host_tools"))
from nowmesh.sim.runner import simulate  # noqa: E402

CORE_METHODS = ("receive", "tick", "next_deadline", "publish", "send_done", "pop_events", "request")


def _timed(owner, name, totals, key):
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        started = time.process_time()
        try:
            return original(*args, **kwargs)
        finally:
            totals[key] += time.process_time() - started
            totals[key + "_calls"] += 1
    setattr(owner, name, wrapper)


def _instrument():
    """Wrap the core's entry points (CPython; the core is loaded by the simulator)."""
    from nowmesh.bundle import core
    from nowmesh.radio import model
    core.load()
    import sys
    import mesh.mesh
    import mesh.node
    totals = dict.fromkeys(("core", "core_calls", "receive", "receive_calls", "relaying",
                            "relaying_calls", "radio_setup", "radio_setup_calls"), 0.0)
    for name in CORE_METHODS:
        if hasattr(mesh.node.Node, name):
            _timed(mesh.node.Node, name, totals, "receive" if name == "receive" else "core")
    # the relaying decision is called through whichever core module imported
    # it: MPR's select_relays (mesh.mesh at the base commit, then mesh.hello),
    # the coverage condition's must_forward (mesh.hello, issue 14)
    for module in [m for name, m in sorted(sys.modules.items()) if name.startswith("mesh.")]:
        for function in ("select_relays", "must_forward"):
            if module.__name__ != "mesh.relays" and hasattr(module, function):
                _timed(module, function, totals, "relaying")
    _timed(model.RadioModel, "__init__", totals, "radio_setup")
    return totals


totals = _instrument() if split else None
# "sized": tables for the whole mesh, as the nowmesh1000 bench (every node
# holds every reading); "defaults": the board's bounded tables.
protocol_options = {"readings_max": 1024, "neighbours_max": 64} if options == "sized" else None
started, cpu_started = time.perf_counter(), time.process_time()
result = simulate(protocol="nowmesh", topology=layout, nodes=nodes, seed=1, duration_s=duration,
                  reading_interval_s=30.0, requests=0, protocol_options=protocol_options)
wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
result.pop("wall_s", None)
out = {"layout": layout, "nodes": nodes, "simulated_s": duration, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
       "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, "result": result}
if split:
    out["split"] = {key: round(value, 3) for key, value in totals.items()}
print(json.dumps(out, sort_keys=True))
