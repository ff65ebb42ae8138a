"""matrix: the scenario matrix of issue 14 — nowmesh, flood and managed-flood on
the same topology, radio and seed, cell by cell, through the sweep runner.

Cells come from bench/matrix.json (layout, nodes, extra loss, reading
interval, optional churn or mover); `--full` adds its `full_cells` and
`full_seeds`. Each run lasts 10 reading intervals (at least 600 s), so every
node publishes >= 10 readings. Per cell and protocol: delivery, airtime per
reading, control share
(of frames sent: the simulator counts control frames, not their airtime),
p50/p95 latency, loops, and the cell's **floor** (nowmesh/sim/floors.py: a
connected dominating set of the usable-link graph is the fewest
transmissions any broadcast scheme spends per reading; with the cell's loss,
that wave plus omniscient repairs; one reading per frame unless the 1 s
freshness budget lets readings share one; plus the keep-alive frames a node
that relays nothing must send so that its death is noticed within the
failure time). A summary per protocol gives the worst cell and the geometric
mean of its ratios.
"""
import json
import math
import os
import random
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "host_tools"))

from nowmesh.radio import topology as topo_mod  # noqa: E402
from nowmesh.sim import floors  # noqa: E402
from nowmesh.sim.sweep import run_id, run_one  # noqa: E402
from nowmesh.sim.sweep_exec import default_workers, run_local  # noqa: E402

PROTOCOLS = ("nowmesh", "flood", "managed-flood")
LINK_RANGE_M = 300.0
MIN_DURATION_S = 600.0


# ------------------------------------------------------------ layouts

def _corridor(n, rng):
    """A strip 5 m wide, a node every 150 +- 50 m along it: about 4
    neighbours each, and no gap wider than the 300 m link range."""
    return [(i * 150.0 + rng.uniform(-50.0, 50.0), rng.uniform(0, 5.0)) for i in range(n)]


def _clustered(n, rng):
    """Rooms of 10 nodes (40 m square) whose centres are 280 m apart in a
    row: neighbouring rooms are joined by their nearest few nodes only."""
    out = []
    for i in range(n):
        cx = (i // 10) * 280.0
        out.append((cx + rng.uniform(0, 40.0), rng.uniform(0, 40.0)))
    return out


def _random(degree):
    def build(n, seed):
        for d in (degree, degree + 0.5, degree + 1.0):   # sparse layouts may not connect
            try:
                return topo_mod.random_geometric(n, seed, mean_degree=d).positions
            except Exception:
                continue
        raise SystemExit("matrix: no connected random layout of %d nodes near degree %g" % (n, degree))
    return build


LAYOUTS = {
    "line": lambda n, seed: topo_mod.line(n).positions,
    "grid": lambda n, seed: topo_mod.grid(n).positions,
    "corridor": lambda n, seed: _corridor(n, random.Random(seed)),
    "clustered": lambda n, seed: _clustered(n, random.Random(seed)),
    "random-sparse": _random(3.0),
    "random-medium": _random(8.0),
    "random-dense": _random(20.0),
}


def _events(kind, positions, duration_s):
    if kind == "churn":       # 10 % killed at a third, revived at two thirds
        return [{"t": duration_s / 3, "action": "kill", "fraction": 0.1},
                {"t": 2 * duration_s / 3, "action": "revive", "killed": True}]
    if kind == "mover":       # n1 walks to the far corner in 10 steps
        x0, y0 = positions[0]
        x1 = max(p[0] for p in positions)
        y1 = max(p[1] for p in positions)
        return [{"t": duration_s * (k + 1) / 12, "action": "move", "node": "n1",
                 "x": x0 + (x1 - x0) * (k + 1) / 10, "y": y0 + (y1 - y0) * (k + 1) / 10}
                for k in range(10)]
    raise SystemExit("matrix: unknown events %r (churn or mover)" % kind)


# ------------------------------------------------------------ floor

def floor_of(topology_path, seed, loss, interval_s, item_bytes):
    """-> the cell's floor (nowmesh.sim.floors): data and control parts, and the
    airtime per reading they add up to."""
    topo = topo_mod.load_topology_file(topology_path)
    return floors.floor_of(topo, seed, loss, interval_s, item_bytes=item_bytes)


# ------------------------------------------------------------ runs

def _cells(spec, full):
    cells = list(spec["cells"]) + (list(spec.get("full_cells", [])) if full else [])
    return cells, spec["full_seeds"] if full else spec["seeds"]


def _cell_name(c):
    return "%s-%d loss %g every %gs%s" % (c["layout"], c["nodes"], c["loss"], c["interval_s"],
                                         " +" + c["events"] if c.get("events") else "")


def _prepare(cells, seeds, tmp, quick, item_bytes):
    runs, meta = [], {}
    for c in cells:
        if c["layout"] not in LAYOUTS:
            raise SystemExit("matrix: unknown layout %r (%s)" % (c["layout"], ", ".join(LAYOUTS)))
        duration = max(MIN_DURATION_S, 10 * c["interval_s"])
        if quick:
            duration = min(duration, 3 * c["interval_s"], 180.0)
        for seed in seeds:
            positions = LAYOUTS[c["layout"]](c["nodes"], seed)
            base = os.path.join(tmp, "%s-%d-%d" % (c["layout"], c["nodes"], seed))
            with open(base + ".json", "w") as f:
                json.dump({"nodes": [{"name": "n%d" % (i + 1), "x": x, "y": y}
                                     for i, (x, y) in enumerate(positions)]}, f)
            params = {"topology": base + ".json", "seed": seed, "loss": c["loss"],
                      "reading_interval_s": float(c["interval_s"]), "duration_s": float(duration),
                      "requests": 0}
            if c.get("events"):
                path = "%s-%s.scenario.json" % (base, c["events"])
                with open(path, "w") as f:
                    json.dump({"events": _events(c["events"], positions, duration)}, f)
                params["scenario"] = path
            floor = floor_of(base + ".json", seed, c["loss"], c["interval_s"], item_bytes)
            for protocol in PROTOCOLS:
                p = dict(params, protocol=protocol)
                runs.append(p)
                meta[run_id(p)] = (_cell_name(c), seed, protocol, floor)
    return runs, meta


def _row(result, cell, seed, protocol, floor):
    lat = result["latency_ms"]
    frames = result["frames_sent"] or 1
    apr = result["airtime_per_reading_ms"]
    return {"cell": cell, "seed": seed, "protocol": protocol,
            "delivery": result["delivery_ratio"], "airtime_per_reading_ms": apr,
            "control_share": round(result["control_frames"] / frames, 4),
            "latency_p50_ms": lat["p50"], "latency_p95_ms": lat["p95"], "loops": result["loops"],
            "vs_floor": round(apr / floor["floor_ms"], 3) if apr and floor["floor_ms"] else None, **floor}


def _geomean(xs):
    xs = [x for x in xs if x]
    return round(math.exp(sum(math.log(x) for x in xs) / len(xs)), 3) if xs else None


def _summary(rows):
    by = {(r["cell"], r["seed"], r["protocol"]): r for r in rows}
    out = {}
    for protocol in PROTOCOLS:
        mine = [r for r in rows if r["protocol"] == protocol]
        s = {"geomean_vs_floor": _geomean([r["vs_floor"] for r in mine])}
        for other in PROTOCOLS:
            if other == protocol:
                continue
            ratios = []
            for r in mine:
                o = by.get((r["cell"], r["seed"], other))
                if o and o["airtime_per_reading_ms"] and r["airtime_per_reading_ms"]:
                    ratios.append((round(r["airtime_per_reading_ms"] / o["airtime_per_reading_ms"], 3), r["cell"]))
            if ratios:
                s["geomean_vs_" + other] = _geomean([x for x, _ in ratios])
                s["worst_vs_" + other] = max(ratios)
        s["min_delivery"] = min([r["delivery"] for r in mine if r["delivery"] is not None] or [None])
        s["max_p95_ms"] = max([r["latency_p95_ms"] for r in mine if r["latency_p95_ms"] is not None] or [None])
        s["loops"] = sum(r["loops"] for r in mine)
        out[protocol] = s
    return out


def _print(rows, summary):
    print("  %-44s %-13s %9s %9s %7s %8s %8s %5s %8s" % (
        "cell", "protocol", "delivery", "ms/read", "ctl", "p50 ms", "p95 ms", "loops", "floor"))
    for r in rows:
        print("  %-44s %-13s %9s %9s %7s %8s %8s %5s %8s" % (
            "%s s%d" % (r["cell"], r["seed"]), r["protocol"], r["delivery"], r["airtime_per_reading_ms"],
            r["control_share"], r["latency_p50_ms"], r["latency_p95_ms"], r["loops"], r["floor_ms"]))
    for protocol, s in summary.items():
        print("  summary %s: %s" % (protocol, json.dumps(s, sort_keys=True)))


def run(quick, full=False, spec_path=os.path.join(HERE, "matrix.json"), workers=None):
    with open(spec_path) as f:
        spec = json.load(f)
    cells, seeds = _cells(spec, full)
    item_bytes = floors.reading_item_bytes()
    rows, errors = [], []
    with tempfile.TemporaryDirectory(prefix="nowmesh-matrix-") as tmp:
        runs, meta = _prepare(cells, seeds, tmp, quick, item_bytes)
        print("  %d cells x %d seeds x %d protocols = %d runs" % (len(cells), len(seeds), len(PROTOCOLS), len(runs)),
              flush=True)

        def done(line, _wall_s):
            record = json.loads(line)
            rows.append(_row(record["result"], *meta[record["run"]]))
            print("  done %d/%d" % (len(rows), len(runs)), flush=True)

        run_local(runs, workers or default_workers(), done, errors.append, task=run_one)
    for e in errors:
        print("  FAILED %s" % e)
    rows.sort(key=lambda r: (r["cell"], r["seed"], PROTOCOLS.index(r["protocol"])))
    summary = _summary(rows)
    _print(rows, summary)
    return {"cells": rows, "summary": summary, "seeds": seeds, "full": full,
            "errors": [str(e) for e in errors]}
