"""Parsing and formatting console-protocol lines; no I/O here."""
import json
import re

from nowmesh.console import schema

PROTO = 1
PREFIX = "@nm%d " % PROTO
_MARKER = re.compile(r"^@nm([0-9]{1,4}) (.*)$", re.DOTALL)
_ANY_MARKER = re.compile(r"^@nm[0-9]")
# Longest protocol line a host reads (a node builds replies of a kilobyte or
# two; whole unpaged tables of a big mesh stay well below this).
MAX_LINE = 16384

# What a line is: an event or a reply (checked, safe to use), ordinary output
# ("text"), a node speaking another protocol version ("mismatch"), or a
# protocol line that is not a sound object ("garbage", with the reason in
# `error`): callers count garbage, they never see it as data.
KINDS = ("event", "reply", "text", "mismatch", "garbage")


class Line:
    """One console line: `kind` is one of KINDS."""

    __slots__ = ("kind", "data", "text", "error")

    def __init__(self, kind, data, text, error=None):
        self.kind = kind
        self.data = data
        self.text = text
        self.error = error

    def __repr__(self):
        return "Line(%s, %r)" % (self.kind, self.data if self.data is not None else self.error or self.text)


def parse_line(text):
    """Classify one line of console output. Never raises: anything marked as
    a protocol line that is not a sound event or reply is "garbage"."""
    text = text.rstrip("\r\n")
    match = _MARKER.match(text)
    if not match:
        if _ANY_MARKER.match(text):
            return Line("garbage", None, text, "unreadable protocol marker")
        return Line("text", None, text)
    if int(match.group(1)) != PROTO:
        return Line("mismatch", {"proto": int(match.group(1))}, text)
    obj, problem = _decode(match.group(2))
    if problem is None:
        kind, problem = _classify(obj)
        if kind == "mismatch" or problem is None:
            return Line(kind, obj, text)
    return Line("garbage", None, text, problem)


def _decode(body):
    """(object, None) or (None, why not)."""
    if len(body) > MAX_LINE:
        return None, "line longer than %d characters" % MAX_LINE
    try:
        obj = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None, "not JSON"
    return obj, schema.check_tree(obj)


def _no_constant(name):
    raise ValueError("%s is not JSON" % name)      # NaN, Infinity: Python's json extension


def _classify(obj):
    """(kind, problem) of a decoded protocol object."""
    if type(obj) is not dict:
        return "garbage", "not a JSON object"
    if "re" in obj:
        return "reply", schema.check_reply(obj)
    if "ev" in obj:
        if obj["ev"] == "hello" and type(obj.get("proto")) is int and obj["proto"] != PROTO:
            return "mismatch", None
        return "event", schema.check_event(obj)
    return "garbage", "neither an event nor a reply"


def answer_problem(cmd, line):
    """For a reply line to command `cmd`: None if its data can be used, else
    why not (a node's firmware or a remote node sent a malformed answer)."""
    return schema.check_answer(cmd, line.data)


def format_command(cmd_id, name, args=None, node=None):
    obj = {"id": cmd_id, "cmd": name}
    if args:
        obj["args"] = args
    if node is not None:
        obj["node"] = node
    return PREFIX + json.dumps(obj, separators=(",", ":")) + "\n"


def _value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


# How `--command 'ping n3'` words map to args, per command.
_POSITIONAL = {
    "ping": ("node",),
    "send": ("node", "data*"),
    "config_get": ("field",),
    "config_set": ("field", "value*"),
}
_ALIASES = {"neighbors": "neighbours", "config-get": "config_get", "config-set": "config_set"}


def parse_command_text(text):
    """'config_set name kitchen' -> ('config_set', {'field': 'name', 'value': 'kitchen'})."""
    words = text.split()
    if not words:
        raise ValueError("empty command")
    name = _ALIASES.get(words[0], words[0])
    rest = words[1:]
    args = {}
    for slot in _POSITIONAL.get(name, ()):
        if not rest:
            break
        if slot.endswith("*"):
            joined = " ".join(rest)
            args[slot[:-1]] = joined if slot == "data*" else _value(joined)
            rest = []
        else:
            args[slot] = rest.pop(0)
    if rest:
        raise ValueError("unexpected words after %r: %s" % (name, " ".join(rest)))
    return name, args
