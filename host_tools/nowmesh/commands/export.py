"""Export a `nowmesh monitor --log` SQLite file as CSV or JSON lines.

By default every reading value is one row: time (ISO 8601, UTC), unix time,
node id and name, reading sequence number, value name, value, unit and where
it came from (a reading event or a poll). --table events exports every
logged record instead (console events, polls, replies, link changes).

Examples:
  nowmesh export farm.sqlite --csv --out farm.csv
  nowmesh export farm.sqlite --json | jq 'select(.name == "temp")'
  nowmesh export farm.sqlite --csv --table events --node n2
"""
import csv
import datetime
import json
import os
import sqlite3
import sys

from nowmesh.errors import InputError, ToolError
from nowmesh.monitor.store import open_for_reading

COLUMNS = {
    "readings": ("time", "t", "session", "node_id", "node_name", "seq", "name", "value", "unit", "source"),
    "events": ("time", "t", "session", "ev", "node_id", "data"),
}
QUERIES = {
    "readings": "SELECT t, session, node_id, node_name, seq, name, value, unit, source FROM readings",
    "events": "SELECT t, session, ev, node_id, data FROM events",
}


def add_arguments(p):
    p.add_argument("file", metavar="FILE.sqlite", help="a log written by nowmesh monitor --log")
    fmt = p.add_mutually_exclusive_group(required=True)
    fmt.add_argument("--csv", action="store_true", help="comma-separated values with a header row")
    fmt.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--out", metavar="FILE", help="write here (default: standard output)")
    p.add_argument("--table", choices=sorted(COLUMNS), default="readings")
    p.add_argument("--node", help="only this node (id or name)")


def run(args):
    if args.out and os.path.abspath(args.out) == os.path.abspath(args.file):
        raise InputError("command line", "--out", "would overwrite the log itself")
    conn = open_for_reading(args.file)
    try:
        rows = _rows(conn, args.table, args.node)
        if args.out:
            tmp = args.out + ".tmp"
            try:
                with open(tmp, "w", encoding="utf-8", newline="") as out:
                    count = _write(rows, args, out)
                os.replace(tmp, args.out)     # a failed export leaves no half file behind
            except OSError as exc:
                raise ToolError("%s: cannot write: %s" % (args.out, exc.strerror or exc)) from None
            finally:
                if os.path.exists(tmp):
                    os.remove(tmp)
            print("%d rows -> %s" % (count, args.out), file=sys.stderr)
        else:
            _write(rows, args, sys.stdout)
    except sqlite3.DatabaseError as exc:
        raise InputError(args.file, "", "damaged log: %s" % exc) from None
    finally:
        conn.close()
    return 0


def _rows(conn, table, node):
    query, params = QUERIES[table], ()
    if node:
        if table == "readings":
            query += " WHERE node_id = ? OR node_name = ?"
            params = (node, node)
        else:
            query += " WHERE node_id = ?"
            params = (node,)
    for row in conn.execute(query + " ORDER BY id", params):
        t = row[0]
        iso = None if t is None else datetime.datetime.fromtimestamp(t, datetime.timezone.utc).isoformat(
            timespec="milliseconds")
        yield (iso,) + tuple(row)


def _write(rows, args, out):
    columns = COLUMNS[args.table]
    count = 0
    writer = csv.writer(out) if args.csv else None
    if writer:
        writer.writerow(columns)
    for row in rows:
        if writer:
            writer.writerow(row)
        else:
            obj = dict(zip(columns, row))
            if args.table == "events":
                obj["data"] = json.loads(obj["data"])
            out.write(json.dumps(obj, sort_keys=True) + "\n")
        count += 1
    return count
