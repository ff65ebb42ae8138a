"""Simulate N nodes of a protocol on one radio model and virtual clock.

Examples:
  nowmesh sim --protocol flood --topology grid --nodes 25 --duration 120 --seed 3 --json
  nowmesh sim --topology examples/house.json --scenario examples/kill-revive.json
  nowmesh sim --topology line --nodes 6 --spacing 120 --rate LR250K
  nowmesh sim --demo
"""
import json
import os

from nowmesh.errors import InputError
from nowmesh.sim import report
from nowmesh.radio import model as radio
from nowmesh.radio.model import ENVIRONMENTS
from nowmesh.sim.protocols import PROTOCOLS
from nowmesh.sim.runner import build_simulation, demo


def add_arguments(p):
    p.add_argument("--protocol", choices=sorted(PROTOCOLS), default="nowmesh")
    p.add_argument("--topology", default="random", metavar="line|grid|random|FILE",
                   help="generated layout or a topology JSON file (default: random)")
    p.add_argument("--nodes", type=int, default=25, help="node count for generated layouts")
    p.add_argument("--spacing", type=float, default=None, metavar="M",
                   help="metres between neighbours for line/grid")
    p.add_argument("--duration", type=float, default=120.0, metavar="S", help="simulated seconds")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--reading-interval", type=float, default=30.0, metavar="S")
    p.add_argument("--deadline", type=float, default=10.0, metavar="S",
                   help="a reading counts as delivered if it arrives within this time")
    p.add_argument("--loss", type=float, default=0.0, metavar="P",
                   help="extra independent per-frame loss on top of the radio model")
    p.add_argument("--scenario", metavar="FILE", help="scenario JSON: kills, reboots, moves, partitions")
    p.add_argument("--node-config", metavar="FILE",
                   help="JSON of mesh-core settings for every nowmesh node (e.g. beacon_ms)")
    p.add_argument("--requests", type=int, default=20, metavar="N",
                   help="unicast ping requests between random pairs during the run")
    p.add_argument("--environment", choices=sorted(ENVIRONMENTS), default="indoor",
                   help="path-loss exponent: open 2.0, indoor 3.0, dense 3.5")
    p.add_argument("--shadowing", type=float, default=4.0, metavar="DB",
                   help="std-dev of per-link shadowing")
    p.add_argument("--rate", default="1M", choices=[r.name for r in radio.RATES.values()],
                   help="every node's ESP-NOW PHY rate (espnow.config(rate=)); default 1M")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--progress", action="store_true", help="print a line every 10 simulated seconds")
    p.add_argument("--demo", action="store_true", help="a readable 12-node demo")


def _check_ranges(args):
    checks = [
        ("--nodes", 2 <= args.nodes <= 10000, "must be between 2 and 10000"),
        ("--duration", args.duration > 0, "must be positive"),
        ("--reading-interval", args.reading_interval > 0, "must be positive"),
        ("--deadline", args.deadline > 0, "must be positive"),
        ("--loss", 0.0 <= args.loss < 1.0, "must be in [0, 1)"),
        ("--requests", args.requests >= 0, "must not be negative"),
        ("--shadowing", 0.0 <= args.shadowing <= 20.0, "must be between 0 and 20 dB"),
        ("--spacing", args.spacing is None or args.spacing > 0, "must be positive"),
    ]
    for flag, ok, message in checks:
        if not ok:
            args._parser.error("%s %s" % (flag, message))


def run(args):
    if args.demo:
        return demo(json_output=args.json)
    _check_ranges(args)
    if args.scenario and not os.path.exists(args.scenario):
        raise InputError(args.scenario, None, "no such scenario file")
    if args.node_config and args.protocol != "nowmesh":
        args._parser.error("--node-config applies to --protocol nowmesh only")
    sim = build_simulation(args)
    progress = report.progress_line if args.progress and not args.json else None
    result = sim.run(progress=progress)
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(report.format_result(result))
    return 0
