"""One simspeed run in a fresh process: simspeed_child.py ROOT LAYOUT NODES SECONDS sized|defaults.

ROOT is the source tree whose simulator runs (this one, or the old one's
temporary worktree). Prints one JSON line: wall and CPU seconds, peak memory,
result. CPU seconds (user + system of this process) are what the bench
compares: on a machine shared by other work, wall time also counts the time
the process waited for a core.
"""
import json
import os
import resource
import sys
import time

root, layout, nodes, duration, options = (sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
                                          sys.argv[5])
sys.path.insert(0, os.path.join(root, "host_tools"))
from nowmesh.sim.runner import simulate  # noqa: E402

# "sized": tables for the whole mesh, as the nowmesh1000 bench (every node
# holds every reading); "defaults": the board's bounded tables.
protocol_options = {"readings_max": 1024, "neighbours_max": 64} if options == "sized" else None
started, cpu_started = time.perf_counter(), time.process_time()
result = simulate(protocol="nowmesh", topology=layout, nodes=nodes, seed=1, duration_s=duration,
                  reading_interval_s=30.0, requests=0, protocol_options=protocol_options)
wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
result.pop("wall_s", None)
print(json.dumps({"layout": layout, "nodes": nodes, "simulated_s": duration, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                  "result": result}, sort_keys=True))
