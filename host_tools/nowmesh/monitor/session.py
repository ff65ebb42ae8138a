"""Glue between a link (a record source), the mesh model and the outputs.

`MonitorSession.drain()` moves what the link produced into the model, the
SQLite log (committed once per drain) and an optional callback (`--json`
prints there). The dashboard calls it on a timer; `stream_json` in a loop.
Any object with `records` (a queue), `request()`, `poll_now()`,
`remember_remote()`, `start()` and `stop()` is a link: tests pass a recorded one.
"""
import json
import queue
import sys
import time

from nowmesh.monitor.model import MeshState


class MonitorSession:
    def __init__(self, link, log=None, on_record=None, model=None):
        self.link = link
        self.log = log
        self.on_record = on_record
        self.model = model or MeshState()

    def drain(self, limit=2000, wait=0.0):
        """Apply up to `limit` waiting records (waiting up to `wait` s for the first)."""
        count = 0
        try:
            while count < limit:
                record = self.link.records.get(timeout=wait) if count == 0 and wait else \
                    self.link.records.get_nowait()
                self._take(record)
                count += 1
        except queue.Empty:
            pass
        if count:
            if self.log is not None:
                self.log.commit()
            remote = [n for n in self.model.nodes if n != self.model.local_id]
            self.link.remember_remote(remote)
        return count

    def _take(self, record):
        if not self.model.apply(record):
            # Logged and streamed as what it is: garbage, with the reason.
            record = {"ev": "garbage", "t": time.time(), "error": self.model.last_refused}
        if self.log is not None:
            self.log.add(record)
        if self.on_record is not None:
            self.on_record(record)

    def close(self):
        """Stop the link, then keep what it produced before stopping."""
        self.link.stop()
        self.drain(limit=10 ** 9)
        if self.log is not None:
            self.log.close()
            self.log = None           # closing twice (app unmount, then the command) is fine


def json_printer(out=None):
    def emit(record):
        (out or sys.stdout).write(json.dumps(record, sort_keys=True, default=str) + "\n")
        (out or sys.stdout).flush()
    return emit


def stream_json(session, seconds=None):
    """Run until `seconds` passed (or Ctrl-C, which the caller sees after cleanup)."""
    end = None if seconds is None else time.monotonic() + seconds
    try:
        while end is None or time.monotonic() < end:
            session.drain(wait=0.2)
    finally:
        session.close()
