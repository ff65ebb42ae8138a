"""Parsing and formatting console-protocol lines; no I/O here."""
import json
import re

PROTO = 1
PREFIX = "@nm%d " % PROTO
_MARKER = re.compile(r"^@nm(\d+) (.*)$")


class Line:
    """One console line: kind is 'event', 'reply', 'text' or 'mismatch'."""

    __slots__ = ("kind", "data", "text")

    def __init__(self, kind, data, text):
        self.kind = kind
        self.data = data
        self.text = text

    def __repr__(self):
        return "Line(%s, %r)" % (self.kind, self.data if self.data is not None else self.text)


def parse_line(text):
    """Classify one line of console output. Never raises on garbage."""
    text = text.rstrip("\r\n")
    match = _MARKER.match(text)
    if not match:
        return Line("text", None, text)
    if int(match.group(1)) != PROTO:
        return Line("mismatch", {"proto": int(match.group(1))}, text)
    try:
        obj = json.loads(match.group(2))
    except ValueError:
        return Line("text", None, text)
    if not isinstance(obj, dict):
        return Line("text", None, text)
    if "re" in obj:
        return Line("reply", obj, text)
    if "ev" in obj:
        if obj["ev"] == "hello" and obj.get("proto") not in (None, PROTO):
            return Line("mismatch", obj, text)
        return Line("event", obj, text)
    return Line("text", None, text)


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
