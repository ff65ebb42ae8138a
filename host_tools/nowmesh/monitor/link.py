"""The monitor's serial link: reads console lines, polls the node, reconnects.

A background thread owns the port. It turns everything into records (see
nowmesh.monitor.model) on `self.records` (a queue), sends the periodic polls
(readings, neighbours, routes, status, and one remote node's status per round)
and the user's commands over one console Connection (nowmesh.console.connection:
ids, pages and deadlines), while events keep flowing.

Faults it rides out: the port vanishing (unplug, an emulated node killed:
reads fail) -> "disconnected", then it reopens the same path until it is back;
a board reset -> a new hello; garbage bytes -> "output" lines, protocol lines
that are not sound objects (the connection's Garbage, a malformed answer) ->
"garbage" records with the reason, and a line with no newline is cut at
MAX_LINE so memory stays bounded. Should the reader itself fail (a bug, not
input), the failure is reported as a "link" record ("error", with the
exception) and the reader starts over on a freshly opened port: it never
dies quietly while the dashboard looks alive.
"""
import queue
import threading
import time

import serial

from nowmesh.console.client import ConsoleClient, PortError, open_port
from nowmesh.console.connection import (MAX_LINE, PAGE_ROWS, REMOTE_TIMEOUT_S, Connection, Garbage,  # noqa: F401
                                        Hello, Mismatch, NodeEvent, NoAnswer, Output, Reply)
from nowmesh.monitor.model import RECORDS

POLLS = ("readings", "neighbours", "routes", "status")
# List polls go a page at a time: a whole 20-node table in one reply does not
# fit a node's heap (docs/console-protocol.md, paging). A full page asks for the next.
PAGED = ("readings", "neighbours", "routes")
REPLY_TIMEOUT_S = REMOTE_TIMEOUT_S          # every request, local ones too
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
        self._connection = Connection()     # request kind ("poll" or "reply") in each Request's tag
        self._stop = threading.Event()
        self._thread = None
        self._port = None
        self._client = None
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
            except PortError as exc:          # the driver's words: "<url>: the port went away (...)"
                self._lost(str(exc).split(": ", 1)[-1])
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
        self._connection.abandon("reconnected")
        self._connection.discard()
        self._client = ConsoleClient(self.url, port=self._port, connection=self._connection)
        self._next_poll = 0.0
        self._last_protocol = time.monotonic()
        self._silent = False
        self._greeted = False          # the first poll asks who is on this port
        self._link_state("connected", None)

    def _lost(self, why, state="disconnected"):
        self._close()
        self._link_state(state, why)
        for reply in self._connection.abandon("the link was lost"):
            if reply.request.tag == "reply":       # the user asked: say the answer will not come
                self._answer(reply)
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
        for event in self._client.read_some():
            self._event(event)

    def _feed(self, chunk):
        """Bytes from the port -> records, as the reader handles them (the host
        fuzz tests drive this without a port)."""
        for event in self._connection.receive(chunk, time.monotonic()):
            self._event(event)

    def _event(self, event):
        if isinstance(event, NodeEvent) and event.name in RECORDS:
            # A node may not speak as the monitor ("link", "reply", ...): its
            # record would pass for one the monitor made.
            self._emit("garbage", text=event.text[:200], error="event name %r is the monitor's own" % event.name)
            return
        if isinstance(event, (NodeEvent, Reply)) and not isinstance(event, NoAnswer):
            self._last_protocol = time.monotonic()
            if self._silent:
                self._silent = False
                self._link_state("connected", "the node answers again")
        if isinstance(event, NodeEvent):
            self._greeted = self._greeted or isinstance(event, Hello)
            self.records.put(dict(event.data, t=time.time()))
        elif isinstance(event, Reply):
            self._answer(event)
        elif isinstance(event, Garbage):
            self._emit("garbage", text=event.text[:200], error=event.error)
        elif isinstance(event, Mismatch):
            self._link_state("mismatch", event.describe())
        elif isinstance(event, Output) and event.text.strip():
            self._emit("output", text=event.text)

    def _answer(self, reply):
        request = reply.request
        if reply.malformed:
            self._emit("garbage", text=reply.text[:200], error=reply.malformed)
        rec = {"cmd": request.name, "node": request.node, "ok": reply.ok}
        if request.args:
            rec["args"] = request.args
        if isinstance(reply, NoAnswer):
            rec["error"] = ("no answer within %gs" % REPLY_TIMEOUT_S if reply.error == "no answer"
                            else reply.error)
        elif reply.ok:
            rec["rtt_ms"] = int(reply.seconds * 1000)
            rec["data"] = reply.data
            self._greeted = self._greeted or (request.name == "hello" and request.node is None)
        else:
            rec["rtt_ms"] = int(reply.seconds * 1000)
            rec["error"] = reply.error or "failed"
        self._emit(request.tag, **rec)

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
                self._send("poll", cmd, None, None)
            if self.remote_status and self._known_remote:
                self._remote_turn = (self._remote_turn + 1) % len(self._known_remote)
                self._send("poll", "status", None, self._known_remote[self._remote_turn])
        if now - self._last_protocol > self.silent_after_s and not self._silent:
            self._silent = True
            self._link_state("silent", "no console protocol for %gs: at the REPL, or another firmware?"
                             % self.silent_after_s)

    def _send(self, kind, cmd, args, node):
        self._client.request(cmd, args, node, REPLY_TIMEOUT_S, PAGE_ROWS if kind == "poll" and cmd in PAGED
                             else None, tag=kind)

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
