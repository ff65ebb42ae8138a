"""simspeed: this simulator against the one at BASE_COMMIT, side by side.

The old simulator is checked out into a temporary `git worktree`; each run is
a fresh subprocess (bench/simspeed_child.py) of the same Python with either
tree's host_tools on its path, so the two are measured under the same load,
one after the other, size by size. Reported per run: CPU and wall seconds,
simulated node-seconds per CPU second, peak resident memory; per simulator:
the fitted exponent of time against N (least squares on log-log); the
old/new ratio at every size. Results of the same seed are compared too (they
agree only while the core is the same: issue 14 changed the protocol since
BASE_COMMIT, so they differ, and the old/new ratio is the whole stack's).

Times are CPU seconds of the run's process: on this machine (2 cores shared
by several agents) wall time mostly measures waiting for a core (a quick run
took 65 s of wall for 11 s of CPU). Wall seconds are printed beside them.

The layout is the nowmesh1000 one (random, seed 1, a reading every 30 s,
tables sized for the mesh). The machine is shared, so absolute seconds are
noisy; the ratios, measured in one run, are the figures to quote.
The 10,000-node run (--full) uses a 100 x 100 grid: random layouts of that
size are rarely connected at the generator's mean degree of 8.
"""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BASE_COMMIT = "917a340"      # the simulator before issue 13
CHILD = os.path.join(HERE, "simspeed_child.py")

# (nodes, simulated seconds) measured on both simulators; the same duration
# for every size so the exponent compares like with like.
# 5 simulated seconds: within the start-up storm, the costliest stretch of a run
# (the old simulator needs hours for 3000 nodes x 600 s on a shared machine).
SIDE_BY_SIDE = [(100, 5.0), (300, 5.0), (1000, 5.0), (3000, 5.0)]
QUICK = [(100, 3.0), (300, 3.0)]
# --full adds, for the new simulator only: the headline run (the old
# one took 2,556 s there) and 10,000 nodes for 300 s (time and peak memory).
HEADLINE = ("random", 1000, 600.0)
FULL = ("grid", 10000, 300.0)


def run(quick, full=False):
    sizes = QUICK if quick else SIDE_BY_SIDE
    old_root = tempfile.mkdtemp(prefix="simspeed-old-")
    try:
        _checkout(old_root)
        rows = []
        for nodes, duration in sizes:
            new = _measure(ROOT, "random", nodes, duration)
            old = _measure(old_root, "random", nodes, duration)
            row = {"nodes": nodes, "simulated_s": duration, "new": new, "old": old,
                   "speedup": round(old["cpu_s"] / new["cpu_s"], 2),
                   "same_result": new["result"] == old["result"]}
            rows.append(row)
            _print_row(row)
    finally:
        _remove(old_root)
    out = {"base_commit": BASE_COMMIT, "rows": rows,
           "exponent_new": _exponent(rows, "new"), "exponent_old": _exponent(rows, "old")}
    print("  fitted exponent of CPU time vs N: new %.2f, old %.2f (goal <= 1.2)" % (
        out["exponent_new"], out["exponent_old"]))
    print("  work per node: frames sent per node-second %s; CPU per frame sent (new) %s us" % (
        " / ".join(str(r["new"]["frames_per_node_s"]) for r in rows),
        " / ".join(str(r["new"]["cpu_us_per_frame"]) for r in rows)))
    out["split"] = _split(*sizes[-1])
    # The floor on this tree's CPU: its core's own work. Against the old
    # simulator's time at the same size, the best ratio any simulator-side
    # work could reach (the core's work per reception is the protocol's).
    out["split"]["best_ratio_vs_old"] = round(rows[-1]["old"]["cpu_s"] / out["split"]["core_cpu_s"], 2)
    print("  floor: the core alone takes %.1f s CPU at %d nodes x %gs; the old simulator took %.1f s, so"
          " old/new cannot exceed %.2fx however cheap the simulator's own code gets" % (
              out["split"]["core_cpu_s"], sizes[-1][0], sizes[-1][1], rows[-1]["old"]["cpu_s"],
              out["split"]["best_ratio_vs_old"]), flush=True)
    if full:
        out["headline_new"] = _measure(ROOT, *HEADLINE)
        _print_one("new, headline", out["headline_new"])
        out["full_new"] = _measure(ROOT, *FULL, options="defaults")
        _print_one("new, --full", out["full_new"])
    return out


def _checkout(path):
    subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", path, BASE_COMMIT],
                   check=True, capture_output=True)


def _remove(path):
    subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", path], capture_output=True)
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run(["git", "-C", ROOT, "worktree", "prune"], capture_output=True)


def _measure(root, layout, nodes, duration, options="sized", split=False):
    proc = subprocess.run([sys.executable, CHILD, root, layout, str(nodes), str(duration), options]
                          + (["split"] if split else []), capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit("simspeed run failed (%s, %d nodes):\n%s" % (root, nodes, proc.stderr[-2000:]))
    data = json.loads(proc.stdout.strip().splitlines()[-1])
    data["node_s_per_cpu_s"] = round(nodes * duration / data["cpu_s"], 1)
    # The work the protocol asks for: frames per node-second grows with N
    # (every node carries every reading), so CPU per frame is the figure
    # that shows whether the simulator itself scales linearly.
    frames = data["result"]["frames_sent"]
    data["frames_per_node_s"] = round(frames / (nodes * duration), 3)
    data["cpu_us_per_frame"] = round(1e6 * data["cpu_s"] / frames, 1) if frames else None
    return data


def _split(nodes, duration):
    """Where the CPU goes at the largest size (a separate, instrumented run of this tree)."""
    data = _measure(ROOT, "random", nodes, duration, split=True)
    split = data["split"]
    core = split["core"] + split["receive"]
    out = {"nodes": nodes, "simulated_s": duration, "cpu_s": data["cpu_s"],
           "core_cpu_s": round(core, 2), "core_share": round(core / data["cpu_s"], 3),
           "radio_setup_cpu_s": split["radio_setup"], "relaying_cpu_s": split["relaying"],
           "receptions": int(split["receive_calls"]),
           "core_receive_us": round(1e6 * split["receive"] / max(1, split["receive_calls"]), 1),
           "receptions_per_node_s": round(split["receive_calls"] / (nodes * duration), 1),
           "bound_if_simulator_free": round(data["cpu_s"] / core, 2)}
    print("  where the CPU goes (%d nodes x %gs, instrumented run): core %.1f of %.1f s (%.0f %%; radio model"
          " set-up %.1f s, relaying decision %.1f s); %d receptions (%.1f per node-second), core receive"
          " %.1f us each; a simulator costing nothing would be at most %.2fx faster" % (
              nodes, duration, core, data["cpu_s"], 100 * out["core_share"], out["radio_setup_cpu_s"],
              out["relaying_cpu_s"], out["receptions"], out["receptions_per_node_s"],
              out["core_receive_us"], out["bound_if_simulator_free"]), flush=True)
    return out


def _exponent(rows, which):
    """Slope of log(CPU seconds) against log(N), least squares."""
    xs = [math.log(r["nodes"]) for r in rows]
    ys = [math.log(r[which]["cpu_s"]) for r in rows]
    if len(xs) < 2:
        return None
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return round(sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs), 3)


def _print_row(row):
    new, old = row["new"], row["old"]
    print("  %5d nodes x %gs: new %s | old %s | old/new %.2fx | same result: %s" % (
        row["nodes"], row["simulated_s"], _figures(new), _figures(old), row["speedup"],
        "yes" if row["same_result"] else "NO"), flush=True)


def _figures(data):
    return "%7.1f s CPU (%6.1f wall), %7.1f node-s/s, %4d MB" % (
        data["cpu_s"], data["wall_s"], data["node_s_per_cpu_s"], data["peak_rss_mb"])


def _print_one(label, data):
    print("  %s: %s %d nodes x %gs: %s, delivery %s" % (
        label, data["layout"], data["nodes"], data["simulated_s"], _figures(data),
        data["result"]["delivery_ratio"]), flush=True)
