"""sweep200: a 200-run sweep on local processes and on a Dask LocalCluster.

The same spec runs twice into fresh output files: with the local process pool
(2 workers) and with `--dask local --workers 2`. Reported: wall seconds of
each, their ratio, and whether the JSON lines are identical after sorting
(they must be: runs are deterministic wherever they execute).
"""
import os
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "host_tools"))

from nowmesh import cli  # noqa: E402

# 3 protocols x 2 sizes x 2 loss levels x 17 seeds = 204 runs of small meshes
SPEC = """
axes:
  protocol: [nowmesh, flood, managed-flood]
  nodes: [5, 10]
  loss: [0.0, 0.1]
  seed: [%s]
fixed:
  topology: random
  duration_s: %s
  reading_interval_s: 5
  requests: 0
x: nodes
"""


def run(quick):
    seeds = ", ".join(str(s) for s in range(1, 4 if quick else 18))
    with tempfile.TemporaryDirectory(prefix="sweep200-") as tmp:
        spec = os.path.join(tmp, "spec.yaml")
        with open(spec, "w") as f:
            f.write(SPEC % (seeds, 6 if quick else 12))
        local = _timed(spec, os.path.join(tmp, "local.jsonl"))
        dask = _timed(spec, os.path.join(tmp, "dask.jsonl"), "--dask", "local")
        same = _sorted_lines(local["out"]) == _sorted_lines(dask["out"])
        runs = len(_sorted_lines(local["out"]))
    out = {"runs": runs, "local_wall_s": local["wall_s"], "dask_local_wall_s": dask["wall_s"],
           "dask_over_local": round(dask["wall_s"] / local["wall_s"], 2), "identical_lines": same}
    print("  %(runs)d runs, 2 workers: local processes %(local_wall_s).1f s, Dask LocalCluster "
          "%(dask_local_wall_s).1f s (x%(dask_over_local)s); identical JSON lines: %(identical_lines)s" % out)
    return out


def _timed(spec, out, *extra):
    started = time.perf_counter()
    code = cli.main(["sweep", spec, "--out", out, "--workers", "2", "--no-progress", "--json", *extra])
    if code != 0:
        raise SystemExit("sweep failed (%s)" % " ".join(extra or ("local",)))
    return {"out": out, "wall_s": round(time.perf_counter() - started, 2)}


def _sorted_lines(path):
    with open(path) as f:
        return sorted(f.read().splitlines())
