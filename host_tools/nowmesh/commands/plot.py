"""Plot a sweep's results: airtime per reading and delivery against the swept
variable, one line per protocol (mean over seeds and any other axis).

Examples:
  nowmesh plot r.jsonl --out r.png
  nowmesh plot r.jsonl --out by-loss.png --x loss
"""
import os
import sys

from nowmesh.errors import InputError
from nowmesh.sim import sweep, sweep_report


def add_arguments(p):
    p.add_argument("results", help="JSON lines written by nowmesh sweep")
    p.add_argument("--out", metavar="PNG", help="image to write (default: RESULTS's name + .png)")
    p.add_argument("--x", metavar="PARAM", help="the swept variable (default: the first that varies)")


def run(args):
    if not os.path.exists(args.results):
        raise InputError(args.results, None, "no such results file")
    records, bad = sweep.read_lines(args.results)
    if not records:
        raise InputError(args.results, None, "no sweep results in it (%d unreadable lines)" % bad)
    if args.x and args.x not in sweep_report.param_names(records):
        raise InputError("command line", "--x", "%r is not a parameter of these runs (%s)" % (
            args.x, ", ".join(sweep_report.param_names(records))))
    out = args.out or os.path.splitext(args.results)[0] + ".png"
    x = sweep_report.plot(records, out, args.x)
    print("%s: %d runs, x = %s" % (out, len(records), x), file=sys.stderr)
    return 0
