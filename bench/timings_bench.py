"""Durations the tests once asserted against the wall clock (`< 0.5 s`,
`< 10 s`, `< 30 s`): measured here instead, as numbers, never pass/fail.

- a 1000-node random topology generated (sim.topology.random_geometric);
- `nowmesh emulate --nodes 2 --seconds 3`, start to clean exit (3 s of it is
  the requested run);
- deploy giving up on a chatty serial device that is not MicroPython (a GPS
  module's lines, forever; REPL timeout 0.3 s).
Each is the median of a few runs (fewer with --quick).
"""
import os
import pty
import statistics
import sys
import tempfile
import threading
import time

from nowmesh.cli import main as nowmesh_main
from nowmesh.deploy import DeployOptions, deploy_board
from nowmesh.errors import ToolError
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


def _chatty_device():
    master, slave = pty.openpty()
    os.set_blocking(master, False)
    stop = threading.Event()

    def talk():
        while not stop.wait(0.02):
            try:
                os.write(master, b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M\r\n")
            except OSError:
                return
    threading.Thread(target=talk, daemon=True).start()
    with tempfile.TemporaryDirectory() as project:
        try:
            deploy_board(os.ttyname(slave), DeployOptions(key_file=os.path.join(project, "key.json"),
                                                          repl_timeout=0.3))
        except ToolError:
            pass              # the expected outcome: "no MicroPython REPL answered"
        finally:
            stop.set()
            os.close(master)
            os.close(slave)


def run(quick):
    runs = 1 if quick else 3
    result = {
        "topology_random_1000_s": _median_s(_topology, runs),
        "emulate_2_nodes_3s_run_s": _median_s(_emulate, runs),
        "deploy_gives_up_on_chatty_device_s": _median_s(_chatty_device, runs),
        "runs": runs,
    }
    for k, v in sorted(result.items()):
        print("%-40s %s" % (k, v))
    return result
