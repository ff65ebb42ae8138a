"""A query session with one node over its serial console.

Opening a session asks the node for its `hello` and refuses, with one clear
message, a port where something other than nowmesh answers (a bare
MicroPython REPL, another firmware) or a node speaking another console
protocol version. Commands then run on the node itself, or through it on a
remote node of the mesh; `run_many` keeps several in flight at once (the
answers of remote nodes take a mesh round trip each, so a whole-mesh query
is as slow as its slowest answer, not the sum of them).
"""
import itertools
import random
import time

from nowmesh.console import ConsoleClient, ConsoleError
from nowmesh.console.protocol import PROTO, answer_problem, format_command
from nowmesh.errors import ToolError

# A node keeps at most 16 mesh requests in flight (relay_queue_max) and
# refuses more; the host stays well below, leaving room for other tools.
IN_FLIGHT = 4
LOCAL_TIMEOUT_S = 3.0
# Remote requests leave the node as unicast bursts towards the same next hop;
# sent back to back they collide or overrun a relay's receive buffer, and each
# loss costs a 2 s end-to-end retry. A small gap between them is cheaper.
REMOTE_GAP_S = 0.03
# The node answers a remote command within 10 s (an error "timeout" at worst).
REMOTE_TIMEOUT_S = 12.0
MESH_COMMANDS = ("ping", "send")     # answered by another node, though asked locally
HELLO_TRIES = 2           # an emulated node may miss the first line after its port opens
# Asked once more when the mesh lost the request or its answer: these change
# nothing, or (config_set) set the same value again. Not ping: the node
# already tries three times, and its "timeout" is the answer a user wants.
RETRYABLE = ("hello", "status", "neighbours", "routes", "nodes", "readings", "config_get", "config_set")
_LOST = ("no answer", "timeout", "restarted")
_REPL_SIGNS = (">>>", "MicroPython v", "raw REPL", "Type \"help()\"")


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
        self.garbage = []         # protocol lines and answers that were not sound (reasons, last 20)
        self.garbage_total = 0
        # Ids unlike any earlier session's: a reply to a command an earlier
        # session left unanswered may still arrive on the port.
        self._ids = itertools.count(random.randrange(1, 1 << 30))
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
            if any(sign in text for text in self.texts for sign in _REPL_SIGNS):
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
    def command(self, name, args=None, node=None, timeout=None):
        """Run one command (on `node` through the mesh if given) -> its data;
        ConsoleError (a ToolError) with the node's message on failure."""
        outcome = self.run_many([(name, args, node)], timeout)[0]
        where = self.names.get(node, node) or self.local_name or self.url
        if not outcome.ok and outcome.error.startswith("unknown command"):
            raise FirmwareError("%s runs a nowmesh firmware without the '%s' command%s: update it "
                                "(nowmesh deploy)" % (where, name, self._fw_note(node)))
        return outcome.value("%s on %s" % (name, where))

    def _fw_note(self, node):
        fw = (self.hello or {}).get("fw") if node is None else None
        return " (firmware %s)" % fw if fw else ""

    def run_many(self, requests, timeout=None, retry=True):
        """[(name, args, node)] -> [Outcome], several in flight at once.

        Each request gets `timeout` seconds from when it is sent (default:
        3 s on the node itself, 12 s through the mesh); a RETRYABLE one the
        mesh lost is sent once more unless retry is False."""
        pending = list(range(len(requests)))
        waiting = {}               # command id -> (index, deadline, sent)
        results = [None] * len(requests)
        retried = set() if retry else set(range(len(requests)))
        port = self.client.port
        while True:
            for index in self._lost(requests, results, retried):
                results[index] = None
                retried.add(index)
                pending.append(index)
            if not pending and not waiting:
                return results
            while pending and len(waiting) < IN_FLIGHT:
                index = pending.pop(0)
                name, args, node = requests[index]
                through_mesh = node is not None or name in MESH_COMMANDS
                limit = timeout or (REMOTE_TIMEOUT_S if through_mesh else LOCAL_TIMEOUT_S)
                cmd_id = next(self._ids)
                if node is not None:
                    time.sleep(max(0.0, self._last_remote + REMOTE_GAP_S - time.monotonic()))
                    self._last_remote = time.monotonic()
                sent = time.monotonic()
                waiting[cmd_id] = (index, sent + limit, sent)
                port.write(format_command(cmd_id, name, args, node).encode())
            port.flush()
            self._collect(requests, waiting, results)
            now = time.monotonic()
            for cmd_id in [c for c, w in waiting.items() if w[1] <= now]:
                results[waiting.pop(cmd_id)[0]] = Outcome(False, error="no answer")

    def _restarted(self, event, waiting, results):
        """A crash report, or the hello a node prints as it starts: whatever
        it was asked before is gone. Failed as "restarted" (asked again if
        retryable) once it is back, not after the full timeout."""
        if event["ev"] == "crash":
            self.restarts.append(event.get("error") or "crash")
            return
        if not self.restarts:
            self.restarts.append("reset")
        for cmd_id in list(waiting):
            results[waiting.pop(cmd_id)[0]] = Outcome(False, error="restarted")

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

    def _outcome(self, name, line, seconds):
        """A reply -> its Outcome; a malformed answer (the node's, or a remote
        node's passed through) fails with the reason, never reaches a caller."""
        problem = answer_problem(name, line)
        if problem:
            self._garbage(problem)
            return Outcome(False, error="malformed answer (%s)" % problem, seconds=seconds)
        return Outcome(line.data["ok"], line.data.get("data"), line.data.get("error") or "command failed", seconds)

    @staticmethod
    def _lost(requests, results, retried):
        """Indexes of retryable requests the mesh lost, each once. Never a
        signed one: its token works once, and a lost answer may mean it ran."""
        return [i for i, r in enumerate(results) if r is not None and not r.ok and r.error in _LOST
                and i not in retried and requests[i][0] in RETRYABLE
                and "auth" not in (requests[i][1] or {})]

    def _collect(self, requests, waiting, results):
        """Read lines for a short while, filing replies to waiting commands."""
        for line in self.client.lines(0.05):
            if line.kind == "mismatch":
                proto = line.data.get("proto")
                for cmd_id in list(waiting):
                    results[waiting.pop(cmd_id)[0]] = Outcome(
                        False, error="protocol %s: the node speaks console protocol %s, this nowmesh %d"
                                     % (proto, proto, PROTO), data={"proto": proto})
            elif line.kind == "event" and line.data.get("ev") in ("crash", "hello"):
                self._restarted(line.data, waiting, results)
            elif line.kind == "text" and line.text.strip():
                self.texts = (self.texts + [line.text])[-20:]
            elif line.kind == "garbage":
                self._garbage(line.error)
            elif line.kind == "reply" and line.data["re"] in waiting:
                index, _deadline, sent = waiting.pop(line.data["re"])
                results[index] = self._outcome(requests[index][0], line, time.monotonic() - sent)
            if not waiting:
                return
