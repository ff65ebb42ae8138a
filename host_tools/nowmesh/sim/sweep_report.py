"""A sweep's results as people read them: a summary table, a CSV, a plot.

Summary rows group runs that differ only in their seed (mean over seeds);
the CSV has one row per run; the plot draws airtime per reading and delivery
against the swept variable, one line per protocol (mean over seeds and any
other axis), with the airtime floor of nowmesh.sim.floors where it applies.
"""
import csv
import json

# Per-run columns of the CSV and the summary: (column, path into the result).
METRICS = (
    ("delivery_ratio", ("delivery_ratio",)),
    ("airtime_per_reading_ms", ("airtime_per_reading_ms",)),
    ("latency_p50_ms", ("latency_ms", "p50")),
    ("latency_p95_ms", ("latency_ms", "p95")),
    ("readings_published", ("readings_published",)),
    ("frames_sent", ("frames_sent",)),
    ("control_frames", ("control_frames",)),
    ("airtime_ms", ("airtime_ms",)),
    ("convergence_s", ("convergence_s",)),
    ("loops", ("loops",)),
)
SUMMARY_METRICS = ("delivery_ratio", "airtime_per_reading_ms", "latency_p95_ms")
# What a run's floor depends on (the protocol is not among them).
FLOOR_PARAMS = ("topology", "nodes", "seed", "spacing_m", "loss", "reading_interval_s",
                "environment", "shadowing_db")


def metric(result, path):
    value = result
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _scalar(value):
    return value if isinstance(value, (int, float, str, bool)) or value is None else repr(value)


def param_names(records):
    names = []
    for record in records:
        for name in record["params"]:
            if name not in names:
                names.append(name)
    return sorted(names)


def varying(records, exclude=()):
    """Parameter names whose value differs between runs."""
    out = []
    for name in param_names(records):
        values = {repr(r["params"].get(name)) for r in records}
        if len(values) > 1 and name not in exclude:
            out.append(name)
    return out


def write_csv(records, path):
    names = param_names(records)
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["run"] + names + [column for column, _path in METRICS])
        for r in records:
            out.writerow([r["run"]] + [_scalar(r["params"].get(n)) for n in names]
                         + [_scalar(metric(r["result"], p)) for _c, p in METRICS])


def _mean(values):
    values = [v for v in values if isinstance(v, (int, float))]
    return sum(values) / len(values) if values else None


def summary_rows(records):
    """One row per parameter combination other than the seed: means over seeds."""
    keys = [n for n in varying(records) if n != "seed"]
    groups = {}
    for r in records:
        group = tuple(repr(r["params"].get(n)) for n in keys)
        groups.setdefault(group, []).append(r)
    paths = dict(METRICS)
    rows = []
    for runs in groups.values():
        row = {n: runs[0]["params"].get(n) for n in keys}
        row["runs"] = len(runs)
        for column in SUMMARY_METRICS:
            row[column] = _mean([metric(r["result"], paths[column]) for r in runs])
        rows.append(row)
    rows.sort(key=lambda row: [_sort_key(row[n]) for n in keys])
    return keys, rows


def _sort_key(value):
    return (0, value, "") if isinstance(value, (int, float)) else (1, 0, repr(value))


def format_summary(records):
    keys, rows = summary_rows(records)
    columns = keys + ["runs"] + list(SUMMARY_METRICS)
    cells = [[_fmt(row[c]) for c in columns] for row in rows]
    widths = [max([len(c)] + [len(line[k]) for line in cells]) for k, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths))]
    lines += ["  ".join(v.rjust(w) if _numeric(v) else v.ljust(w) for v, w in zip(line, widths))
              for line in cells]
    return "\n".join(lines)


def _fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return "%.4g" % value
    return str(value)


def _numeric(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def default_x(records):
    """The swept variable when none is named: the first varying parameter
    other than protocol and seed (alphabetical), else the seed."""
    candidates = varying(records, exclude=("protocol", "seed"))
    return candidates[0] if candidates else "seed"


def plot(records, path, x=None):
    """Airtime per reading and delivery against x, one line per protocol -> x used."""
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib import pyplot
    x = x or default_x(records)
    paths = dict(METRICS)
    fig, (top, bottom) = pyplot.subplots(2, 1, figsize=(7, 7), sharex=True)
    for protocol, runs in _by(records, "protocol").items():
        points = _by(runs, x)
        xs = sorted(points, key=_sort_key)
        top.plot(xs, [_mean([metric(r["result"], paths["airtime_per_reading_ms"]) for r in points[v]])
                      for v in xs], marker="o", label=str(protocol))
        bottom.plot(xs, [_mean([metric(r["result"], paths["delivery_ratio"]) for r in points[v]])
                         for v in xs], marker="o", label=str(protocol))
    points = _by(records, x)
    xs = sorted(points, key=_sort_key)
    cache = {}
    floor = [_mean([floor_ms(r["params"], cache) for r in points[v]]) for v in xs]
    if any(f is not None for f in floor):
        top.plot(xs, floor, linestyle="--", color="grey", label="floor (any protocol)")
    top.set_ylabel("airtime per reading (ms)")
    top.set_yscale("log")
    bottom.set_ylabel("delivery ratio")
    bottom.set_xlabel(x)
    top.legend()
    top.grid(True, which="both", alpha=0.3)
    bottom.grid(True, alpha=0.3)
    fig.suptitle("nowmesh sweep: %d runs, mean over seeds" % len(records))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    pyplot.close(fig)
    return x


def _by(records, name):
    groups = {}
    for r in records:
        value = r["params"].get(name)
        groups.setdefault(value if not isinstance(value, (dict, list)) else repr(value), []).append(r)
    return groups


def floor_ms(params, cache):
    """The airtime floor per reading of a run's layout, radio and load
    (nowmesh.sim.floors, the scenario matrix's floor), or None where it does
    not apply: it prices frames at 1 Mbps, so only runs at that rate.
    `cache` keeps one floor per distinct layout and load."""
    from nowmesh.sim.sweep import DEFAULTS
    p = dict(DEFAULTS, **params)
    if p.get("phy_rate") != "1M" or not isinstance(p.get("topology"), str):
        return None
    key = json.dumps([p.get(k) for k in FLOOR_PARAMS])
    if key not in cache:
        from nowmesh.radio.model import ENVIRONMENTS
        from nowmesh.radio.topology import make_topology
        from nowmesh.sim import floors
        topo = make_topology(p["topology"], p["nodes"], p["seed"], p["spacing_m"])
        cache[key] = floors.floor_of(topo, p["seed"], p["loss"], p["reading_interval_s"],
                                     ENVIRONMENTS[p["environment"]], p["shadowing_db"])["floor_ms"]
    return cache[key]
