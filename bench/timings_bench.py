"""Durations the tests once asserted against the wall clock (`< 0.5 s`,
`< 10 s`, `< 30 s`): measured here instead, as numbers, never pass/fail.

- a 1000-node random topology generated (sim.topology.random_geometric);
- `nowmesh emulate --nodes 2 --seconds 3`, start to clean exit (3 s of it is
  the requested run).
(Deploy giving up on a chatty device is bounded by its REPL timeout by
construction; tests/deploy checks that it gives up.)
Each is the median of a few runs (fewer with --quick).
"""
import os
import statistics
import sys
import tempfile
import time

from nowmesh.cli import main as nowmesh_main
from nowmesh.sim import topology


def _median_s(fn, runs):
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times), 3)


def _topology():
    topology.random_geometric(1000, 7)


def _emulate():
    with tempfile.TemporaryDirectory() as state:
        devnull = open(os.devnull, "w")
        saved, sys.stdout = sys.stdout, devnull
        try:
            assert nowmesh_main(["emulate", "--nodes", "2", "--state-dir", state, "--seconds", "3"]) == 0
        finally:
            sys.stdout = saved
            devnull.close()


def run(quick):
    runs = 1 if quick else 3
    result = {
        "topology_random_1000_s": _median_s(_topology, runs),
        "emulate_2_nodes_3s_run_s": _median_s(_emulate, runs),
        "runs": runs,
    }
    for k, v in sorted(result.items()):
        print("%-40s %s" % (k, v))
    return result
