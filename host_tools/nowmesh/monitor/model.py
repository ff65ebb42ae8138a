"""The mesh as one connected node sees it, built from monitor records; no I/O.

A record is a dict with "t" (unix seconds) and "ev":
- the node's console events (hello, reading, neighbour, stats, message, ...);
- "poll": the answer to a periodic query, {"cmd", "node", "ok", "data"|"error"};
- "reply": the answer to a user's command (ping, status), same shape plus "rtt_ms";
- "link": the serial link's state, {"state", "port", "detail"};
- "output": a line the node printed outside the protocol, {"text"};
- "garbage": a protocol line or an answer that was not sound, {"text", "error"}.
Every record is checked against RECORDS (console events against the console
schema) before it changes anything: one that fails is counted in `garbage`
and noted, never applied, so a hostile line or a damaged stream cannot raise
here or put a wrongly typed value where a view expects another.
The same records stream as `monitor --json` and go into the SQLite log, so
a recorded stream rebuilds exactly what the dashboard showed.
"""
import collections

from nowmesh.console import schema
from nowmesh.console.schema import BOOL, NUMBER, OPT_STR, STR, Fields

RECENT_EVENTS = 200


class MeshState:
    def __init__(self):
        self.nodes = {}             # id -> {"id", "name", "hops", "heard", "rssi", "uptime_s", "uptime_at", "heap_free"}
        self.readings = {}          # id -> {"seq", "values", "heard"}
        self.events = collections.deque(maxlen=RECENT_EVENTS)   # (t, text), newest last
        self.local_id = None
        self.local = {}             # the connected node's hello: fw, board, proto
        self.link = {"state": "starting", "port": None, "detail": None, "since": None}
        self.events_total = 0       # notes ever made (the deque keeps the last RECENT_EVENTS)
        self.garbage = 0            # records refused (see RECORDS) or reported as garbage by the link
        self.last_refused = None    # why the last refused record was refused
        self.version = 0            # bumps on every change: views redraw only when it moved

    # -- feeding ------------------------------------------------------------------
    def apply(self, record):
        """Take one record; False (and counted as garbage) if it is not a sound one."""
        problem = check_record(record)
        if problem is not None:
            self.garbage += 1
            self.last_refused = problem
            if type(record) is dict and NUMBER[1](record.get("t")):
                self.note(record["t"], "garbage record: %s" % problem)
            self.version += 1
            return False
        handler = _HANDLERS.get(record["ev"], _other_event)
        handler(self, record)
        self.version += 1
        return True

    def node(self, node_id, name=None):
        entry = self.nodes.get(node_id)
        if entry is None:
            entry = self.nodes[node_id] = {"id": node_id, "name": None, "hops": None, "heard": None,
                                           "rssi": None, "uptime_s": None, "uptime_at": None,
                                           "heap_free": None}
        if name:
            entry["name"] = name
        return entry

    def heard(self, node_id, t, name=None):
        entry = self.node(node_id, name)
        if t is not None and (entry["heard"] is None or t > entry["heard"]):
            entry["heard"] = t
        return entry

    def note(self, t, text):
        self.events.append((t, text))
        self.events_total += 1

    def name_of(self, node_id):
        entry = self.nodes.get(node_id)
        return (entry and entry["name"]) or node_id

    def resolve(self, name_or_id):
        """A node's id from its name or id; None if unknown."""
        for node_id, entry in self.nodes.items():
            if name_or_id in (node_id, entry["name"]):
                return node_id
        return None

    # -- views ------------------------------------------------------------------------
    def node_rows(self, now):
        """Table rows, the connected node first, then by hops and name."""
        rows = []
        for entry in self.nodes.values():
            uptime = entry["uptime_s"]
            if uptime is not None and entry["uptime_at"] is not None:
                uptime = int(uptime + max(0.0, now - entry["uptime_at"]))
            rows.append({"id": entry["id"], "name": entry["name"] or "?", "hops": entry["hops"],
                         "last_heard_s": None if entry["heard"] is None else max(0, int(now - entry["heard"])),
                         "rssi": entry["rssi"], "uptime_s": uptime, "heap_free": entry["heap_free"],
                         "local": entry["id"] == self.local_id})
        rows.sort(key=lambda r: (not r["local"], 99 if r["hops"] is None else r["hops"], r["name"], r["id"]))
        return rows

    def reading_rows(self, now):
        """[(node name, value name, value, unit, age_s)] sorted by node then value name."""
        rows = []
        for node_id, reading in self.readings.items():
            age = None if reading["heard"] is None else max(0, int(now - reading["heard"]))
            for name, value, unit in reading["values"]:
                rows.append((self.name_of(node_id), name, value, unit, age))
        rows.sort(key=lambda r: (str(r[0]), str(r[1])))
        return rows


# -- record handlers, one per "ev" ------------------------------------------------------

def _hello(state, rec):
    node_id = rec.get("id")
    if not node_id:
        return
    restarted = state.local_id == node_id
    state.local_id = node_id
    state.local = {"fw": rec.get("fw"), "board": rec.get("board"), "proto": rec.get("proto")}
    entry = state.heard(node_id, rec["t"], rec.get("name"))
    entry["hops"] = 0
    entry["uptime_s"], entry["uptime_at"] = 0, rec["t"]
    state.note(rec["t"], "%s %s (nowmesh %s)" % (entry["name"] or node_id,
                                                  "restarted" if restarted else "started", rec.get("fw")))


def _reading(state, rec):
    node_id = rec.get("id")
    if not node_id:
        return
    _store_reading(state, node_id, rec.get("name"), rec.get("seq"), rec.get("values"), rec["t"])


def _store_reading(state, node_id, name, seq, values, heard):
    entry = state.heard(node_id, heard, name)
    old = state.readings.get(node_id)
    if old is not None and seq is not None and old["seq"] is not None and seq < old["seq"] \
            and heard is not None and old["heard"] is not None and heard <= old["heard"]:
        return                    # an older copy of what we have
    clean = [tuple(v) for v in values or () if isinstance(v, (list, tuple)) and len(v) == 3]
    state.readings[node_id] = {"seq": seq, "values": clean, "heard": heard}
    for value_name, value, _unit in clean:
        if value_name == "uptime" and isinstance(value, (int, float)):
            entry["uptime_s"], entry["uptime_at"] = value, heard


def _neighbour(state, rec):
    node_id = rec.get("id")
    if not node_id:
        return
    entry = state.heard(node_id, rec["t"] if rec.get("state") == "up" else None)
    if rec.get("state") == "up":
        entry["hops"] = entry["hops"] or 1
    elif entry["hops"] == 1:
        entry["hops"] = None      # not a neighbour any more; a route may still reach it
        entry["rssi"] = None
    state.note(rec["t"], "neighbour %s %s" % (state.name_of(node_id), rec.get("state")))


def _stats(state, rec):
    if state.local_id is None:
        return
    entry = state.heard(state.local_id, rec["t"])
    entry["heap_free"] = None     # stats always carries the measured (after-collection) figure
    _apply_status(entry, {"uptime_s": rec.get("uptime_s"), "heap_free": rec.get("heap_free")}, rec["t"])


def _apply_status(entry, data, t):
    if isinstance(data.get("uptime_s"), (int, float)):
        entry["uptime_s"], entry["uptime_at"] = data["uptime_s"], t
    if isinstance(data.get("heap_free"), int):
        entry["heap_free"] = data["heap_free"]
    if data.get("name"):
        entry["name"] = data["name"]


def _link(state, rec):
    state.link = {"state": rec.get("state"), "port": rec.get("port"), "detail": rec.get("detail"),
                  "since": rec["t"]}
    state.note(rec["t"], "link %s%s" % (rec.get("state"), ": %s" % rec["detail"] if rec.get("detail") else ""))


def _answer(state, rec):
    """A poll or a user's reply: the data goes where the command's table says."""
    if not rec.get("ok"):
        if rec.get("ev") == "reply":
            state.note(rec["t"], "%s %s failed: %s" % (rec.get("cmd"), _target(state, rec), rec.get("error")))
        return
    _ANSWERS.get(rec.get("cmd"), lambda s, r: None)(state, rec)
    if rec.get("ev") == "reply":
        state.note(rec["t"], "%s %s: %s" % (rec.get("cmd"), _target(state, rec), _summary(rec)))


def _target(state, rec):
    node = rec.get("node") or (rec.get("args") or {}).get("node")
    return state.name_of(node) if node else state.name_of(state.local_id)


def _summary(rec):
    data = rec.get("data")
    if rec.get("cmd") == "ping" and isinstance(data, dict):
        return "%s ms, %s hops" % (data.get("rtt_ms"), data.get("hops"))
    if isinstance(data, dict):
        keys = ("uptime_s", "heap_free", "neighbours", "readings", "boot")
        return ", ".join("%s=%s" % (k, data[k]) for k in keys if k in data) or "ok"
    return "ok"


def _poll_readings(state, rec):
    for item in rec.get("data") or ():
        if isinstance(item, dict) and item.get("id"):
            age = item.get("age_s")       # None for the node's own reading: it is current
            heard = rec["t"] - age if isinstance(age, (int, float)) else rec["t"]
            _store_reading(state, item["id"], item.get("name"), item.get("seq"), item.get("values"), heard)


def _poll_neighbours(state, rec):
    if rec.get("node"):
        return                    # a remote node's neighbours say nothing about our hops
    for item in rec.get("data") or ():
        if isinstance(item, dict) and item.get("id"):
            age = item.get("age_s")
            entry = state.heard(item["id"], rec["t"] - age if isinstance(age, (int, float)) else None,
                                item.get("name"))
            if entry["hops"] is None:
                entry["hops"] = 1     # heard directly; routes (polled next) may know a better path
            entry["rssi"] = item.get("rssi")


def _poll_status(state, rec):
    data = rec.get("data")
    if not isinstance(data, dict):
        return
    node_id = data.get("id") or rec.get("node") or state.local_id
    if not node_id:
        return
    entry = state.heard(node_id, rec["t"])
    if rec.get("node") is None:
        _learn_local(state, node_id)
        if entry["heap_free"] is not None:
            # The stats event's heap_free is measured right after a collection;
            # status reads gc.mem_free() as it is, which swings with garbage.
            data = dict(data, heap_free=None)
    _apply_status(entry, data, rec["t"])


def _learn_local(state, node_id):
    state.local_id = node_id
    state.node(node_id)["hops"] = 0


def _poll_hello(state, rec):
    data = rec.get("data")
    if rec.get("node") is None and isinstance(data, dict) and data.get("id"):
        _learn_local(state, data["id"])
        state.node(data["id"], data.get("name"))
        state.local = {"fw": data.get("fw"), "board": data.get("board"), "proto": data.get("proto")}


def _poll_routes(state, rec):
    # Entries name the destination ("id" or "dest") and its distance ("hops" or "metric").
    for item in rec.get("data") or ():
        if not isinstance(item, dict):
            continue
        node_id = item.get("id") or item.get("dest")
        hops = item.get("hops")
        if node_id and isinstance(hops, int) and node_id != state.local_id:
            state.node(node_id, item.get("name"))["hops"] = hops


def _ping_reply(state, rec):
    data = rec.get("data")
    if isinstance(data, dict) and data.get("node") and isinstance(data.get("hops"), int):
        state.heard(data["node"], rec["t"])["hops"] = data["hops"]


def _garbage(state, rec):
    state.garbage += 1
    state.note(rec["t"], "garbage line: %s" % rec.get("error"))


def _other_event(state, rec):
    ev = rec.get("ev")
    if not ev:
        return
    if ev == "output":
        text = str(rec.get("text", ""))[:120]
        if text.strip():
            state.note(rec["t"], "| " + text)
        return
    fields = " ".join("%s=%s" % (k, v) for k, v in sorted(rec.items()) if k not in ("ev", "t"))
    if ev == "message" and rec.get("id"):
        text = rec.get("data")
        if text is None:        # not UTF-8: the node sends it as hex
            text = "(bytes %s)" % rec.get("data_hex")
        fields = "from %s: %s" % (state.name_of(rec["id"]), text)
    state.note(rec.get("t"), "%s %s" % (ev, fields))


_ANSWERS = {"hello": _poll_hello, "readings": _poll_readings, "neighbours": _poll_neighbours, "status": _poll_status,
            "routes": _poll_routes, "ping": _ping_reply}
_HANDLERS = {"hello": _hello, "reading": _reading, "neighbour": _neighbour, "stats": _stats,
             "link": _link, "poll": _answer, "reply": _answer, "garbage": _garbage}

# -- what a record must hold, by "ev" (console events: the console schema) -------------
_ARGS = ("an object whose node is a string", lambda v: type(v) is dict and OPT_STR[1](v.get("node")))
_ANSWER = Fields(("cmd", "ok"), cmd=STR, ok=BOOL, args=_ARGS, rtt_ms=NUMBER)
RECORDS = {
    "poll": _ANSWER,
    "reply": _ANSWER,
    "link": Fields(("state",), state=STR, port=OPT_STR, detail=OPT_STR),
    "output": Fields(("text",), text=STR),
    "garbage": Fields((), text=STR, error=STR),
}


def check_record(record):
    """None if `record` is a monitor record the model may apply, else why not."""
    if type(record) is not dict:
        return "not an object"
    if not NUMBER[1](record.get("t")):
        return "no time (\"t\")"
    problem = schema.check_tree(record)
    if problem is None:
        ev = record.get("ev")
        fields = RECORDS.get(ev)
        # "id" names a node in every record (the log files records by it), any kind
        problem = schema.check_event(record) if fields is None else \
            schema.EVENT_COMMON.problem(record, ev) or fields.problem(record, ev)
        if problem is None and ev in ("poll", "reply"):
            problem = schema.check_answer(record["cmd"], record)
    return problem
