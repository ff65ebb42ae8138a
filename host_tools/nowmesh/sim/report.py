"""Readable text for simulation results: summaries, progress and comparisons."""

ROWS = [  # (label, how to get it from a result)
    ("nodes", lambda r: r["nodes"]),
    ("readings published", lambda r: r["readings_published"]),
    ("delivery ratio", lambda r: _fmt(r["delivery_ratio"], "{:.4f}")),
    ("latency p50 / p95 / max (ms)", lambda r: "%s / %s / %s" % (
        _fmt(r["latency_ms"]["p50"], "{:.0f}"), _fmt(r["latency_ms"]["p95"], "{:.0f}"),
        _fmt(r["latency_ms"]["max"], "{:.0f}"))),
    ("frames sent", lambda r: r["frames_sent"]),
    ("control frames", lambda r: r["control_frames"]),
    ("airtime (ms)", lambda r: _fmt(r["airtime_ms"], "{:.0f}")),
    ("airtime per reading (ms)", lambda r: _fmt(r["airtime_per_reading_ms"], "{:.2f}")),
    ("unicast answered", lambda r: "%d / %d" % (r["unicast"]["delivered"], r["unicast"]["sent"])),
    ("unicast rtt p50 (ms)", lambda r: _fmt(r["unicast"]["rtt_ms_p50"], "{:.0f}")),
    ("loops", lambda r: r["loops"]),
    ("rejected frames", lambda r: sum(r["rejected_frames"].values())),
    ("convergence (s)", lambda r: _fmt(r["convergence_s"], "{:.2f}")),
    ("wall time (s)", lambda r: _fmt(r.get("wall_s"), "{:.1f}")),
]


def _fmt(value, pattern):
    return "-" if value is None else pattern.format(value)


def format_result(result):
    title = "%s on %s, %d nodes, %gs, seed %s, loss %g" % (
        result["protocol"], result["topology"], result["nodes"], result["duration_s"],
        result["seed"], result["loss"])
    return _table([title], [[label, str(get(result))] for label, get in ROWS])


def format_comparison(results):
    """Side-by-side table of several results (one column per protocol)."""
    header = [""] + [r["protocol"] for r in results]
    return _table(header, [[label] + [str(get(r)) for r in results] for label, get in ROWS])


def _table(header, rows):
    width = max(len(header), max(len(r) for r in rows))
    cols = [max(len(str(row[c])) if c < len(row) else 0 for row in [header] + rows) for c in range(width)]
    lines = ["  ".join(str(cell).ljust(cols[c]) for c, cell in enumerate(header)).rstrip()]
    lines.append("  ".join("-" * w for w in cols))
    for row in rows:
        lines.append("  ".join(str(cell).ljust(cols[c]) if c == 0 else str(cell).rjust(cols[c])
                               for c, cell in enumerate(row)).rstrip())
    return "\n".join(lines)


def progress_line(sim):
    t = sim.q.now_us / 1e6
    alive = [n for n in sim.nodes if n.alive]
    want = len(alive) * (len(alive) - 1)
    live = {n.mac for n in alive}
    held = sum(sum(1 for origin in n.proto.readings if origin != n.mac and origin in live)
               for n in alive)
    counts = sim.metrics.counts
    print("t=%5.0fs  readings held %4d/%-4d (%5.1f%%)  frames %6d  airtime %8.0f ms" % (
        t, held, want, 100.0 * held / want if want else 100.0, counts["frames_sent"],
        counts["airtime_us"] / 1000.0), flush=True)


def demo_intro(sim):
    names = ", ".join(sim.topology.names)
    return ("nowmesh demo: %d ESP32 nodes on a farm (%s)\n"
            "share temperature and humidity over a simulated ESP-NOW mesh, on a virtual\n"
            "clock. No hub: every node should end up holding every other node's latest\n"
            "reading ('readings held' at 100%%), also after a power cut takes out relays.\n"
            % (len(sim.nodes), names))


def demo_progress(events):
    """A progress printer that also announces scenario events as they pass."""
    pending = sorted(events, key=lambda e: e["t"])

    def show(sim):
        t = sim.q.now_us / 1e6
        while pending and pending[0]["t"] <= t:
            event = pending.pop(0)
            print("  -- t=%ds: %s %s" % (event["t"], event["action"], ", ".join(event.get("nodes", []))))
        progress_line(sim)
    return show


def readings_table(sim, node):
    """What one node knows about everyone else, as a table."""
    names = {n.mac: n.name for n in sim.nodes}
    now_ms = sim.q.now_ms
    rows = []
    for origin, reading in sorted(node.proto.readings.items(), key=lambda kv: names.get(kv[0], "")):
        if origin == node.mac:
            continue
        values = ", ".join("%s=%g%s" % (name, value, unit) for name, value, unit in reading.values)
        rows.append([names.get(origin, origin.hex()), str(reading.seq), values])
    title = "What %s holds (%d of %d other nodes) at t=%.0fs:" % (
        node.name, len(rows), len(sim.nodes) - 1, now_ms / 1000.0)
    return title + "\n" + _table(["node", "seq", "latest reading"], rows)
