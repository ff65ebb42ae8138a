"""Where a sweep's runs execute: local processes (one per core) or Dask.

Both hand each finished run's line to `on_done(line, wall_s)` in the calling
process, which writes it out at once. A run is deterministic, so retrying it
after a worker died changes nothing: locally a broken pool is rebuilt and the
runs it lost are resubmitted (up to MAX_ATTEMPTS times each); on Dask the
scheduler reschedules a dead worker's tasks itself (its `allowed-failures`),
and `retries` re-runs a task that raised.
"""
import os

from nowmesh.errors import ToolError
from nowmesh.sim.sweep import run_id, run_one

MAX_ATTEMPTS = 3


class RunFailed(Exception):
    def __init__(self, params, error):
        self.params = params
        self.error = error
        super().__init__("run %s %s failed: %s" % (run_id(params), _short(params), error))


def _short(params):
    return ", ".join("%s=%s" % kv for kv in sorted(params.items()) if not isinstance(kv[1], (dict, list)))


def default_workers():
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


def run_local(todo, workers, on_done, on_error, task=run_one):
    """Runs in a process pool of `workers` processes (`task`: what a run is)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool
    # spawned, not forked: a worker forked from a process with threads (a
    # test session's, a GUI's) can inherit a lock another thread held at the
    # fork; after a worker died, a forked one hung for good putting its result
    context = multiprocessing.get_context("spawn")
    attempts = {}
    remaining = list(todo)
    while remaining:
        lost = []
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(task, params): params for params in remaining}
            for future in as_completed(futures):
                params = futures[future]
                try:
                    line, wall_s = future.result()
                except BrokenProcessPool:
                    key = run_id(params)
                    attempts[key] = attempts.get(key, 1) + 1
                    if attempts[key] > MAX_ATTEMPTS:
                        on_error(RunFailed(params, "its worker process died %d times" % MAX_ATTEMPTS))
                    else:
                        lost.append(params)
                    continue
                except Exception as exc:      # the simulation itself raised: not retried
                    on_error(RunFailed(params, "%s: %s" % (type(exc).__name__, exc)))
                    continue
                on_done(line, wall_s)
        remaining = lost


def run_dask(todo, address, workers, on_done, on_error):
    """Runs as tasks on a Dask distributed cluster (`local`: a LocalCluster here)."""
    try:
        from distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise ToolError("--dask needs the 'distributed' package (pip install distributed)")
    cluster = None
    try:
        if address == "local":
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
            client = Client(cluster)
        else:
            client = Client(address, timeout=30)
    except OSError as exc:
        raise ToolError("cannot reach the Dask scheduler at %s: %s" % (address, exc))
    try:
        futures = {}
        for params in todo:
            # pure=False: the key is ours (the run's digest); Dask never
            # dedups two submissions of a run behind our back
            future = client.submit(run_one, params, key="nowmesh-run-" + run_id(params),
                                   retries=MAX_ATTEMPTS - 1, pure=False)
            futures[future] = params
        for future in as_completed(list(futures)):
            params = futures[future]
            try:
                line, wall_s = future.result()
            except Exception as exc:
                on_error(RunFailed(params, "%s: %s" % (type(exc).__name__, exc)))
                continue
            on_done(line, wall_s)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

