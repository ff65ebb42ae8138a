"""Power cuts during OTA (issue #16): 1000 seeded runs (100 with --quick),
each cutting one random node's power at a random moment of the transfer,
the install or the rollback (nowmesh.sim.ota_powercut), then checking every
node's tree. Target: 0 nodes unbootable, 0 on a mixed bundle. Part of `make
bench --only ota` (bench/ota_bench.py); docs/ota.md quotes the figures.

Standalone: python bench/ota_powercut.py [--quick] [--workers N] [SEED ...]
"""
import multiprocessing
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "host_tools"))

RUNS, QUICK_RUNS = 1000, 100
WORKERS = 2                      # the CI machine has 2 cores

_bundle = []                     # one signed bundle per worker process


def _one(seed):
    from nowmesh.sim import ota_powercut
    if not _bundle:
        _bundle.append(ota_powercut.Bundle())
    try:
        return ota_powercut.run(seed, _bundle[0])
    except Exception as exc:     # a crash is a failure of that seed, not of the bench
        return {"seed": seed, "ok": False, "failure": "crashed: %r" % exc, "phase": None}


def run_seeds(seeds, workers=WORKERS):
    """-> every run's dict, in seed order. Workers are spawned, not forked
    (a forked worker hung in CI once)."""
    if workers <= 1:
        return [_one(s) for s in seeds]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers) as pool:
        return pool.map(_one, seeds, chunksize=10)


def figures(results):
    by_phase, outcomes = {}, {}
    for r in results:
        by_phase[r["phase"]] = by_phase.get(r["phase"], 0) + 1
        outcomes[r.get("outcome")] = outcomes.get(r.get("outcome"), 0) + 1
    transfer = [r for r in results if r["phase"] == "transfer"]
    held = [r for r in transfer if r.get("held_at_cut", 0) > 0]
    # pages that should outlive the cut (not the damaged newest page, not
    # all of them under a damaged manifest): the node must boot holding them
    keep = [r for r in transfer if r.get("expect_held", 0) > 0]
    return {
        "runs": len(results),
        "cuts_by_phase": by_phase,
        "cut_node_outcome": outcomes,
        "unbootable": sum(len(r.get("unbootable", [])) for r in results),
        "mixed": sum(len(r.get("mixed", [])) for r in results),
        "transfer_cuts_holding_pages": len(held),
        "transfer_cuts_while_manifest_arrived": sum(1 for r in transfer if r.get("staged_at_cut")),
        "transfer_cuts_with_pages_to_keep": len(keep),
        "resumed_from_held": sum(1 for r in keep if r.get("resumed")),
        "kept_every_expected_page": sum(1 for r in keep if r.get("held_after_boot") == r.get("expect_held")),
        "torn_writes": _count(transfer, "torn"),
        "install_cut_then_boot_cut": sum(1 for r in results if r.get("boot_step")),
        "all_verified_s": _spread([r["all_verified_s"] for r in results if "all_verified_s" in r]),
        "slow": [{"seed": r["seed"], "phase": r["phase"], "all_verified_s": r["all_verified_s"],
                  "node": r["node"], "at_ms": r.get("at_ms")}
                 for r in results if r.get("all_verified_s", 0) > 60],
        "failures": [{"seed": r["seed"], "phase": r["phase"], "failure": r["failure"]}
                     for r in results if not r["ok"]],
    }


def _spread(values):
    """Median, 95th percentile and max of how long runs took to verify
    everywhere (after the offer), and how many took over 60 s (a stall)."""
    if not values:
        return None
    values = sorted(values)
    return {"median": values[len(values) // 2], "p95": values[int(0.95 * (len(values) - 1))],
            "max": values[-1], "over_60s": sum(1 for v in values if v > 60)}


def _count(results, key):
    out = {}
    for r in results:
        out[r.get(key)] = out.get(r.get(key), 0) + 1
    return out


def run(quick, workers=WORKERS, seeds=None):
    seeds = seeds if seeds is not None else range(QUICK_RUNS if quick else RUNS)
    started = time.perf_counter()
    results = run_seeds(list(seeds), workers)
    out = figures(results)
    out["wall_s"] = round(time.perf_counter() - started, 1)
    out["workers"] = workers
    print("  power cuts: %d runs (%s), %d unbootable, %d mixed; transfer cuts holding pages: %d "
          "(%d with pages to keep), resumed from them %d; %d failures; %.1f s on %d workers"
          % (out["runs"], ", ".join("%s %d" % kv for kv in sorted(out["cuts_by_phase"].items(), key=str)),
             out["unbootable"], out["mixed"], out["transfer_cuts_holding_pages"],
             out["transfer_cuts_with_pages_to_keep"], out["resumed_from_held"], len(out["failures"]),
             out["wall_s"], workers), flush=True)
    for f in out["failures"][:20]:
        print("    seed %(seed)s (%(phase)s): %(failure)s" % f)
    return out


if __name__ == "__main__":
    args = sys.argv[1:]
    n = WORKERS
    if "--workers" in args:
        n = int(args[args.index("--workers") + 1])
        del args[args.index("--workers"):args.index("--workers") + 2]
    chosen = [int(a) for a in args if not a.startswith("--")] or None
    import json
    print(json.dumps(run("--quick" in args, n, chosen), indent=1, sort_keys=True))
