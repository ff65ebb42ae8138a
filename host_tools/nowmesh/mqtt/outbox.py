"""The bridge's outbox: messages waiting for the broker, on disk, in order.

Every reading the bridge publishes goes through here first (one path, so
order holds whether the broker is up or away): `put` appends a row and
commits; the bridge publishes rows in id order and `done` deletes a row once
the broker acknowledged it (QoS 1 PUBACK). A broker outage or a bridge
restart therefore loses nothing that was put; a row published but not yet
acknowledged when the connection dropped is sent again (at least once: the
payload carries the reading's seq, so a repeat is recognisable).

Bounded: beyond `max_rows` the oldest rows are dropped (and counted), so a
broker that stays away for days cannot fill the disk. A file that is not a
bridge outbox is refused, never overwritten.
"""
import os
import sqlite3
import time

from nowmesh.errors import InputError

SCHEMA_VERSION = 1
MAX_ROWS = 100000
_SCHEMA = """
CREATE TABLE outbox (id INTEGER PRIMARY KEY AUTOINCREMENT, queued REAL NOT NULL,
                     topic TEXT NOT NULL, payload BLOB NOT NULL, retain INTEGER NOT NULL);
"""


class Outbox:
    def __init__(self, path, max_rows=MAX_ROWS):
        self.path = path
        self.max_rows = max_rows
        self.dropped = 0
        self.db = _open(path)
        # kept here: COUNT(*) walks the whole table, and the bridge asks every step
        self._count = self.db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]

    def put(self, topic, payload, retain):
        """Append one message; returns how many old rows were dropped to make room."""
        self.db.execute("INSERT INTO outbox (queued, topic, payload, retain) VALUES (?, ?, ?, ?)",
                        (time.time(), topic, payload if isinstance(payload, bytes) else payload.encode(),
                         int(bool(retain))))
        self._count += 1
        dropped = self._trim()
        self.db.commit()
        return dropped

    def _trim(self):
        excess = self.count() - self.max_rows
        if excess <= 0:
            return 0
        self.db.execute("DELETE FROM outbox WHERE id IN (SELECT id FROM outbox ORDER BY id LIMIT ?)", (excess,))
        self.dropped += excess
        self._count -= excess
        return excess

    def waiting(self, after_id=0, limit=100):
        """[(id, topic, payload bytes, retain)] in order, ids above after_id."""
        rows = self.db.execute("SELECT id, topic, payload, retain FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
                               (after_id, limit)).fetchall()
        return [(r[0], r[1], bytes(r[2]), bool(r[3])) for r in rows]

    def done(self, row_id):
        self._count -= self.db.execute("DELETE FROM outbox WHERE id = ?", (row_id,)).rowcount
        self.db.commit()

    def count(self):
        return self._count

    def close(self):
        self.db.close()


def _open(path):
    if os.path.isdir(path):
        raise InputError(path, "", "is a folder; --queue takes a file")
    try:
        db = sqlite3.connect(path)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")    # WAL + NORMAL: a commit survives a crash of the bridge
        version = db.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    except sqlite3.DatabaseError as exc:
        raise InputError(path, "", "not a nowmesh bridge queue (%s); move it away or pass another --queue"
                         % exc) from None
    if not tables - {"sqlite_sequence"} and version == 0:
        db.executescript(_SCHEMA)
        db.execute("PRAGMA user_version=%d" % SCHEMA_VERSION)
        db.commit()
    elif version != SCHEMA_VERSION or "outbox" not in tables:
        db.close()
        raise InputError(path, "", "not a nowmesh bridge queue (schema %d, tables: %s); move it away or "
                         "pass another --queue" % (version, ", ".join(sorted(tables)) or "none"))
    return db
