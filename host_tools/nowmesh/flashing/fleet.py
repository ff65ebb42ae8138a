"""Flash many boards at once: one thread per board, a progress bar per board,
a summary at the end. esptool logs to one process-wide logger, so while a
fleet runs that logger is replaced by one that routes each thread's output
and progress to its own board's display line."""
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

from esp_pylib.logger import EspLog, EspLogBase

from nowmesh.errors import InputError, ToolError

from . import session


class _BoardSink:
    """Where one board's esptool messages and progress go."""

    def __init__(self, job, display):
        self.job, self.display, self.lines = job, display, []
        self.phase = "connect"

    def note(self, text):
        self.lines.append(text)        # kept for --debug; a board's log is not printed by default

    def progress(self, done, total):
        self.display.update(self.job, self.phase, done, total)


class _RoutedLog(EspLogBase):
    """An esptool logger whose output follows the calling thread's board."""

    def __init__(self):
        self.local = threading.local()

    def _emit(self, *args, **kwargs):
        sink = getattr(self.local, "sink", None)
        if sink is not None:
            sink.note(" ".join(str(a) for a in args))

    print = err = warn = note = hint = debug = _emit

    def set_verbosity(self, mode):
        pass

    def progress_bar(self, cur_iter, total_iters, prefix="", suffix="", bar_length=30):
        sink = getattr(self.local, "sink", None)
        if sink is not None:
            sink.progress(cur_iter, total_iters)


class PlainDisplay:
    """No terminal (or --json): a line per board when it finishes, nothing for --json."""

    def __init__(self, jobs, quiet=False):
        self.quiet = quiet

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass

    def update(self, job, phase, done, total):
        pass

    def finish(self, job, result):
        if not self.quiet:
            print("%s: %s" % (label(job), summary_cell(result)), flush=True)


class RichDisplay(PlainDisplay):
    """A live progress bar per board (rich)."""

    def __init__(self, jobs, quiet=False):
        from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeElapsedColumn
        super().__init__(jobs, quiet)
        self.progress = Progress(TextColumn("{task.description:<28}"), BarColumn(),
                                 DownloadColumn(), TextColumn("{task.fields[phase]:<8}"),
                                 TimeElapsedColumn(), transient=False)
        self.tasks = {id(job): self.progress.add_task(label(job), total=len(job.data), phase="connect")
                      for job in jobs}

    def __enter__(self):
        self.progress.start()
        return self

    def __exit__(self, *exc):
        self.progress.stop()

    def update(self, job, phase, done, total):
        self.progress.update(self.tasks[id(job)], completed=done, total=total, phase=phase)

    def finish(self, job, result):
        state = "ok" if result.get("ok") else "FAILED"
        self.progress.update(self.tasks[id(job)], phase=state)


def label(job):
    return "%s @ %s" % (job.node, job.port) if job.node else job.port


def summary_cell(result):
    if result.get("ok"):
        return "ok, %d bytes at %#x verified, %s, %s, %.1f s" % (
            result["bytes"], result["offset"], result["chip"], result["mac"], result["seconds"])
    return "FAILED: %s" % result["error"]


def run_jobs(jobs, display, opener=None):
    """Flash every job in parallel; return one result dict per job (in job order)."""
    router = _RoutedLog()
    saved = EspLog.instance
    EspLog.instance = router
    try:
        with display, ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
            return list(pool.map(lambda job: _one(job, router, display, opener), jobs))
    finally:
        EspLog.instance = saved


def _one(job, router, display, opener):
    sink = _BoardSink(job, display)
    router.local.sink = sink

    def report(phase, done, total):
        sink.phase = phase
        display.update(job, phase, done, total)

    try:
        result = dict(session.flash(job, report=report, opener=opener), ok=True)
    except (ToolError, InputError) as e:
        result = {"port": job.port, "node": job.node, "board": job.board["name"], "ok": False,
                  "error": str(e)}
    except Exception as e:        # noqa: BLE001 -- one board's bug must not hide the others' results
        result = {"port": job.port, "node": job.node, "board": job.board["name"], "ok": False,
                  "error": "%s: %s" % (type(e).__name__, e)}
    result["log"] = sink.lines
    display.finish(job, result)
    return result


def make_display(jobs, as_json):
    if as_json:
        return PlainDisplay(jobs, quiet=True)
    if sys.stdout.isatty():
        return RichDisplay(jobs)
    return PlainDisplay(jobs)
