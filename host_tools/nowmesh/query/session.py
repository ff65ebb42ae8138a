"""A query session with one node over its serial console.

Opening a session asks the node for its `hello` and refuses, with one clear
message, a port where something other than nowmesh answers (a bare
MicroPython REPL, another firmware) or a node speaking another console
protocol version. Commands then run on the node itself, or through it on a
remote node of the mesh; `run_many` keeps several in flight at once (the
answers of remote nodes take a mesh round trip each, so a whole-mesh query
is as slow as its slowest answer, not the sum of them).
"""
import time

from nowmesh.console import ConsoleClient, ConsoleError
from nowmesh.console.connection import LOCAL_TIMEOUT_S, Crash, Garbage, Hello, Mismatch, Output, Reply
from nowmesh.console.protocol import PROTO
from nowmesh.errors import ToolError

# A node keeps at most 16 mesh requests in flight (relay_queue_max) and
# refuses more; the host stays well below, leaving room for other tools.
IN_FLIGHT = 4
# Remote requests leave the node as unicast bursts towards the same next hop;
# sent back to back they collide or overrun a relay's receive buffer, and each
# loss costs a 2 s end-to-end retry. A small gap between them is cheaper.
REMOTE_GAP_S = 0.03
HELLO_TRIES = 2           # an emulated node may miss the first line after its port opens
# Asked once more when the mesh lost the request or its answer: these change
# nothing, or (config_set) set the same value again. Not ping: the node
# already tries three times, and its "timeout" is the answer a user wants.
RETRYABLE = ("hello", "status", "neighbours", "routes", "nodes", "readings", "config_get", "config_set")
LOST = ("no answer", "timeout", "restarted")   # errors that mean the mesh lost a request or its answer


class FirmwareError(ToolError):
    """The port answers, but not as a node running this nowmesh."""


def is_node_id(text):
    """'aa:bb:cc:dd:ee:ff' (a node's MAC as the console writes it)?"""
    if not isinstance(text, str) or len(text) != 17 or text.count(":") != 5:
        return False
    return all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in text.split(":"))


class Outcome:
    """The result of one command: ok with data, or an error message."""

    __slots__ = ("ok", "data", "error", "seconds")

    def __init__(self, ok, data=None, error=None, seconds=None):
        self.ok, self.data, self.error, self.seconds = ok, data, error, seconds

    def value(self, what):
        if not self.ok:
            raise ConsoleError("%s: %s" % (what, self.error))
        return self.data


class MeshSession:
    def __init__(self, url, baudrate=115200, client=None, hello_timeout_s=LOCAL_TIMEOUT_S):
        self.url = url
        self.hello_timeout_s = hello_timeout_s
        self.client = client or ConsoleClient(url, baudrate)
        self.hello = None
        self.texts = []           # ordinary output lines seen, for diagnostics
        self.names = {}           # node id -> name, as learnt during the session
        self.restarts = []        # why the node restarted during the session ("crash" events)
        self.repl_seen = False    # a line only a MicroPython REPL prints
        self.garbage = []         # protocol lines and answers that were not sound (reasons, last 20)
        self.garbage_total = 0
        self._last_remote = 0.0

    def __enter__(self):
        try:
            self.client.port.reset_input_buffer()    # output nobody read yet is old news
            self.hello = self.check_hello()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        self.client.close()

    @property
    def local_id(self):
        return self.hello["id"]

    @property
    def local_name(self):
        return self.hello.get("name")

    # -- the node's identity -----------------------------------------------------
    def check_hello(self):
        """The node's hello data; FirmwareError if it is not this nowmesh."""
        for _ in range(HELLO_TRIES):
            outcome = self.run_many([("hello", None, None)], self.hello_timeout_s / HELLO_TRIES, retry=False)[0]
            if outcome.ok or outcome.error != "no answer":
                break
        return self._judge_hello(outcome, self.url)

    def remote_hello(self, node_id):
        return self._judge_hello(self.run_many([("hello", None, node_id)])[0], node_id)

    def _judge_hello(self, outcome, where):
        if not outcome.ok:
            raise FirmwareError(self._why_no_hello(outcome.error, where))
        data = outcome.data if isinstance(outcome.data, dict) else {}
        if data.get("proto") != PROTO:
            raise FirmwareError("%s speaks console protocol %s; this nowmesh speaks %d: update %s"
                                % (where, data.get("proto"), PROTO,
                                   "the node's firmware (nowmesh deploy)" if (data.get("proto") or 0) < PROTO
                                   else "nowmesh on this computer"))
        if not is_node_id(data.get("id")):
            raise FirmwareError("%s answered hello without a node id: not a nowmesh node" % where)
        return data

    def _why_no_hello(self, error, where):
        if error == "no answer":
            if self.repl_seen:
                return ("%s runs MicroPython but not nowmesh (its REPL answered): "
                        "put nowmesh on it with `nowmesh deploy %s`" % (where, self.url))
            seen = " (it printed: %r)" % self.texts[-1][:60] if self.texts else ""
            return "%s does not answer as a nowmesh node%s: another firmware, or not booted?" % (where, seen)
        if error.startswith("unknown command"):
            return "%s runs an older nowmesh firmware without 'hello': update it (nowmesh deploy)" % where
        if error.startswith("protocol"):
            return "%s: %s" % (where, error)
        return "%s: hello failed: %s" % (where, error)

    # -- commands ------------------------------------------------------------------
    def command(self, name, args=None, node=None, timeout=None, page=None):
        """Run one command (on `node` through the mesh if given) -> its data
        (every row, `page` rows at a time, of a paged list command);
        ConsoleError (a ToolError) with the node's message on failure."""
        outcome = self.run_many([(name, args, node, page)], timeout)[0]
        where = self.names.get(node, node) or self.local_name or self.url
        if not outcome.ok and outcome.error.startswith("unknown command"):
            raise FirmwareError("%s runs a nowmesh firmware without the '%s' command%s: update it "
                                "(nowmesh deploy)" % (where, name, self._fw_note(node)))
        return outcome.value("%s on %s" % (name, where))

    def _fw_note(self, node):
        fw = (self.hello or {}).get("fw") if node is None else None
        return " (firmware %s)" % fw if fw else ""

    def run_many(self, requests, timeout=None, retry=True):
        """[(name, args, node) or (name, args, node, page)] -> [Outcome], several in flight.

        Each request gets `timeout` seconds from when it is sent (default:
        3 s on the node itself, 12 s through the mesh); a RETRYABLE one the
        mesh lost is sent once more unless retry is False. A request with a
        page size gets every page (Outcome.data: all rows)."""
        pending = list(range(len(requests)))
        waiting = {}               # Request (its first page) -> index
        results = [None] * len(requests)
        retried = set() if retry else set(range(len(requests)))
        while True:
            for index in self._lost(requests, results, retried):
                results[index] = None
                retried.add(index)
                pending.append(index)
            if not pending and not waiting:
                return results
            while pending and len(waiting) < IN_FLIGHT:
                index = pending.pop(0)
                name, args, node, page = (tuple(requests[index]) + (None,))[:4]
                if node is not None:
                    time.sleep(max(0.0, self._last_remote + REMOTE_GAP_S - time.monotonic()))
                    self._last_remote = time.monotonic()
                waiting[self.client.request(name, args, node, timeout, page)] = index
            self._collect(waiting, results)

    def _restarted(self, event, waiting, results):
        """A crash report, or the hello a node prints as it starts: whatever
        it was asked before is gone. Failed as "restarted" (asked again if
        retryable) once it is back, not after the full timeout."""
        if isinstance(event, Crash):
            self.restarts.append(event.error)
            return
        if not self.restarts:
            self.restarts.append("reset")
        self._file(self.client.connection.abandon("restarted"), waiting, results)

    def restart_note(self):
        """One line for stderr if the node restarted during the session, else None."""
        if not self.restarts:
            return None
        return ("warning: %s restarted %d time(s) while answering (%s); answers may be missing"
                % (self.local_name or self.url, len(self.restarts), self.restarts[-1]))

    def _garbage(self, reason):
        self.garbage_total += 1
        self.garbage = (self.garbage + [reason])[-20:]

    def garbage_note(self):
        """One line for stderr if the node sent garbage during the session, else None."""
        if not self.garbage_total:
            return None
        return ("warning: %d protocol line(s) from %s were not sound and were ignored (last: %s)"
                % (self.garbage_total, self.local_name or self.url, self.garbage[-1]))

    @staticmethod
    def _lost(requests, results, retried):
        """Indexes of retryable requests the mesh lost, each once. Never a
        signed one: its token works once, and a lost answer may mean it ran."""
        return [i for i, r in enumerate(results) if r is not None and not r.ok and r.error in LOST
                and i not in retried and requests[i][0] in RETRYABLE
                and "auth" not in (requests[i][1] or {})]

    def _collect(self, waiting, results):
        """Read events for a short while, filing replies to waiting commands."""
        for event in self.client.events(0.05):
            if isinstance(event, Mismatch):
                failed = self.client.connection.abandon(
                    "protocol %s: %s" % (event.proto, event.describe().replace("; ", ", ")))
                for reply in failed:
                    reply.data = {"proto": event.proto}
                self._file(failed, waiting, results)
            elif isinstance(event, (Crash, Hello)):
                self._restarted(event, waiting, results)
            elif isinstance(event, Output) and event.text.strip():
                self.texts = (self.texts + [event.text])[-20:]
                self.repl_seen = self.repl_seen or event.from_repl
            elif isinstance(event, Garbage):
                self._garbage(event.error)
            elif isinstance(event, Reply):
                if event.malformed:       # the node's, or a remote node's passed through
                    self._garbage(event.malformed)
                self._file([event], waiting, results)
            if not waiting:
                return

    @staticmethod
    def _file(replies, waiting, results):
        for reply in replies:
            if reply.request.origin in waiting and not reply.more:
                index = waiting.pop(reply.request.origin)
                results[index] = Outcome(reply.ok, reply.rows, reply.error, reply.seconds)
