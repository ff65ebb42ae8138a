"""`nowmesh nodes --json` on a converged live emulated mesh (20 nodes; 10 with --quick).

Measured on node n1's port, as a laptop would: the `nowmesh nodes PORT
--json` command as a subprocess (Python start-up and imports included), and
the same query through the library in this process (open the port, check
the node's hello, ask it for readings, routes and neighbours). The first
call also learns the names of nodes more than one hop away (one remote
`hello` each, through the mesh; the node remembers them), so it is reported
apart from the warm calls that follow. Target: under 1 s once converged.
"""
import json
import os
import statistics
import subprocess
import sys
import time

from nowmesh.emulation.mesh import Emulation
from nowmesh.query import MeshSession, known_nodes

CONVERGE_TIMEOUT_S = 180.0
WARM_CALLS = 5


def _nowmesh_command():
    exe = os.path.join(os.path.dirname(sys.executable), "nowmesh")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "nowmesh"]


def _wait_converged(port, count):
    """(seconds until n1 has a reading from and a route to every node,
    how many of them it cannot name yet)."""
    started = time.monotonic()
    while time.monotonic() - started < CONVERGE_TIMEOUT_S:
        try:
            with MeshSession(port) as session:
                nodes = known_nodes(session, learn_names=False)
            if len(nodes) == count and all(n["hops"] is not None and n["last_heard_s"] is not None
                                           for n in nodes):
                return time.monotonic() - started, sum(1 for n in nodes if not n["name"])
        except Exception:            # noqa: BLE001 -- booting nodes, a lost answer: ask again
            pass
        time.sleep(2.0)
    raise RuntimeError("the %d-node mesh did not converge within %gs" % (count, CONVERGE_TIMEOUT_S))


def _cli_call(port):
    started = time.monotonic()
    done = subprocess.run(_nowmesh_command() + ["nodes", port, "--json"], capture_output=True, text=True,
                          timeout=120)
    seconds = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError("nowmesh nodes failed: %s" % done.stderr.strip())
    return seconds, json.loads(done.stdout)["nodes"]


def _library_call(port):
    started = time.monotonic()
    with MeshSession(port) as session:
        nodes = known_nodes(session)
    return time.monotonic() - started, nodes


def _stats(seconds):
    return {"median_s": round(statistics.median(seconds), 3), "max_s": round(max(seconds), 3),
            "calls": len(seconds)}


def run(quick=False):
    count = 10 if quick else 20
    with Emulation("grid", nodes=count, interval_s=5) as emu:
        port = emu.nodes[0].port
        converge_s, unnamed = _wait_converged(port, count)
        cold_s, nodes = _cli_call(port)
        cli = [_cli_call(port)[0] for _ in range(WARM_CALLS)]
        library = [_library_call(port)[0] for _ in range(WARM_CALLS)]
        listed = len(_library_call(port)[1])
    result = {
        "nodes": count, "topology": "grid", "converged_after_s": round(converge_s, 1),
        "nodes_listed": listed, "names_learnt_on_first_call": unnamed,
        "named": sum(1 for n in nodes if n["name"]),
        "max_hops": max(n["hops"] or 0 for n in nodes),
        "cli_first_call_s": round(cold_s, 3), "cli_warm": _stats(cli), "library_warm": _stats(library),
        "target_s": 1.0, "loadavg": open("/proc/loadavg").read().split()[:3],
    }
    _print(result)
    return result


def _print(r):
    print("nowmesh nodes --json on a converged %d-node %s mesh (n1's port), converged after %ss"
          % (r["nodes"], r["topology"], r["converged_after_s"]))
    print("  %-44s %8s %8s" % ("", "median", "max"))
    print("  %-44s %8.3f %8s" % ("CLI, first call (learns %d names)" % r["names_learnt_on_first_call"], r["cli_first_call_s"], ""))
    print("  %-44s %8.3f %8.3f" % ("CLI subprocess, warm (%d calls)" % r["cli_warm"]["calls"],
                                  r["cli_warm"]["median_s"], r["cli_warm"]["max_s"]))
    print("  %-44s %8.3f %8.3f" % ("library in-process, warm (%d calls)" % r["library_warm"]["calls"],
                                  r["library_warm"]["median_s"], r["library_warm"]["max_s"]))
    print("  nodes listed %d, farthest %d hops; target < %.1f s; load average %s"
          % (r["nodes_listed"], r["max_hops"], r["target_s"], " ".join(r["loadavg"])))


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
