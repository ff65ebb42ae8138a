"""The monitor's serial link: reads console lines, polls the node, reconnects.

A background thread owns the port. It turns everything into records (see
nowmesh.monitor.model) on `self.records` (a queue), sends the periodic polls
(readings, neighbours, routes, status, and one remote node's status per round)
and the user's commands, and matches replies by id while events keep flowing
(ConsoleClient.command would skip events while waiting).

Faults it rides out: the port vanishing (unplug, an emulated node killed:
reads fail) -> "disconnected", then it reopens the same path until it is back;
a board reset -> a new hello; garbage bytes -> "output" lines, protocol lines
that are not sound objects (parse_line's "garbage", a malformed answer) ->
"garbage" records with the reason, and a line with no newline is cut at
MAX_LINE so memory stays bounded. Should the reader itself fail (a bug, not
input), the failure is reported as a "link" record ("error", with the
exception) and the reader starts over on a freshly opened port: it never
dies quietly while the dashboard looks alive.
"""
import itertools
import queue
import threading
import time

import serial

from nowmesh.console.client import PortError, open_port
from nowmesh.console.protocol import PROTO, answer_problem, format_command, parse_line
from nowmesh.monitor.model import RECORDS

MAX_LINE = 4096
POLLS = ("readings", "neighbours", "routes", "status")
# List polls go a page at a time: a whole 20-node table in one reply does not
# fit a node's heap (docs/console-protocol.md, paging). A full page asks for the next.
PAGED = ("readings", "neighbours", "routes")
PAGE_ROWS = 8
REPLY_TIMEOUT_S = 12.0          # remote requests time out on the node after 10 s
SILENT_AFTER_S = 15.0           # connected, but no protocol line for this long


class MonitorLink:
    def __init__(self, url, baudrate=115200, poll_s=5.0, retry_s=0.5, remote_status=True, opener=open_port,
                 silent_after_s=SILENT_AFTER_S):
        self.url = url
        self.silent_after_s = silent_after_s
        self.baudrate = baudrate
        self.poll_s = poll_s
        self.retry_s = retry_s
        self.remote_status = remote_status
        self.records = queue.Queue()
        self._open = opener
        self._requests = queue.Queue()
        self._pending = {}          # id -> (record kind, cmd, node, sent_at)
        self._ids = itertools.count(1)
        self._stop = threading.Event()
        self._thread = None
        self._port = None
        self._buffer = b""
        self._next_poll = 0.0
        self._last_protocol = None
        self._silent = False
        self._known_remote = []     # remote node ids, for round-robin status polls
        self._greeted = False       # the node on the port has said who it is since we connected
        self._remote_turn = 0
        self._last_link = None
        self.reader_failures = 0    # the reader's own faults, each reported and restarted

    # -- control, from any thread --------------------------------------------------
    def connect_once(self):
        """Open the port now, in the caller's thread: a wrong path fails here, clearly."""
        self._port = self._open(self.url, self.baudrate, timeout=0.1)
        try:
            self._connected()
        except (serial.SerialException, OSError) as exc:
            self._close()
            raise PortError("%s: the port went away (%s)" % (self.url, _reason(exc))) from None

    def start(self):
        self._thread = threading.Thread(target=self._run, name="nowmesh-monitor-link", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
        self._close()

    def request(self, cmd, args=None, node=None):
        """Ask the node (or `node` through it); the answer arrives as a "reply" record."""
        self._requests.put((cmd, args, node))

    def poll_now(self):
        self._next_poll = 0.0

    def remember_remote(self, node_ids):
        self._known_remote = [n for n in node_ids if n]

    # -- the thread ---------------------------------------------------------------------
    def _run(self):
        while not self._stop.is_set():
            try:
                if self._port is None and not self._reopen():
                    continue
                self._serve_once()
            except (serial.SerialException, OSError) as exc:
                # A port can vanish between any two calls, even right after opening.
                self._lost("the port went away (%s)" % _reason(exc))
            except Exception as exc:              # noqa: BLE001 -- reported, then a fresh start
                self.reader_failures += 1
                self._lost("the reader failed (%s: %s); restarted" % (type(exc).__name__, exc), "error")

    def _reopen(self):
        try:
            self._port = self._open(self.url, self.baudrate, timeout=0.1)
        except (PortError, serial.SerialException, OSError) as exc:
            self._link_state("reconnecting", str(exc).split(": ", 1)[-1])
            self._stop.wait(self.retry_s)
            return False
        self._connected()
        return True

    def _connected(self):
        self._buffer = b""
        self._pending.clear()
        self._next_poll = 0.0
        self._last_protocol = time.monotonic()
        self._silent = False
        self._greeted = False          # the first poll asks who is on this port
        self._link_state("connected", None)

    def _lost(self, why, state="disconnected"):
        self._close()
        self._link_state(state, why)
        for kind, cmd, args, node, _sent in self._pending.values():
            if kind == "reply":       # the user asked: say the answer will not come
                self._fail(kind, cmd, args, node, "the link was lost")
        self._pending.clear()
        self._stop.wait(self.retry_s)

    def _close(self):
        if self._port is not None:
            try:
                self._port.close()
            except (serial.SerialException, OSError):
                pass
            self._port = None

    def _serve_once(self):
        self._send_due()
        chunk = self._port.read(self._port.in_waiting or 1)
        if chunk:
            self._feed(chunk)
        self._expire(time.monotonic())

    def _feed(self, chunk):
        self._buffer += chunk
        while b"\n" in self._buffer:
            raw, self._buffer = self._buffer.split(b"\n", 1)
            self._line(raw[:MAX_LINE].decode("utf-8", "replace"))
        if len(self._buffer) > MAX_LINE:          # garbage with no line end
            self._line(self._buffer[:MAX_LINE].decode("utf-8", "replace")[:200] + "...")
            self._buffer = b""

    def _line(self, text):
        line = parse_line(text)
        if line.kind == "event" and line.data["ev"] in RECORDS:
            # A node may not speak as the monitor ("link", "reply", ...): its
            # record would pass for one the monitor made.
            line.kind, line.error = "garbage", "event name %r is the monitor's own" % line.data["ev"]
        if line.kind in ("event", "reply"):
            self._last_protocol = time.monotonic()
            if self._silent:
                self._silent = False
                self._link_state("connected", "the node answers again")
        if line.kind == "event":
            if line.data.get("ev") == "hello":
                self._greeted = True
            self.records.put(dict(line.data, t=time.time()))
        elif line.kind == "reply":
            self._reply(line)
        elif line.kind == "garbage":
            self._emit("garbage", text=line.text[:200], error=line.error)
        elif line.kind == "mismatch":
            self._link_state("mismatch", "the node speaks console protocol %s; this nowmesh speaks %d"
                             % (line.data.get("proto"), PROTO))
        elif text.strip():
            self._emit("output", text=line.text)

    def _reply(self, line):
        data = line.data
        pending = self._pending.pop(data.get("re"), None)
        if pending is None:
            return                  # not ours (another tool's id, or answered after we gave up)
        kind, cmd, args, node, sent = pending
        problem = answer_problem(cmd, line)
        if problem:
            self._emit("garbage", text=line.text[:200], error=problem)
            data = {"ok": False, "error": "malformed answer (%s)" % problem}
        rec = {"cmd": cmd, "node": node, "ok": data["ok"],
               "rtt_ms": int((time.monotonic() - sent) * 1000)}
        if args:
            rec["args"] = args
        if data["ok"]:
            rec["data"] = data.get("data")
            self._greeted = self._greeted or (cmd == "hello" and node is None)
            self._next_page(kind, cmd, args, node, rec["data"])
        else:
            rec["error"] = data.get("error") or "failed"
        self._emit(kind, **rec)

    def _next_page(self, kind, cmd, args, node, data):
        limit = (args or {}).get("limit")
        if kind == "poll" and cmd in PAGED and limit and isinstance(data, list) and len(data) == limit:
            self._send(kind, cmd, {"offset": args["offset"] + limit, "limit": limit}, node)

    def _send_due(self):
        now = time.monotonic()
        while True:
            try:
                cmd, args, node = self._requests.get_nowait()
            except queue.Empty:
                break
            self._send("reply", cmd, args, node)
        if now >= self._next_poll:
            self._next_poll = now + self.poll_s
            # Who is on this port (a reset announces itself), asked again each
            # poll until answered: a board still booting when we connected may
            # have dropped the question (a real one loses what arrives during reset).
            for cmd in POLLS if self._greeted else ("hello",) + POLLS:
                self._send("poll", cmd, {"offset": 0, "limit": PAGE_ROWS} if cmd in PAGED else None, None)
            if self.remote_status and self._known_remote:
                self._remote_turn = (self._remote_turn + 1) % len(self._known_remote)
                self._send("poll", "status", None, self._known_remote[self._remote_turn])
        if now - self._last_protocol > self.silent_after_s and not self._silent:
            self._silent = True
            self._link_state("silent", "no console protocol for %gs: at the REPL, or another firmware?"
                             % self.silent_after_s)

    def _send(self, kind, cmd, args, node):
        cmd_id = next(self._ids)
        self._pending[cmd_id] = (kind, cmd, args, node, time.monotonic())
        self._port.write(format_command(cmd_id, cmd, args, node).encode())

    def _expire(self, now):
        for cmd_id, (kind, cmd, args, node, sent) in list(self._pending.items()):
            if now - sent > REPLY_TIMEOUT_S:
                del self._pending[cmd_id]
                self._fail(kind, cmd, args, node, "no answer within %gs" % REPLY_TIMEOUT_S)

    def _fail(self, kind, cmd, args, node, error):
        rec = {"cmd": cmd, "node": node, "ok": False, "error": error}
        if args:
            rec["args"] = args
        self._emit(kind, **rec)

    def _link_state(self, state, detail):
        # One record per change: a port that stays away is not a record every retry.
        if (state, detail) != self._last_link:
            self._last_link = (state, detail)
            self._emit("link", state=state, port=self.url, detail=detail)

    def _emit(self, ev, **fields):
        fields["ev"] = ev
        fields["t"] = time.time()
        self.records.put(fields)


def _reason(exc):
    return exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
