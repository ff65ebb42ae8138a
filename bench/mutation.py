"""`make mutation`: mutation testing of the mesh core with its own tests.

mutmut (pinned in requirements.txt) changes one thing at a time in
`firmware/mesh/` (a flipped comparison, a constant off by one, a dropped
call...) and runs the core's tests (`tests/core`) against each mutant; a
mutant no test notices "survived". Prints the score per module and writes
`bench/results/mutation.json`. Reviewed survivors, with the equivalent ones
and why, are in docs/testing.md.

The core is imported as the top-level package `mesh` (firmware/ on the path),
while mutmut names mutants after their file path and strips only `src.`: so
the run happens in a staging folder (build/mutation/) holding the core as
`src/mesh/` and a copy of the core's tests, with the host's MicroPython
shims on the path. Only the tests that cover a mutated function run for it
(mutmut's own selection), forked from one warm process, `--jobs` at a time.

    python bench/mutation.py [--jobs 2] [--module routes ...]
    python bench/mutation.py --survivors     # after new tests: re-test only
                                             # the last run's survivors
"""
import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
STAGES = os.path.join(ROOT, "build", "mutation")
STAGE = os.path.join(STAGES, "core")     # set by main(): one folder per --module set
RESULT = os.path.join(HERE, "results", "mutation.json")
SHIMS = os.path.join(ROOT, "host_tools", "nowmesh", "upyshim")
TARGET_OVERALL = 85.0
TARGET_MODULE = 75.0

# Core tests left out of the mutation run: under mutmut's trampolines they
# take tens of seconds, and mutmut runs them for every mutant of every
# function they reach. They still run in `make test`.
SLOW_UNDER_MUTATION = (
    # floods a node with thousands of frames to prove its tables stay bounded (33 s)
    "tests/core/test_mesh_hostile.py::test_antientropy_wheel_and_batch_stay_bounded_under_a_flood",
)

_PYPROJECT = """\
[tool.mutmut]
source_paths = ["src"]
pytest_add_cli_args_test_selection = ["tests/core"]
pytest_add_cli_args = ["-p", "no:cacheprovider", "-q"{deselect}]
{only}

[tool.pytest.ini_options]
testpaths = ["tests/core"]
"""

# The staging conftest: the host's MicroPython shims (micropython.const,
# cryptolib), never the real firmware folder (mutmut puts mutants/src first).
_CONFTEST = """\
import sys
sys.path.insert(0, {shims!r})
from hypothesis import HealthCheck, settings
# derandomised (a mutant's verdict must not depend on luck) and short: the
# seeded variants of the same properties run in full beside them
settings.register_profile("mutation", derandomize=True, max_examples=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mutation")
"""

# mutmut's exit codes -> what they mean for the score (see mutmut.stats)
_KILLED = (1, 3, 36, -24, 24, 152, 255, -11, -9)   # failed, errored, timed out, crashed
_SURVIVED = (0,)


def stage(modules):
    shutil.rmtree(STAGE, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "firmware", "mesh"), os.path.join(STAGE, "src", "mesh"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(os.path.join(ROOT, "tests", "core"), os.path.join(STAGE, "tests", "core"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    with open(os.path.join(STAGE, "tests", "conftest.py"), "w") as f:
        f.write(_CONFTEST.format(shims=SHIMS))
    only = ""
    if modules:
        only = "only_mutate = [%s]" % ", ".join('"src/mesh/%s.py"' % m for m in modules)
    with open(os.path.join(STAGE, "pyproject.toml"), "w") as f:
        deselect = "".join([', "--deselect", "%s"' % t for t in SLOW_UNDER_MUTATION])
        f.write(_PYPROJECT.format(only=only, deselect=deselect))


def restage_tests():
    """For --survivors: the same core as the last full run, the tests of now.
    mutmut then learns afresh which tests reach which function."""
    staged = os.path.join(STAGE, "src", "mesh")
    if not os.path.isdir(staged):
        raise SystemExit("no earlier run in %s: run `make mutation` first" % STAGE)
    if _differs(os.path.join(ROOT, "firmware", "mesh"), staged):
        raise SystemExit("firmware/mesh/ changed since the last full run: run `make mutation`")
    for where in (os.path.join(STAGE, "tests", "core"), os.path.join(STAGE, "mutants", "tests", "core")):
        shutil.rmtree(where, ignore_errors=True)
    shutil.copytree(os.path.join(ROOT, "tests", "core"), os.path.join(STAGE, "tests", "core"),
                    ignore=shutil.ignore_patterns("__pycache__"))
    stats = os.path.join(STAGE, "mutants", "mutmut-stats.json")
    if os.path.exists(stats):
        os.remove(stats)


def _differs(a, b):
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])
    names = [n for n in cmp.left_only + cmp.right_only if n.endswith(".py")]
    _match, mismatch, errors = filecmp.cmpfiles(a, b, [n for n in cmp.common_files if n.endswith(".py")],
                                                shallow=False)
    return bool(names or mismatch or errors)


def run_mutmut(jobs, names=()):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    cmd = [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs)] + list(names)
    # mutmut redraws a progress line; keep the last state of it only
    proc = subprocess.run(cmd, cwd=STAGE, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    log = proc.stdout.decode(errors="replace")
    with open(os.path.join(STAGE, "mutmut.log"), "w") as f:
        f.write(log)
    if proc.returncode != 0:
        sys.stderr.write(log[-3000:])
        raise SystemExit("mutmut failed (exit %d); full log in %s" % (proc.returncode, STAGE))


def collect():
    """-> {module: {"killed": n, "survived": n, "other": n, "survivors": [names]}}"""
    out = {}
    base = os.path.join(STAGE, "mutants", "src", "mesh")
    for name in sorted(os.listdir(base)):
        if not name.endswith(".py.meta"):
            continue
        module = name[:-len(".py.meta")]
        with open(os.path.join(base, name)) as f:
            meta = json.load(f)
        row = {"killed": 0, "survived": 0, "other": 0, "untested": 0, "survivors": []}
        for mutant, code in sorted(meta.get("exit_code_by_key", {}).items()):
            if code is None:
                row["untested"] += 1       # the run stopped before this one
            elif code in _KILLED:
                row["killed"] += 1
            elif code in _SURVIVED:
                row["survived"] += 1
                row["survivors"].append(mutant)
            else:
                row["other"] += 1          # no test reaches it
                row["survivors"].append(mutant)
        if row["killed"] + row["survived"] + row["other"] + row["untested"]:
            out[module] = row
    return out


def score(row):
    total = row["killed"] + row["survived"] + row["other"]
    return 100.0 * row["killed"] / total if total else 100.0


def report(modules, seconds, jobs):
    total = {"killed": 0, "survived": 0, "other": 0, "untested": 0}
    lines = ["%-14s %7s %7s %7s %9s" % ("module", "killed", "of", "score", "untested")]
    for module, row in sorted(modules.items()):
        n = row["killed"] + row["survived"] + row["other"]
        for k in total:
            total[k] += row[k]
        row["score"] = round(score(row), 1)
        lines.append("%-14s %7d %7d %6.1f%% %9d" % (module, row["killed"], n, row["score"], row["untested"]))
    overall = score(total)
    n = total["killed"] + total["survived"] + total["other"]
    lines.append("%-14s %7d %7d %6.1f%% %9d" % ("overall", total["killed"], n, overall, total["untested"]))
    print("\n".join(lines))
    weakest = min([r["score"] for r in modules.values()]) if modules else 100.0
    result = {
        "tool": "mutmut " + _mutmut_version(),
        "source": "firmware/mesh/", "tests": "tests/core",
        "jobs": jobs, "seconds": round(seconds, 1),
        "overall": {"killed": total["killed"], "mutants": n, "score": round(overall, 1),
                    "untested": total["untested"]},
        "complete": total["untested"] == 0,
        "modules": modules,
        "targets": {"overall": TARGET_OVERALL, "module": TARGET_MODULE,
                    "met": overall >= TARGET_OVERALL and weakest >= TARGET_MODULE},
    }
    return result


def _previous_result():
    try:
        with open(RESULT) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def _mutmut_version():
    try:
        from importlib.metadata import version
        return version("mutmut")
    except Exception:
        return "?"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATION_JOBS", "2")),
                    help="mutants tested in parallel (default 2)")
    ap.add_argument("--module", action="append", default=[],
                    help="mutate only this core module (repeatable); the result file is not written")
    ap.add_argument("--survivors", action="store_true",
                    help="re-test only the last run's survivors against the current tests/core")
    ap.add_argument("--report", action="store_true",
                    help="only collect what the last (possibly interrupted) run in build/mutation/ found")
    ap.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = ap.parse_args(argv)
    global STAGE
    # each --module set keeps its own staging folder, so module-by-module runs
    # (and their --survivors/--report) do not wipe each other's results
    STAGE = os.path.join(STAGES, "-".join(sorted(args.module)) or "core")
    t0 = time.monotonic()
    if args.report:
        pass
    elif args.survivors:
        restage_tests()
        names = [name for row in collect().values() for name in row["survivors"]]
        run_mutmut(args.jobs, names)
    else:
        stage(args.module)
        run_mutmut(args.jobs)
    seconds = time.monotonic() - t0
    result = report(collect(), seconds, args.jobs)
    result["survivors_only"] = args.survivors
    previous = _previous_result()
    result["full_run_seconds"] = previous.get("full_run_seconds", previous.get("seconds")) \
        if args.survivors or args.report else result["seconds"]
    print("%.0f s with %d jobs; survivors listed in %s" % (seconds, args.jobs,
                                                          RESULT if not args.module else STAGE))
    if not args.module:
        os.makedirs(os.path.dirname(RESULT), exist_ok=True)
        with open(RESULT, "w") as f:
            json.dump(result, f, indent=1, sort_keys=True)
            f.write("\n")
    if args.check and not result["targets"]["met"]:
        raise SystemExit("mutation score below target (%.0f %% overall, %.0f %% per module)"
                         % (TARGET_OVERALL, TARGET_MODULE))


if __name__ == "__main__":
    main()
