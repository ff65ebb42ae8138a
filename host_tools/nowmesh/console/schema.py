"""What a console-protocol object may hold: one table per event kind and per
command's answer (docs/console-protocol.md), checked before any host tool
uses a field. No I/O here.

Everything a node prints is hostile until checked: a serial line carries
noise, another firmware or a user's prints, and a remote node's answer is
passed through by the node on the port. `check_tree` bounds the shape of
any decoded JSON (depth, item count, integer size, strings that can be
written out); `check_event`, `check_reply` and `check_answer` hold each
field to its type. They return None when the object is fine, else one short
reason; they never raise.
"""
import math
import re

MAX_DEPTH = 12          # real objects nest 5 deep (reply > data > list > dict > values > value)
MAX_ITEMS = 4096        # containers and scalars in one object
INT_LIMIT = 1 << 63     # what SQLite and every consumer can hold
_NODE_ID = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


# -- field types: each a predicate with a name for the reason -----------------------
def _int(v):
    return type(v) is int and -INT_LIMIT < v < INT_LIMIT


def _number(v):
    return _int(v) or type(v) is float and math.isfinite(v)


def _str(v):
    return type(v) is str


def _node_id(v):
    return _str(v) and _NODE_ID.match(v) is not None


def _value_triple(v):
    """A reading's value: [name, number, unit]."""
    return type(v) in (list, tuple) and len(v) == 3 and _str(v[0]) and _number(v[1]) and _str(v[2])


def _list_of(item):
    return lambda v: type(v) is list and all(item(x) for x in v)


def _optional(check):
    return lambda v: v is None or check(v)


def _one_of(*choices):
    return lambda v: type(v) is str and v in choices


def _any(v):
    return True


INT, NUMBER, STR, NODE_ID = ("an integer", _int), ("a finite number", _number), ("a string", _str), \
    ("a node id", _node_id)
BOOL = ("true or false", lambda v: type(v) is bool)
DICT = ("an object", lambda v: type(v) is dict)
OPT_INT, OPT_STR = ("an integer or null", _optional(_int)), ("a string or null", _optional(_str))
OPT_NUMBER = ("a number or null", _optional(_number))
VALUES = ("a list of [name, number, unit]", _list_of(_value_triple))
COUNTS = ("an object of counts", lambda v: type(v) is dict and all(_int(x) for x in v.values()))
ANY = ("anything", _any)


class Fields:
    """An object's fields: {name: (type, required)}; other fields pass unchecked."""

    def __init__(self, required=(), **types):
        self.types = types
        self.required = tuple(required)

    def problem(self, obj, what):
        if type(obj) is not dict:
            return "%s must be an object" % what
        for name in self.required:
            if name not in obj:
                return "%s has no %r" % (what, name)
        for name, (wording, check) in self.types.items():
            if name in obj and not check(obj[name]):
                return "%s: %r must be %s" % (what, name, wording)
        return None


class ListOf:
    """A list answer whose every item is a Fields object."""

    def __init__(self, fields):
        self.fields = fields

    def problem(self, obj, what):
        if type(obj) is not list:
            return "%s must be a list" % what
        for index, item in enumerate(obj):
            problem = self.fields.problem(item, "%s[%d]" % (what, index))
            if problem:
                return problem
        return None


class Anything:
    def problem(self, obj, what):
        return None


# -- events, node -> host (unknown kinds pass with a string "ev": hosts ignore them) -------
# In every event, known or not, "id" names a node and "name" is its name.
EVENT_COMMON = Fields((), id=NODE_ID, name=OPT_STR)
HELLO = Fields(("id",), proto=INT, fw=OPT_STR, name=OPT_STR, id=NODE_ID, board=OPT_STR)
EVENTS = {
    "hello": HELLO,
    "reading": Fields(("id", "values"), id=NODE_ID, name=OPT_STR, seq=OPT_INT, values=VALUES, local=BOOL),
    "neighbour": Fields(("id", "state"), id=NODE_ID, state=("up or down", _one_of("up", "down"))),
    "stats": Fields((), uptime_s=NUMBER, heap_free=INT, heap_alloc=INT, rx=INT, tx=INT, rejected=COUNTS,
                    readings=INT),
    "message": Fields(("id",), id=NODE_ID, data=OPT_STR, data_hex=STR),    # data null: not UTF-8
    "admin_rejected": Fields(("id", "reason"), id=NODE_ID, cmd=STR, reason=STR),
    "app_error": Fields((), event=STR, error=STR),
    "sensor": Fields(("kind",), kind=STR, ok=BOOL, error=OPT_STR),
    "config_error": Fields((), error=STR),
    "console_error": Fields((), error=STR),
    "low_memory": Fields((), heap_free=INT, in_a_row=INT),
    "crash": Fields((), error=STR),
}

# -- replies: the envelope, then the data by the command that was asked --------------------
# The envelope: enough to match a reply to its command. What it carries
# (error, node, data: a remote node's words, passed through) is checked by
# check_answer, so a malformed answer fails its command with a reason
# instead of timing out.
REPLY = Fields(("re", "ok"), re=("an integer or a string", lambda v: _int(v) or _str(v)), ok=BOOL)
_OUTCOME = Fields((), error=STR, node=OPT_STR)
_LINK = dict(rssi=OPT_INT, cost=OPT_INT)
NODE_ROW_FIELDS = ("id", "name", "age_s", "seq", "hops", "next_hop", "metric", "rssi", "cost",
                   "uptime_s", "heap_free")
_NODE_ROW = dict(id=_node_id, name=_optional(_str), next_hop=_optional(_node_id))


def _node_rows(v):
    """`nodes` rows: arrays in NODE_ROW_FIELDS order (every column but id/name/next_hop an int or null)."""
    return type(v) is list and all(
        type(row) is list and len(row) == len(NODE_ROW_FIELDS) and
        all(_NODE_ROW.get(field, _optional(_int))(x) for field, x in zip(NODE_ROW_FIELDS, row))
        for row in v)


ANSWERS = {
    "hello": HELLO,
    "status": Fields((), name=OPT_STR, id=NODE_ID, uptime_s=NUMBER, heap_free=INT, boot=INT, channel=INT,
                     rx=INT, tx=INT, rejected=COUNTS, neighbours=INT, readings=INT,
                     admin_seq=INT, admin_id=OPT_STR, admin_rejected=INT),
    "neighbours": ListOf(Fields(("id",), id=NODE_ID, name=OPT_STR, age_s=OPT_INT, **_LINK)),
    "routes": ListOf(Fields(("id", "next_hop"), id=NODE_ID, name=OPT_STR, next_hop=NODE_ID, metric=OPT_INT,
                            hops=OPT_INT, **_LINK)),
    "readings": ListOf(Fields(("id", "values"), id=NODE_ID, name=OPT_STR, seq=OPT_INT, age_s=OPT_INT,
                              values=VALUES)),
    "nodes": Fields(("total", "fields", "rows"), total=INT,
                    fields=("the node row fields", lambda v: v == list(NODE_ROW_FIELDS)),
                    rows=("rows of node fields", _node_rows)),
    "ping": Fields(("node",), node=NODE_ID, rtt_ms=OPT_NUMBER, hops=OPT_INT),
    "config_get": Fields(),
    "config_set": Fields(("field",), field=STR, saved=BOOL, reboot_needed=BOOL),
    "reboot": Fields((), rebooting=BOOL),
    "files_digest": Fields(("digest", "files", "mpy"), digest=STR, files=INT, mpy=INT),
}


def check_tree(obj):
    """Bounds on any decoded JSON: depth, size, integers, writable strings."""
    stack, items = [(obj, 1)], 0
    while stack:
        value, depth = stack.pop()
        items += 1
        if depth > MAX_DEPTH or items > MAX_ITEMS:
            return "nested too deep or too large"
        kind = type(value)
        if kind is dict:
            if not all(type(k) is str for k in value):
                return "an object key that is not a string"
            stack.extend((k, depth + 1) for k in value)
            stack.extend((v, depth + 1) for v in value.values())
        elif kind is list:
            stack.extend((v, depth + 1) for v in value)
        elif kind is int and not _int(value):
            return "an integer out of range"
        elif kind is str and not _writable(value):
            return "a string that is not valid text"
    return None


def _writable(text):
    try:
        text.encode("utf-8")              # a lone surrogate ("\\ud800") cannot be printed or stored
    except UnicodeEncodeError:
        return False
    return True


def check_event(obj):
    """None if obj is an event a host may use, else why not."""
    ev = obj.get("ev") if type(obj) is dict else None
    if type(ev) is not str or not ev:
        return "an event needs a name (\"ev\")"
    what = "event %s" % ev
    return EVENT_COMMON.problem(obj, what) or EVENTS.get(ev, EVENT_COMMON).problem(obj, what)


def check_reply(obj):
    return REPLY.problem(obj, "reply")


def check_answer(cmd, reply):
    """None if a reply (envelope checked) is a sound answer to command `cmd`, else why not."""
    problem = _OUTCOME.problem(reply, "%s reply" % cmd)
    if problem is None and reply["ok"]:
        problem = ANSWERS.get(cmd, Anything()).problem(reply.get("data"), "%s answer" % cmd)
    return problem
