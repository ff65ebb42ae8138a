"""airtime: where a nowmesh simulation's airtime goes, by frame kind.

    python bench/airtime.py --topology random --nodes 100 --loss 0.1 \
        --reading-interval 300 --duration 3600 --seed 11 [--from 600] [--json]

Takes `nowmesh sim`'s arguments (protocol nowmesh), runs that very
simulation and splits every transmission's airtime (what the simulator's
`airtime_ms` sums) into kinds:

- readings frames, split in proportion to the bytes of their items: `own`
  (a reading its origin sends, hops 0), `relay` (hops > 0), `repair` (someone
  else's reading at hops 0: a pull's answer), `sync` (unicast: a full-table
  push), and the frame's fixed cost (`overhead`, 67 bytes of MAC, header and
  tag plus the preamble) shared the same way;
- `hello` (broadcast), `beacon` (a repeated hello shrunk to the name),
  `probe` (an empty pull unicast to a silent neighbour), `pull`
  (broadcast), `sync-request` (unicast full pull), `data` (routed
  request/reply), other types by number;
- `mac-retry` (a unicast's MAC retransmissions) and `ack`.

`--from S` counts only transmissions after S seconds (steady state). The
per-reading figures divide by the readings published in the same window.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "host_tools"))

from nowmesh.commands import sim as sim_command  # noqa: E402
from nowmesh.sim.runner import build_simulation  # noqa: E402
from nowmesh.sim.protocols.spec import NowmeshSpec  # noqa: E402
from nowmesh.radio.medium import KIND_ACK  # noqa: E402

from mesh import frames, wire  # noqa: E402  (loaded by the spec import)

_NAMES = {frames.T_HELLO: ("hello", "probe"), frames.T_PULL: ("pull", "sync-request"),
          wire.T_DATA: ("data", "data"), wire.T_BEACON: ("beacon", "beacon")}


def _reading_kinds(sender, payload, unicast):
    """[(kind, item bytes)] of a readings frame's items."""
    out = []
    for raw, r, hops, _metric in frames.decode_readings_items(payload):
        if unicast:
            kind = "sync"
        elif hops:
            kind = "relay"
        else:
            kind = "own" if bytes(r.origin) == bytes(sender) else "repair"
        out.append((kind, len(raw) + 2))
    return out


class Breakdown:
    def __init__(self, sim, from_us):
        self.sim = sim
        self.from_us = from_us
        self.airtime_us = {}
        self.frames = {}
        self.items = {}

    def add(self, kind, us, frames_n=0):
        self.airtime_us[kind] = self.airtime_us.get(kind, 0.0) + us
        self.frames[kind] = self.frames.get(kind, 0) + frames_n

    def on_transmit(self, i, tx, airtime_us):
        if self.sim.q.now_us < self.from_us:
            return
        if tx.kind == KIND_ACK:
            return self.add("ack", airtime_us, 1)
        ftype, sender, _boot, _ctr, payload = self.sim.keys.open(tx.frame)
        unicast = tx.dst is not None
        if tx.attempt:
            names = _NAMES.get(ftype, ("readings", "sync"))
            probe = ftype == frames.T_PULL and payload[0] == 0
            return self.add("mac-retry " + ("probe" if probe else names[1]), airtime_us, 1)
        if ftype == wire.T_READINGS:
            kinds = _reading_kinds(sender, payload, unicast)
            total = sum(n for _k, n in kinds) or 1
            # the fixed part of the frame's airtime (preamble, MAC, header, tag)
            fixed = airtime_us * (len(tx.frame) - len(payload) + 43) / (len(tx.frame) + 43)
            self.add("overhead", fixed, 0)
            for kind, n in kinds:
                self.add(kind, (airtime_us - fixed) * n / total, 0)
                self.items[kind] = self.items.get(kind, 0) + 1
            self.frames["readings-frames"] = self.frames.get("readings-frames", 0) + 1
            return None
        if ftype == frames.T_PULL and unicast and payload[0] == 0:
            return self.add("probe", airtime_us, 1)      # an empty pull: only its ack matters
        names = _NAMES.get(ftype, ("type-%d" % ftype, "type-%d-unicast" % ftype))
        return self.add(names[1] if unicast else names[0], airtime_us, 1)


def run(args):
    """args: `nowmesh sim`'s arguments (protocol nowmesh) plus from_s."""
    sim = build_simulation(args)
    assert isinstance(sim.protocol, NowmeshSpec), "--protocol nowmesh only"
    bd = Breakdown(sim, int(args.from_s * 1e6))
    engine_hook = sim.on_transmit

    def on_transmit(i, tx, airtime_us):
        engine_hook(i, tx, airtime_us)
        bd.on_transmit(i, tx, airtime_us)
    sim.on_transmit = on_transmit       # the medium calls its host's hook
    result = sim.run()
    published = sum(1 for p in sim.metrics.publications if p[2] >= bd.from_us)
    minutes = (args.duration - args.from_s) / 60.0
    control = sum(bd.frames.get(k, 0) for k in ("hello", "beacon", "probe", "pull", "sync-request"))
    stats = {}
    for node in sim.nodes:
        for k, v in (node.proto.stats if node.alive else {}).items():
            if isinstance(v, int):
                stats[k] = stats.get(k, 0) + v
    return {
        "result": result,
        "node_stats": dict(sorted(stats.items())),
        "window_s": [args.from_s, args.duration],
        "readings_published": published,
        "ms_per_reading": {k: round(v / 1000.0 / published, 3)
                           for k, v in sorted(bd.airtime_us.items(), key=lambda kv: -kv[1])},
        "total_ms_per_reading": round(sum(bd.airtime_us.values()) / 1000.0 / published, 3),
        "frames": dict(sorted(bd.frames.items())),
        "control_frames_per_node_min": round(control / len(sim.nodes) / minutes, 3),
        "items_per_reading": {k: round(v / published, 2) for k, v in sorted(bd.items.items())},
    }


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sim_command.add_arguments(ap)
    ap.add_argument("--from", dest="from_s", type=float, default=0.0, metavar="S",
                    help="count only what is sent after S simulated seconds")
    args = ap.parse_args(argv)
    out = run(args)
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    r = out["result"]
    print("delivery %s  airtime/reading %s ms  p95 %s ms  control frames/node/min %s"
          % (r["delivery_ratio"], r["airtime_per_reading_ms"], r["latency_ms"]["p95"],
             out["control_frames_per_node_min"]))
    print("window %s s, %d readings: %.2f ms per reading" % (
        out["window_s"], out["readings_published"], out["total_ms_per_reading"]))
    print("node stats:", out["node_stats"])
    for kind, ms in out["ms_per_reading"].items():
        print("  %-24s %8.2f ms  frames %-7s items/reading %s" % (
            kind, ms, out["frames"].get(kind, ""), out["items_per_reading"].get(kind, "")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
