"""The monitor's SQLite log (schema, one row per reading value, dedup of polled
readings, append across sessions) and `nowmesh export` (CSV, JSON lines,
filters); missing, corrupt, foreign and newer-schema files give one clear error
and are never modified."""
import csv
import hashlib
import io
import json
import sqlite3

import pytest

from nowmesh import cli
from nowmesh.monitor.store import SCHEMA_VERSION, MonitorLog
from test_monitor_model import MAC, recorded


def write_log(path, records, port="/dev/ttyUSB0"):
    log = MonitorLog(str(path), port=port)
    for record in records:
        log.add(record)
    log.close()


def reading(t, node, seq, temp):
    return {"ev": "reading", "t": t, "id": MAC % node, "name": "n%d" % node, "seq": seq,
            "values": [["temp", temp, "C"], ["rh", 50.0, "%"]]}


def poll(t, items):
    return {"ev": "poll", "t": t, "cmd": "readings", "node": None, "ok": True, "rtt_ms": 5, "data": items}


def test_every_reading_value_is_a_row_once(tmp_path):
    path = tmp_path / "log.sqlite"
    write_log(path, [
        reading(100.0, 2, 7, 21.5),
        poll(101.0, [{"id": MAC % 2, "name": "n2", "seq": 7, "age_s": 1,                                  # seen
                      "values": [["temp", 21.5, "C"], ["rh", 50.0, "%"]]},
                     {"id": MAC % 3, "name": "n3", "seq": 4, "age_s": 3, "values": [["temp", 19.0, "C"]]},
                     {"id": MAC % 1, "name": "n1", "seq": 9, "age_s": None, "values": [["temp", 20.0, "C"]]}]),
        poll(106.0, [{"id": MAC % 3, "name": "n3", "seq": 4, "age_s": 8, "values": [["temp", 19.0, "C"]]}]),  # again
        {"ev": "link", "t": 107.0, "state": "disconnected", "port": "/dev/ttyUSB0", "detail": "gone"},
        reading(110.0, 2, 8, "n/a"),
        poll(111.0, [{"id": MAC % 2, "name": "n2", "seq": 8, "age_s": 1,      # float32 copy of the event
                      "values": [["temp", "n/a", "C"], ["rh", 50.000001907348633, "%"]]}]),
        reading(120.0, 2, 1, 22.0),                                         # n2 rebooted: seq from 1 again
    ])
    conn = sqlite3.connect(str(path))
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    rows = conn.execute("SELECT t, node_id, seq, name, value, unit, source FROM readings ORDER BY id").fetchall()
    assert rows == [(100.0, MAC % 2, 7, "temp", 21.5, "C", "event"), (100.0, MAC % 2, 7, "rh", 50.0, "%", "event"),
                    (98.0, MAC % 3, 4, "temp", 19.0, "C", "poll"),
                    (101.0, MAC % 1, 9, "temp", 20.0, "C", "poll"),      # own reading: current at the poll
                    (110.0, MAC % 2, 8, "temp", "n/a", "C", "event"), (110.0, MAC % 2, 8, "rh", 50.0, "%", "event"),
                    (120.0, MAC % 2, 1, "temp", 22.0, "C", "event"), (120.0, MAC % 2, 1, "rh", 50.0, "%", "event")]
    assert [r[0] for r in conn.execute("SELECT ev FROM events ORDER BY id")] == \
        ["reading", "poll", "poll", "link", "reading", "poll", "reading"]
    assert json.loads(conn.execute("SELECT data FROM events WHERE ev = 'link'").fetchone()[0])["detail"] == "gone"


def test_a_second_run_appends_a_new_session(tmp_path):
    path = tmp_path / "log.sqlite"
    write_log(path, [reading(1.0, 2, 1, 20.0)])
    write_log(path, [reading(2.0, 2, 1, 20.0)], port="/dev/ttyACM0")      # a new session logs seq 1 again
    conn = sqlite3.connect(str(path))
    assert conn.execute("SELECT id, port FROM sessions").fetchall() == [(1, "/dev/ttyUSB0"), (2, "/dev/ttyACM0")]
    assert conn.execute("SELECT session, COUNT(*) FROM readings GROUP BY session").fetchall() == [(1, 2), (2, 2)]


def test_export_csv_and_json_lines(tmp_path, capsys):
    path = tmp_path / "log.sqlite"
    write_log(path, recorded())
    conn = sqlite3.connect(str(path))
    count = conn.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
    n3 = conn.execute("SELECT COUNT(*) FROM readings WHERE node_name = 'n3'").fetchone()[0]
    events = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    conn.close()
    assert count > 0 and n3 > 0
    out = tmp_path / "out.csv"
    assert cli.main(["export", str(path), "--csv", "--out", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == count
    assert set(rows[0]) == {"time", "t", "session", "node_id", "node_name", "seq", "name", "value", "unit", "source"}
    assert rows[0]["time"].endswith("+00:00") and float(rows[0]["t"]) > 1.7e9
    assert {r["node_name"] for r in rows} == {"n1", "n2", "n3", "n4"}
    assert "%d rows" % count in capsys.readouterr().err

    assert cli.main(["export", str(path), "--json", "--node", "n3"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == n3 and {line["node_id"] for line in lines} == {MAC % 3}

    assert cli.main(["export", str(path), "--json", "--table", "events"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == events == len(recorded())
    assert lines[0]["data"] == recorded()[0]


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _foreign_db(path):
    conn = sqlite3.connect(str(path))
    conn.execute("CREATE TABLE recipes (name TEXT)")
    conn.commit()
    conn.close()


def _newer_log(path):
    write_log(path, [])
    conn = sqlite3.connect(str(path))
    conn.execute("PRAGMA user_version = %d" % (SCHEMA_VERSION + 1))
    conn.commit()
    conn.close()


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_bytes(b"this is not sqlite at all\n" * 10), "not a nowmesh monitor log (not an SQLite database"),
    (lambda p: (write_log(p, recorded()), p.write_bytes(p.read_bytes()[:3000])), "not a nowmesh monitor log"),
    (_foreign_db, "not a nowmesh monitor log (schema version 0, missing tables: sessions, events, readings)"),
    (_newer_log, "written by a newer nowmesh"),
], ids=["garbage", "truncated", "foreign", "newer"])
def test_bad_files_give_one_clear_error_and_stay_untouched(tmp_path, capsys, make, message):
    path = tmp_path / "bad.sqlite"
    make(path)
    before = _digest(path)
    assert cli.main(["export", str(path), "--csv"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    # monitor --log refuses it too, before it opens any port
    assert cli.main(["monitor", "/dev/does-not-exist", "--json", "--log", str(path)]) == 2
    assert message in capsys.readouterr().err
    assert _digest(path) == before


def test_missing_file_and_self_overwrite(tmp_path, capsys):
    assert cli.main(["export", str(tmp_path / "nope.sqlite"), "--csv"]) == 2
    assert "nope.sqlite: no such file" in capsys.readouterr().err
    path = tmp_path / "log.sqlite"
    write_log(path, [reading(1.0, 2, 1, 20.0)])
    assert cli.main(["export", str(path), "--csv", "--out", str(path)]) == 2
    assert "would overwrite the log itself" in capsys.readouterr().err
    assert cli.main(["export", str(path), "--csv", "--out", str(tmp_path / "no-dir" / "x.csv")]) == 1
    assert "cannot write" in capsys.readouterr().err
