# The user's app (issue #15, docs/app-api.md): the board's `app.py` or `app/`
# package defines `async def main(mesh)`; this plug-in of the port's loop
# (like the gateway: start(app) at boot, hooks from the loop) imports it at
# boot and runs it as an asyncio task beside the port's loop task.
#
# Containment: an exception in the app is reported (console `app_error` with
# the traceback's last line), counted in `status`, and the app restarts after
# usertask.RestartPolicy's back-off; after repeated failures it stays stopped
# and says so (`app_stopped`). The mesh runs on whatever the app does.
import asyncio
import gc
import io
import os
import sys
import time

from .appapi import PARTS, Mesh, part
from .usertask import RestartPolicy

# A user task that keeps the loop longer than this between two turns of the
# port's loop is reported (`app_blocked`): frames wait in the radio's ring
# while it runs. The board's watchdog (30 s) resets a node held longer still.
HOLD_REPORT_MS = 500


def error_line(exc):
    """The traceback's last line ('ValueError: bad value'), as a console shows it."""
    buf = io.StringIO()
    sys.print_exception(exc, buf)
    lines = [line for line in buf.getvalue().split("\n") if line.strip()]
    return lines[-1].strip() if lines else repr(exc)


def _app_files():
    try:
        return ["app/" + name for name in os.listdir("app")]
    except OSError:
        return ["app.mpy", "app.py"]


def preload():
    """Import at boot the API's parts the app's code names (appapi.PARTS):
    imported on first use instead, minutes later, a part could meet a
    fragmented heap (docs/heap.md). A name the scan misses (built at run
    time) is imported when used. -> the parts imported."""
    wanted = []
    for path in _app_files():
        try:
            with open(path, "rb") as f:
                code = f.read()
        except OSError:           # a folder in app/, or no such file
            continue
        wanted.extend([module for word, module in PARTS if word in code and module not in wanted])
        code = None
    gc.collect()                  # the files' bytes: not left between the parts' code
    for module in wanted:
        part(module)
    return wanted


def load():
    """Import the user's app -> (its main, None) or (None, the exception).
    Called from main() at boot, before the mesh's tables fill the heap
    (imported later, the gateway's code met a fragmented heap: docs/heap.md)."""
    preload()
    try:
        module = __import__("app")
        main = getattr(module, "main", None)
        if main is None:
            raise AttributeError("app has no main(mesh)")
        return main, None
    except Exception as e:            # a broken app must not stop the mesh
        return None, e


def start(app, loaded):
    """-> the UserApp running what load() returned."""
    user = UserApp(app)
    main, error = loaded
    if error is not None:
        user.import_failed(error)
    user.main = main
    return user


class UserApp:
    def __init__(self, app):
        self.app = app
        self.mesh = Mesh(app)
        self.policy = RestartPolicy()
        self.main = None
        self.state = "starting"
        self.blocked = 0              # times a user task held the loop past HOLD_REPORT_MS

    # ------------------------------------------------------------- lifecycle
    def import_failed(self, exc):
        line = error_line(exc)
        self.policy.failed(self.app.clock.now(), line)
        self.state = "stopped"        # nothing to restart: the same import would fail again
        self._report_error(line, None)
        self.app.console.event("app_stopped", reason="import failed", error=line)

    def run(self, wdt):
        """The port's loop as an asyncio task, the app's supervisor beside it (never returns)."""
        asyncio.get_event_loop().set_exception_handler(self._task_failed)
        asyncio.create_task(self._supervise())
        asyncio.run(self._port_loop(wdt))

    async def _port_loop(self, wdt):
        # A step waits for a frame at most until the next asyncio task is due
        # (due_in_ms, from App._wait_ms), then yields: the app's tasks run
        # between two steps, never inside one.
        app = self.app
        while True:
            app.guarded_step()
            wdt.feed()
            yielded = time.ticks_ms()
            await asyncio.sleep_ms(0)
            self.held(time.ticks_diff(time.ticks_ms(), yielded))

    def _task_failed(self, loop, context):
        # asyncio's handler for a task that raised with nobody awaiting it:
        # one the app created itself (main() is supervised)
        exc = context.get("exception")
        if exc is not None:
            self.failed_callback("task", exc)

    async def _supervise(self):
        while True:
            self.state = "running"
            self.mesh._reset()
            try:
                await self.main(self.mesh)
                self.state = "finished"
                self.app.console.event("app_finished")
                return
            except MemoryError as e:  # the app's allocation failed: collect, count it as a crash
                gc.collect()
                line = error_line(e)
            except Exception as e:
                line = error_line(e)
            restart_at = self.policy.failed(self.app.clock.now(), line)
            self._report_error(line, restart_at)
            if restart_at is None:
                self.state = "stopped"
                self.app.console.event("app_stopped", reason="failed %d times" % self.policy.failures,
                                       error=line)
                return
            self.state = "restarting"
            await asyncio.sleep_ms(max(0, restart_at - self.app.clock.now()))

    def _report_error(self, line, restart_at):
        self.app.node.count("app_error")
        delay = None if restart_at is None else restart_at - self.app.clock.now()
        self.app.console.event("app_error", error=line, failures=self.policy.failures,
                               restart_in_ms=delay)

    def failed_callback(self, where, exc):
        """A handler of the app's (command, request, sensor) raised: reported
        and counted, the caller gets an error; the app task runs on."""
        line = error_line(exc)
        self.app.node.count("app_error")
        self.app.console.event("app_error", where=where, error=line)
        return line

    # ------------------------------------------------------------- the loop
    def held(self, ms):
        """The port's loop task waited `ms` for the others to yield."""
        if ms > HOLD_REPORT_MS:
            self.blocked += 1
            self.app.console.event("app_blocked", held_ms=ms, bound_ms=HOLD_REPORT_MS)

    @staticmethod
    def due_in_ms(wait_ms):
        """wait_ms, shortened so the radio wait ends when asyncio's next task is due."""
        head = asyncio.core._task_queue.peek()
        if head is None:
            return wait_ms
        return max(0, min(wait_ms, time.ticks_diff(head.ph_key, time.ticks_ms())))

    # ------------------------------------------------------------- hooks
    def on_reading(self, origin, seq, values):
        self.mesh._arrived(origin, seq, values)

    def status(self):
        s = self.policy.status()
        s["app_state"] = self.state
        s["app_blocked"] = self.blocked
        return s
