"""Run a grid of simulations from a YAML or JSON spec; one JSON line per run.

Runs already in the output are skipped, so an interrupted sweep resumes where
it stopped. Runs go to local processes, one per core, by default; --dask sends
them to a Dask distributed cluster (`--dask local` starts one on this machine).
The spec format and the line format are in docs/simulator.md ("Sweeps").

Examples:
  nowmesh sweep examples/sweep-small.yaml --out r.jsonl --plot r.png
  nowmesh sweep examples/sweep-small.yaml --out r.jsonl --dask local --workers 2
  nowmesh sweep matrix.yaml --out r.jsonl --dask tcp://scheduler:8786
"""
import json
import os
import sys
import time

from nowmesh.errors import ToolError
from nowmesh.sim import sweep, sweep_exec, sweep_report


def add_arguments(p):
    p.add_argument("spec", help="sweep spec, YAML or JSON")
    p.add_argument("--out", metavar="FILE", help="JSON-lines output (default: SPEC's name + .jsonl here)")
    p.add_argument("--csv", metavar="FILE", help="one row per run (default: the output's name + .csv)")
    p.add_argument("--plot", metavar="PNG", help="also draw airtime per reading and delivery vs the swept axis")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local processes or LocalCluster workers (default: one per core)")
    p.add_argument("--dask", metavar="ADDRESS",
                   help="run on a Dask cluster: tcp://host:8786, or 'local' for a LocalCluster")
    p.add_argument("--json", action="store_true", help="print the summary rows as one JSON object")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def default_out(spec_path):
    return os.path.splitext(os.path.basename(spec_path))[0] + ".jsonl"


def run(args):
    if args.workers is not None and args.workers < 1:
        args._parser.error("--workers must be at least 1")
    spec = sweep.load_spec(args.spec)
    out = args.out or default_out(args.spec)
    todo, done = sweep.pending_runs(spec, out)
    total = len(todo) + len(done)
    _note("%d runs in the grid, %d already in %s, %d to run%s" % (
        total, len(done), out, len(todo), " on Dask (%s)" % args.dask if args.dask and todo else ""))
    failures = _execute(todo, out, args)
    records, bad = sweep.read_lines(out)
    if bad:
        _note("%s: %d line(s) were not run results (an interrupted write?) and were skipped" % (out, bad))
    # in the spec's order, not the order runs finished in: the summary's
    # means and the CSV are then the same wherever the runs executed
    order = {sweep.run_id(p): k for k, p in enumerate(spec.runs())}
    records = sorted((r for r in records if r["run"] in order), key=lambda r: order[r["run"]])
    _report(records, spec, out, args)
    if failures:
        raise ToolError("%d run(s) failed:\n  %s" % (len(failures), "\n  ".join(str(f) for f in failures)))
    return 0


def _execute(todo, out, args):
    if not todo:
        return []
    workers = args.workers or sweep_exec.default_workers()
    bar = _progress_bar(len(todo), args.no_progress or args.json)
    writer = sweep.LineWriter(out)
    failures = []
    started = time.perf_counter()

    def on_done(line, _wall_s):
        writer.write(line)
        bar.update(1)

    def on_error(error):
        failures.append(error)
        bar.write("failed: %s" % error, file=sys.stderr)
        bar.update(1)

    try:
        if args.dask:
            sweep_exec.run_dask(todo, args.dask, workers, on_done, on_error)
        else:
            sweep_exec.run_local(todo, workers, on_done, on_error)
    finally:
        writer.close()
        bar.close()
    _note("%d runs in %.1f s wall" % (len(todo), time.perf_counter() - started))
    return failures


def _progress_bar(total, quiet):
    from tqdm import tqdm
    return tqdm(total=total, unit="run", desc="sweep", file=sys.stderr, disable=quiet,
                smoothing=0.1, dynamic_ncols=True)


def _report(records, spec, out, args):
    if not records:
        return
    csv_path = args.csv or os.path.splitext(out)[0] + ".csv"
    sweep_report.write_csv(records, csv_path)
    if args.plot:
        x = sweep_report.plot(records, args.plot, spec.plot_axis())
        _note("plot: %s (x = %s)" % (args.plot, x))
    if args.json:
        keys, rows = sweep_report.summary_rows(records)
        print(json.dumps({"runs": len(records), "out": out, "csv": csv_path, "groups": rows}, sort_keys=True))
    else:
        print(sweep_report.format_summary(records))
        print("\n%d runs: %s, %s" % (len(records), out, csv_path))


def _note(text):
    print(text, file=sys.stderr, flush=True)
