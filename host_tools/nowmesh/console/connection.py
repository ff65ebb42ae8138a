"""One console connection to a nowmesh node, without I/O (the h11 manner).

Every host tool that talks to a node's serial console (query, monitor, ports,
deploy, `nowmesh console`, and whatever comes next) keeps one `Connection`
and does its own reading and writing (usually through
`nowmesh.console.client.ConsoleClient`, the one pyserial driver):

    conn = Connection()
    request = conn.request("status", now=time.monotonic())   # queue a command
    port.write(conn.data_to_send())                           # the bytes to write
    for event in conn.receive(port.read(64), now=time.monotonic()):
        if isinstance(event, Reply) and event.request is request:
            print(event.ok, event.data)
    for event in conn.expire(time.monotonic()):               # past their deadline
        print("no answer to", event.request.name)

Nothing in here reads a clock, sleeps, blocks or starts a thread: time comes
in as `now` (any monotonic seconds), deadlines go out as numbers the caller
checks (`next_deadline()`), so the same object serves a blocking command
line tool, the monitor's reader thread and, later, an asyncio bridge.

What the connection knows, once for all tools:
- line framing: bytes in, complete lines out; a line longer than MAX_LINE
  without an end is cut (garbage on the wire cannot grow memory);
- classification (nowmesh.console.protocol.parse_line, which checks every
  object against nowmesh.console.schema) into typed events: `Output` (plain
  print lines, with `Banner` for MicroPython's banner), `NodeEvent` (with
  `Hello` and `Crash`), `Reply` (matched to the `Request` it answers; an
  answer whose data is malformed for its command fails with the reason in
  `malformed`), `Unmatched` (a reply to nobody here), `Garbage` (a protocol
  line that is not a sound object), `Mismatch` (another protocol version)
  and `Prompt` (the REPL's `>>>` waits on an unfinished line);
- request ids (unique per connection; start elsewhere with `first_id` so a
  late reply to an earlier session is not taken for ours), timeouts (local
  and through-the-mesh defaults), and paging of list commands: a request
  with `page=N` asks for N rows at a time and asks for the next page by
  itself while pages come back full.
"""
import itertools
import re

from nowmesh.console.protocol import MAX_LINE, PROTO, answer_problem, format_command, parse_line

LOCAL_TIMEOUT_S = 3.0       # the node itself answers within its 50 ms console poll
REMOTE_TIMEOUT_S = 12.0     # the node gives up on a mesh request after 10 s ("timeout")
MESH_COMMANDS = ("ping", "send")    # answered by another node, though asked locally
PAGE_ROWS = 8               # rows per page: a reply is built in the node's small heap
RUNAWAY_SHOWN = 200         # characters kept of a line cut for having no end
# Output a MicroPython REPL (not a running nowmesh) prints.
REPL_SIGNS = (">>>", "MicroPython v", "raw REPL", "Type \"help()\"")
_BANNER = re.compile(r"MicroPython (v[\w.\-]+)(?:[^;\r\n]*); ([^\r\n]*)")


class Request:
    """One command sent: `id` is on the wire, `tag` is the caller's own."""

    __slots__ = ("id", "name", "args", "node", "sent", "deadline", "page", "tag", "rows", "origin")

    def __init__(self, request_id, name, args, node, sent, deadline, page, tag):
        self.id, self.name, self.args, self.node = request_id, name, args, node
        self.sent, self.deadline, self.page, self.tag = sent, deadline, page, tag
        self.rows = []              # pages so far, for a paged request
        self.origin = self          # the first page's request, for the pages after it

    @property
    def through_mesh(self):
        return self.node is not None or self.name in MESH_COMMANDS

    def __repr__(self):
        return "Request(%r, %s, node=%s)" % (self.id, self.name, self.node)


class Event:
    """Something the node said; `line` is the parsed console line (None for Prompt)."""

    __slots__ = ("line",)

    def __init__(self, line=None):
        self.line = line

    @property
    def text(self):
        return self.line.text if self.line is not None else ""

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self.text)


class Output(Event):
    """A plain line: a print in user code, a traceback, the REPL talking."""

    __slots__ = ()

    @property
    def from_repl(self):
        return any(sign in self.text for sign in REPL_SIGNS)

    @property
    def echoed_command(self):
        """Our own command read back: a REPL echoes what it is sent, nowmesh never does."""
        return '"cmd":' in self.text


class Banner(Output):
    """MicroPython's banner line: `version` and `machine`."""

    __slots__ = ("version", "machine")

    def __init__(self, line, match):
        super().__init__(line)
        self.version, self.machine = match.group(1), match.group(2).strip()


class NodeEvent(Event):
    """An `@nm1 {"ev": ...}` line: `name` is the event's name, `data` the object."""

    __slots__ = ()

    @property
    def name(self):
        return self.line.data.get("ev")

    @property
    def data(self):
        return self.line.data


class Hello(NodeEvent):
    """The node announced itself: it just started (or restarted)."""

    __slots__ = ()


class Crash(NodeEvent):
    """main.py failed; the board restarts in 5 s. `error` says why."""

    __slots__ = ()

    @property
    def error(self):
        return self.line.data.get("error") or "crash"


class Reply(Event):
    """The answer to `request`: ok with data, or an error message.

    For a paged request `data` is this page, `rows` every row so far and
    `more` tells that the next page was asked for (another Reply follows).
    An answer not sound for its command (nowmesh.console.schema) is not ok,
    with error "malformed answer (why)" and the reason in `malformed`."""

    __slots__ = ("request", "ok", "data", "error", "seconds", "more", "malformed")

    def __init__(self, line, request, ok, data=None, error=None, seconds=None, more=False):
        super().__init__(line)
        self.request, self.ok, self.data, self.error = request, ok, data, error
        self.seconds, self.more, self.malformed = seconds, more, None

    @property
    def rows(self):
        return self.request.rows if self.request.page else self.data

    def __repr__(self):
        return "Reply(%r, ok=%s, %r)" % (self.request, self.ok, self.data if self.ok else self.error)


class NoAnswer(Reply):
    """`request` passed its deadline (from expire) or was given up (from abandon)."""

    __slots__ = ()


class Unmatched(Event):
    """A reply to no request of this connection (another tool's, or too late)."""

    __slots__ = ()

    @property
    def data(self):
        return self.line.data


class Garbage(Event):
    """A line marked as protocol that is not a sound event or reply; `error` says why."""

    __slots__ = ()

    @property
    def error(self):
        return self.line.error


class Mismatch(Event):
    """The node speaks another console protocol version (`proto`)."""

    __slots__ = ()

    @property
    def proto(self):
        return self.line.data.get("proto")

    def describe(self):
        return "the node speaks console protocol %s; this nowmesh speaks %d" % (self.proto, PROTO)


class Prompt(Event):
    """The REPL's prompt (`>>>`) ends what the port printed: no nowmesh is reading."""

    __slots__ = ()


_EVENT_CLASSES = {"hello": Hello, "crash": Crash}


class Connection:
    def __init__(self, first_id=1, local_timeout_s=LOCAL_TIMEOUT_S, remote_timeout_s=REMOTE_TIMEOUT_S):
        self._ids = itertools.count(first_id)
        self.local_timeout_s = local_timeout_s
        self.remote_timeout_s = remote_timeout_s
        self.pending = {}           # wire id -> Request
        self._tail = b""
        self._out = []
        self._prompted = False

    # -- towards the node -------------------------------------------------------------
    def request(self, name, args=None, node=None, now=0.0, timeout=None, page=None, tag=None, request_id=None):
        """Queue one command (on `node` through the mesh if given) -> its Request.
        `timeout` defaults to the local or the through-the-mesh limit; `page`
        (rows) pages a list command from offset 0; `request_id` replaces the
        connection's own numbering (it must not repeat while pending)."""
        if page:
            args = dict(args or {}, offset=(args or {}).get("offset", 0), limit=page)
        request_id = next(self._ids) if request_id is None else request_id
        request = Request(request_id, name, args, node, now, None, page, tag)
        limit = timeout or (self.remote_timeout_s if request.through_mesh else self.local_timeout_s)
        request.deadline = now + limit
        self.pending[request_id] = request
        self._out.append(format_command(request_id, name, args, node).encode())
        return request

    def send_raw(self, data):
        """Bytes that are not a command (an empty line, Ctrl-D), in order with the commands."""
        self._out.append(bytes(data))

    def data_to_send(self):
        """Every byte queued since the last call (b"" if none)."""
        data, self._out = b"".join(self._out), []
        return data

    # -- from the node ------------------------------------------------------------------
    def receive(self, data, now=0.0):
        """Feed bytes read from the port -> the events they complete."""
        events = []
        self._tail += data
        while b"\n" in self._tail:
            raw, self._tail = self._tail.split(b"\n", 1)
            events.append(self._event(raw[:MAX_LINE], now))
        while len(self._tail) > MAX_LINE:        # no line end in sight: memory stays bounded
            events.append(self._event(self._tail[:RUNAWAY_SHOWN] + b"...", now))
            self._tail = self._tail[MAX_LINE:]
        prompted = self._tail.rstrip(b" ").endswith(b">>>")
        if prompted and not self._prompted:
            events.append(Prompt())
        self._prompted = prompted
        return events

    @property
    def unfinished(self):
        """What the port printed after its last line end (a prompt, a partial line)."""
        return self._tail.decode("utf-8", "replace")

    def discard(self):
        """Forget the unfinished line (e.g. a prompt already acted on)."""
        self._tail = b""
        self._prompted = False

    def _event(self, raw, now):
        line = parse_line(raw.decode("utf-8", "replace"))
        if line.kind == "text":
            match = _BANNER.search(line.text)
            return Banner(line, match) if match else Output(line)
        if line.kind == "mismatch":
            return Mismatch(line)
        if line.kind == "garbage":
            return Garbage(line)
        if line.kind == "event":
            return _EVENT_CLASSES.get(line.data.get("ev"), NodeEvent)(line)
        request = self.pending.pop(line.data["re"], None)      # the schema holds "re" to an int or a string
        if request is None:
            return Unmatched(line)
        return self._reply(line, request, now)

    def _reply(self, line, request, now):
        problem = answer_problem(request.name, line)
        if problem:
            reply = Reply(line, request, False, error="malformed answer (%s)" % problem, seconds=now - request.sent)
            reply.malformed = problem
            return reply
        ok, data = line.data["ok"], line.data.get("data")
        reply = Reply(line, request, ok, data, None if ok else line.data.get("error") or "command failed",
                      now - request.sent)
        if ok and request.page and isinstance(data, list):
            request.rows.extend(data)
            if len(data) == request.args["limit"]:
                self._next_page(request, now)
                reply.more = True
        return reply

    def _next_page(self, request, now):
        args = dict(request.args, offset=request.args["offset"] + request.args["limit"])
        follow = self.request(request.name, args, request.node, now, request.deadline - request.sent,
                              None, request.tag)
        follow.page, follow.rows, follow.origin = request.page, request.rows, request.origin

    # -- deadlines --------------------------------------------------------------------------
    def next_deadline(self):
        """The earliest deadline of a pending request, or None."""
        return min((r.deadline for r in self.pending.values()), default=None)

    def expire(self, now):
        """Requests past their deadline, as NoAnswer events (they stop being pending)."""
        late = [r for r in self.pending.values() if r.deadline <= now]
        return [self._give_up(r, "no answer", now) for r in late]

    def abandon(self, error, now=0.0):
        """Give up every pending request (the node restarted, the link was lost)."""
        return [self._give_up(r, error, now) for r in list(self.pending.values())]

    def _give_up(self, request, error, now):
        del self.pending[request.id]
        return NoAnswer(None, request, False, error=error, seconds=now - request.sent)

