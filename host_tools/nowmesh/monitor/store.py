"""The monitor's SQLite log: every record, and every reading value as a row.

Schema version 1 (PRAGMA user_version; docs/monitor.md has the full text):
- sessions(id, started, port, tool_version): one row per `monitor --log` run;
- events(id, session, t, ev, node_id, data): every record as JSON (console
  events, polls, replies, link changes, output lines);
- readings(id, session, t, node_id, node_name, seq, name, value, unit, source):
  one row per value of each new reading (a repeat of a recent one is skipped),
  from `reading` events ("event") or `readings` polls ("poll"; t = heard time).

Durability: WAL journal, a commit after every batch the monitor drains (a few
times a second), and close() commits; Ctrl-C loses nothing that was drained.
Opening a file that is not a nowmesh log (or a newer schema) is refused, never
overwritten.
"""
import collections
import json
import os
import sqlite3
import time

from nowmesh import __version__
from nowmesh.errors import InputError

SCHEMA_VERSION = 1
SCHEMA = """
CREATE TABLE sessions (id INTEGER PRIMARY KEY, started REAL NOT NULL, port TEXT, tool_version TEXT);
CREATE TABLE events (id INTEGER PRIMARY KEY, session INTEGER NOT NULL REFERENCES sessions(id),
                     t REAL NOT NULL, ev TEXT NOT NULL, node_id TEXT, data TEXT NOT NULL);
CREATE TABLE readings (id INTEGER PRIMARY KEY, session INTEGER NOT NULL REFERENCES sessions(id),
                       t REAL, node_id TEXT NOT NULL, node_name TEXT, seq INTEGER,
                       name TEXT NOT NULL, value, unit TEXT, source TEXT NOT NULL);
CREATE INDEX readings_node_t ON readings(node_id, t);
CREATE INDEX events_t ON events(t);
"""
TABLES = ("sessions", "events", "readings")
RECENT_PER_NODE = 16      # readings per node remembered to skip repeats


def _not_a_log(path, why):
    return InputError(path, "", "not a nowmesh monitor log (%s)" % why)


def check_schema(conn, path):
    """Raise InputError unless `conn` holds a nowmesh log of a schema we read."""
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise _not_a_log(path, "not an SQLite database: %s" % exc) from None
    if version > SCHEMA_VERSION:
        raise InputError(path, "", "written by a newer nowmesh (log schema %d, this one reads %d): update nowmesh"
                         % (version, SCHEMA_VERSION))
    missing = [t for t in TABLES if t not in names]
    if version != SCHEMA_VERSION or missing:
        raise _not_a_log(path, "schema version %d, missing tables: %s" % (version, ", ".join(missing) or "none"))


class MonitorLog:
    def __init__(self, path, port=None):
        self.path = path
        self.conn = self._open(path)
        self._seen = {}          # node_id -> (seq, fingerprint) of the readings logged last
        self.session = self.conn.execute("INSERT INTO sessions (started, port, tool_version) VALUES (?, ?, ?)",
                                         (time.time(), port, __version__)).lastrowid
        self.conn.commit()

    @staticmethod
    def _open(path):
        fresh = not os.path.exists(path) or os.path.getsize(path) == 0
        try:
            conn = sqlite3.connect(path, check_same_thread=False)
            if fresh:
                conn.executescript(SCHEMA + "PRAGMA user_version = %d;" % SCHEMA_VERSION)
            else:
                check_schema(conn, path)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
        except sqlite3.DatabaseError as exc:
            raise _not_a_log(path, "not an SQLite database: %s" % exc) from None
        except sqlite3.OperationalError as exc:
            raise InputError(path, "", "cannot write the log: %s" % exc) from None
        return conn

    def add(self, record):
        """Log one record (not committed until commit())."""
        node_id = record.get("id") if record.get("ev") not in ("poll", "reply") else record.get("node")
        self.conn.execute("INSERT INTO events (session, t, ev, node_id, data) VALUES (?, ?, ?, ?, ?)",
                          (self.session, record.get("t"), str(record.get("ev")), node_id,
                           json.dumps(record, sort_keys=True, default=str)))
        for reading in _readings_in(record):
            self._add_reading(*reading)

    def _add_reading(self, t, node_id, name, seq, values, source):
        # One row set per reading: a poll repeats what an event (or the last
        # poll) brought. A reading is its seq *and* values: a node that
        # rebooted counts seq from 1 again, with other values.
        key = (seq, _fingerprint(values))
        recent = self._seen.setdefault(node_id, collections.deque(maxlen=RECENT_PER_NODE))
        if key in recent:
            return
        recent.append(key)
        rows = [(self.session, t, node_id, name, seq, str(v[0]), _sqlite_value(v[1]), v[2], source)
                for v in values or () if isinstance(v, (list, tuple)) and len(v) == 3]
        self.conn.executemany("INSERT INTO readings (session, t, node_id, node_name, seq, name, value, unit, source) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def commit(self):
        self.conn.commit()

    def close(self):
        if self.conn is not None:
            self.conn.commit()
            self.conn.close()
            self.conn = None


def _fingerprint(values):
    # Events print values rounded (21.4); polls send the node's float32 (21.399999618530273).
    return tuple((str(v[0]), round(v[1], 2) if isinstance(v[1], float) else v[1])
                 for v in values or () if isinstance(v, (list, tuple)) and len(v) == 3)


def _sqlite_value(value):
    return value if isinstance(value, (int, float, str)) or value is None else json.dumps(value)


def _readings_in(record):
    """(t, node_id, name, seq, values, source) of every reading a record carries."""
    ev = record.get("ev")
    if ev == "reading" and record.get("id"):
        yield record.get("t"), record["id"], record.get("name"), record.get("seq"), record.get("values"), "event"
    elif ev == "poll" and record.get("cmd") == "readings" and record.get("ok") and not record.get("node"):
        for item in record.get("data") or ():
            if isinstance(item, dict) and item.get("id"):
                age = item.get("age_s")    # None for the node's own reading: it is current
                t = record["t"] - age if isinstance(age, (int, float)) else record["t"]
                yield t, item["id"], item.get("name"), item.get("seq"), item.get("values"), "poll"


def check_log_path(path):
    """Before a monitor starts: an existing file must be a log we can append to."""
    if os.path.isdir(path):
        raise InputError(path, "", "is a folder, not a monitor log")
    if os.path.exists(path) and os.path.getsize(path) > 0:
        open_for_reading(path).close()


def open_for_reading(path):
    """A read-only connection to a log; InputError if missing or not a log."""
    if not os.path.exists(path):
        raise InputError(path, "", "no such file")
    if os.path.isdir(path):
        raise InputError(path, "", "is a folder, not a monitor log")
    try:
        conn = sqlite3.connect("file:%s?mode=ro" % _uri_path(path), uri=True)
    except sqlite3.Error as exc:
        raise InputError(path, "", "cannot open: %s" % exc) from None
    check_schema(conn, path)
    return conn


def _uri_path(path):
    from urllib.parse import quote
    return quote(os.path.abspath(path))
