"""`make mutation`: mutation testing of the mesh core with its own tests.

mutmut (pinned in requirements.txt) changes one thing at a time in
`firmware/mesh/` (a flipped comparison, a constant off by one, a dropped
call...) and runs the core's tests (`tests/core`) against each mutant; a
mutant no test notices "survived". Reviewed survivors, with the equivalent
ones and why, are in docs/testing.md.

The core is mutated one module at a time, each in its own staging folder
(build/mutation/<module>/), so a long run can stop and resume and a module's
result stays until that module is run again. `make mutation` runs every core
module whose last complete run does not match the current core and tests
(smallest first), then combines the per-module runs into one table (score
per module and overall, with the commit each was measured on) and
`bench/results/mutation.json`.

The core is imported as the top-level package `mesh` (firmware/ on the path),
while mutmut names mutants after their file path and strips only `src.`: so
a staging folder holds the core as `src/mesh/` and a copy of the core's
tests, with the host's MicroPython shims on the path. Only the tests that
cover a mutated function run for it (mutmut's own selection), forked from
one warm process, `--jobs` at a time.

    python bench/mutation.py                  # every module not yet measured as it is now
    python bench/mutation.py --module routes  # one module (repeatable), then the combined table
    python bench/mutation.py --module routes --survivors  # after new tests: re-test its survivors
    python bench/mutation.py --combine        # only the combined table of the runs kept
"""
import argparse
import datetime
import filecmp
import json
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORE = os.path.join(ROOT, "firmware", "mesh")
TESTS = os.path.join(ROOT, "tests", "core")
STAGES = os.path.join(ROOT, "build", "mutation")
RESULT = os.path.join(HERE, "results", "mutation.json")
SHIMS = os.path.join(ROOT, "host_tools", "nowmesh", "upyshim")
RUN_FILE = "run.json"            # in a staging folder: what was measured, when, on which commit
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
only_mutate = ["src/mesh/{module}.py"]

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


def core_modules():
    """The core's modules, smallest first (a short run measures many)."""
    names = [n[:-3] for n in os.listdir(CORE) if n.endswith(".py") and n != "__init__.py"]
    return sorted(names, key=lambda m: (os.path.getsize(os.path.join(CORE, m + ".py")), m))


def stage_dir(module):
    return os.path.join(STAGES, module)


def stage(module):
    where = stage_dir(module)
    shutil.rmtree(where, ignore_errors=True)
    shutil.copytree(CORE, os.path.join(where, "src", "mesh"), ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(TESTS, os.path.join(where, "tests", "core"), ignore=shutil.ignore_patterns("__pycache__"))
    with open(os.path.join(where, "tests", "conftest.py"), "w") as f:
        f.write(_CONFTEST.format(shims=SHIMS))
    with open(os.path.join(where, "pyproject.toml"), "w") as f:
        deselect = "".join([', "--deselect", "%s"' % t for t in SLOW_UNDER_MUTATION])
        f.write(_PYPROJECT.format(module=module, deselect=deselect))


def restage_tests(module):
    """For --survivors: the same core as the module's last run, the tests of
    now. mutmut then learns afresh which tests reach which function."""
    where = stage_dir(module)
    staged = os.path.join(where, "src", "mesh")
    if not os.path.isdir(staged):
        raise SystemExit("no earlier run of %s in %s: run it with --module first" % (module, where))
    if _differs(CORE, staged):
        raise SystemExit("firmware/mesh/ changed since %s's last run: run --module %s" % (module, module))
    for tests in (os.path.join(where, "tests", "core"), os.path.join(where, "mutants", "tests", "core")):
        shutil.rmtree(tests, ignore_errors=True)
    shutil.copytree(TESTS, os.path.join(where, "tests", "core"), ignore=shutil.ignore_patterns("__pycache__"))
    stats = os.path.join(where, "mutants", "mutmut-stats.json")
    if os.path.exists(stats):
        os.remove(stats)


def _differs(a, b):
    cmp = filecmp.dircmp(a, b, ignore=["__pycache__"])
    names = [n for n in cmp.left_only + cmp.right_only if n.endswith(".py")]
    _match, mismatch, errors = filecmp.cmpfiles(a, b, [n for n in cmp.common_files if n.endswith(".py")],
                                                shallow=False)
    return bool(names or mismatch or errors)


def run_mutmut(where, jobs, names=()):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    cmd = [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs)] + list(names)
    # mutmut redraws a progress line; keep the last state of it only
    proc = subprocess.run(cmd, cwd=where, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    log = proc.stdout.decode(errors="replace")
    with open(os.path.join(where, "mutmut.log"), "w") as f:
        f.write(log)
    if proc.returncode != 0:
        sys.stderr.write(log[-3000:])
        raise SystemExit("mutmut failed (exit %d); full log in %s" % (proc.returncode, where))


def collect(where):
    """-> {module: {"killed": n, "survived": n, "other": n, "untested": n, "survivors": [names]}}"""
    out = {}
    base = os.path.join(where, "mutants", "src", "mesh")
    if not os.path.isdir(base):
        return out
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


# --- what a run measured: kept beside its results, read when combining ------

def _git(*args):
    try:
        return subprocess.run(["git"] + list(args), cwd=ROOT, stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL).stdout.decode().strip()
    except OSError:
        return ""


def _commit():
    """HEAD's short hash, with "+" if the core or its tests differ from it."""
    head = _git("rev-parse", "--short", "HEAD") or "?"
    dirty = _git("status", "--porcelain", "--", "firmware/mesh", "tests/core")
    return head + ("+" if dirty else "")


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def read_run(where):
    try:
        with open(os.path.join(where, RUN_FILE)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def write_run(where, run):
    with open(os.path.join(where, RUN_FILE), "w") as f:
        json.dump(run, f, indent=1, sort_keys=True)
        f.write("\n")


def measure(module, jobs):
    """A complete run of one module's mutants, recorded in its staging folder."""
    where = stage_dir(module)
    commit = _commit()          # what is staged: the tree may move on during the run
    stage(module)
    started, t0 = _now(), time.monotonic()
    run_mutmut(where, jobs)
    write_run(where, {"module": module, "commit": commit, "started": started,
                      "seconds": round(time.monotonic() - t0, 1), "jobs": jobs,
                      "tool": "mutmut " + _mutmut_version()})


def retest_survivors(module, jobs):
    where = stage_dir(module)
    run = read_run(where)
    commit = _commit()
    restage_tests(module)
    names = collect(where).get(module, {}).get("survivors", [])
    t0 = time.monotonic()
    if names:
        run_mutmut(where, jobs, names)
    run.setdefault("survivor_reruns", []).append(
        {"tests_commit": commit, "at": _now(), "mutants": len(names),
         "seconds": round(time.monotonic() - t0, 1)})
    write_run(where, run)


def is_current(module):
    """The module's last run was complete and staged the core and tests as
    they are now: running it again would measure the same thing."""
    where = stage_dir(module)
    row = collect(where).get(module)
    if not row or row["untested"] or not read_run(where):
        return False
    return not _differs(CORE, os.path.join(where, "src", "mesh")) and \
        not _differs(TESTS, os.path.join(where, "tests", "core"))


# --- the combined table ------------------------------------------------------

def _latest_runs():
    """-> {module: (staging folder, row)}: each module's most recent run in
    any staging folder (its own, or an older run that mutated several)."""
    latest = {}
    for name in sorted(os.listdir(STAGES)) if os.path.isdir(STAGES) else ():
        where = os.path.join(STAGES, name)
        for module, row in collect(where).items():
            when = os.path.getmtime(os.path.join(where, "mutants", "src", "mesh", module + ".py.meta"))
            if module not in latest or when > latest[module][0]:
                latest[module] = (when, where, row)
    return {module: (where, row) for module, (_when, where, row) in latest.items()}


def combine():
    """Every core module's latest run -> the combined result (dict)."""
    modules, missing = {}, []
    latest = _latest_runs()
    for module in sorted(core_modules()):
        if module not in latest:
            missing.append(module)
            continue
        where, row = latest[module]
        run = read_run(where)
        reruns = run.get("survivor_reruns", [])
        row["score"] = round(score(row), 1)
        row["commit"] = run.get("commit", "?")
        row["tests_commit"] = reruns[-1]["tests_commit"] if reruns else row["commit"]
        row["measured"] = reruns[-1]["at"] if reruns else run.get("started", "?")
        row["seconds"] = run.get("seconds")
        row["jobs"] = run.get("jobs")
        # does the module's source still read as it did when it was measured?
        staged = os.path.join(where, "src", "mesh", module + ".py")
        row["source_current"] = os.path.exists(staged) and \
            filecmp.cmp(staged, os.path.join(CORE, module + ".py"), shallow=False)
        modules[module] = row
    total = {k: sum(r[k] for r in modules.values()) for k in ("killed", "survived", "other", "untested")}
    n = total["killed"] + total["survived"] + total["other"]
    overall = score(total)
    weakest = min([r["score"] for r in modules.values()] or [100.0])
    complete = not missing and total["untested"] == 0
    return {
        "tool": "mutmut " + _mutmut_version(),
        "source": "firmware/mesh/", "tests": "tests/core",
        "combined_at": _now(), "head": _commit(),
        "overall": {"killed": total["killed"], "mutants": n, "score": round(overall, 1),
                    "untested": total["untested"]},
        "complete": complete, "missing": missing,
        "modules": modules,
        "targets": {"overall": TARGET_OVERALL, "module": TARGET_MODULE,
                    "met": complete and overall >= TARGET_OVERALL and weakest >= TARGET_MODULE},
    }


def table(result):
    rows = ["%-13s %6s %6s %7s %8s  %-9s %-9s %s" % ("module", "killed", "of", "score", "untested",
                                                     "core", "tests", "source")]
    for module, row in sorted(result["modules"].items()):
        n = row["killed"] + row["survived"] + row["other"]
        rows.append("%-13s %6d %6d %6.1f%% %8d  %-9s %-9s %s" % (
            module, row["killed"], n, row["score"], row["untested"], row["commit"],
            row["tests_commit"], "as now" if row["source_current"] else "CHANGED since"))
    o = result["overall"]
    rows.append("%-13s %6d %6d %6.1f%% %8d" % ("overall", o["killed"], o["mutants"], o["score"],
                                              o["untested"]))
    if result["missing"]:
        rows.append("not measured: " + ", ".join(result["missing"]))
    t = result["targets"]
    rows.append("target >= %.0f %% overall and >= %.0f %% per module: %s" % (
        t["overall"], t["module"], "met" if t["met"] else "NOT met"))
    return "\n".join(rows)


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
                    help="mutate only this core module (repeatable), measured again even if current")
    ap.add_argument("--survivors", action="store_true",
                    help="re-test only the last run's survivors (of --module, or of every module) "
                         "against the current tests/core")
    ap.add_argument("--combine", "--report", action="store_true",
                    help="run nothing: combine the per-module runs kept in build/mutation/")
    ap.add_argument("--check", action="store_true", help="exit 1 if a target is missed")
    args = ap.parse_args(argv)
    known = core_modules()
    for module in args.module:
        if module not in known:
            ap.error("no core module %r (firmware/mesh/: %s)" % (module, ", ".join(sorted(known))))
    if not args.combine:
        chosen = args.module or known
        for module in chosen:
            if args.survivors:
                print("%s: re-testing survivors" % module, flush=True)
                retest_survivors(module, args.jobs)
            elif args.module or not is_current(module):
                print("%s: mutating" % module, flush=True)
                measure(module, args.jobs)
            else:
                print("%s: last run is current, kept" % module, flush=True)
            row = collect(stage_dir(module)).get(module)
            if row:
                print("  %s: %d / %d killed (%.1f %%) in %s s" % (
                    module, row["killed"], row["killed"] + row["survived"] + row["other"],
                    score(row), read_run(stage_dir(module)).get("seconds", "?")), flush=True)
    result = combine()
    print(table(result))
    os.makedirs(os.path.dirname(RESULT), exist_ok=True)
    with open(RESULT, "w") as f:
        json.dump(result, f, indent=1, sort_keys=True)
        f.write("\n")
    print("written to %s; each module's survivors: cd build/mutation/<module> && "
          "../../../.venv/bin/python -m mutmut show NAME" % os.path.relpath(RESULT, ROOT))
    if args.check and not result["targets"]["met"]:
        raise SystemExit("mutation score below target (%.0f %% overall, %.0f %% per module)"
                         % (TARGET_OVERALL, TARGET_MODULE))


if __name__ == "__main__":
    main()
