"""nowmesh monitor against a live emulated 4-node line: the --json stream sees
every node, --log survives Ctrl-C and exports as CSV, and the link rides out a
board reset and a node killed and restarted (a new pty behind a stable link)."""
import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from nowmesh import cli
from nowmesh.monitor.link import MonitorLink
from nowmesh.monitor.session import MonitorSession

NOWMESH = os.path.join(os.path.dirname(sys.executable), "nowmesh")


@pytest.fixture(scope="module")
def mesh(make_emulated_mesh_module, tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NOWMESH_RUNTIME_DIR", str(tmp_path_factory.mktemp("runtime")))
        mesh = make_emulated_mesh_module("line", nodes=4)
        mesh.wait_for_readings(at="n4", timeout=90)    # n4: the tests open n1..n3
        yield mesh


def _seen_ids(record):
    """Node ids a monitor record tells us about."""
    if record.get("ev") == "reading":
        return {record["id"]}
    if record.get("ev") == "poll" and record.get("ok") and record["cmd"] in ("readings", "routes", "hello"):
        data = record["data"]
        return {item["id"] for item in data} if isinstance(data, list) else {data["id"]}
    return set()


def test_json_stream_sees_every_node_and_the_log_keeps_it_through_ctrl_c(mesh, tmp_path):
    log = str(tmp_path / "mesh.sqlite")
    proc = subprocess.Popen([NOWMESH, "monitor", mesh.port("n1"), "--json", "--poll", "1", "--log", log],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    want, seen, printed = {mesh.mac(n) for n in mesh.names}, set(), []
    hops = {}
    deadline = time.monotonic() + 60
    try:
        for line in proc.stdout:
            record = json.loads(line)
            printed.append(record)
            seen |= _seen_ids(record)
            if record.get("cmd") == "routes" and record.get("ok"):
                hops.update({item["id"]: item.get("hops") for item in record["data"]})
            if want <= seen and len(hops) == 3 and any(r.get("ev") == "reading" for r in printed) \
                    or time.monotonic() > deadline:
                break
        proc.send_signal(signal.SIGINT)             # Ctrl-C
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert seen == want, "monitor saw %s" % seen
    assert hops == {mesh.mac("n2"): 1, mesh.mac("n3"): 2, mesh.mac("n4"): 3}
    assert proc.returncode == 130 and "Traceback" not in err
    conn = sqlite3.connect(log)
    logged = conn.execute("SELECT COUNT(*) FROM events").fetchone()[0]
    assert logged >= len(printed)                  # everything printed before Ctrl-C is in the log
    nodes = {row[0] for row in conn.execute("SELECT DISTINCT node_id FROM readings")}
    assert nodes == want
    readings = conn.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
    conn.close()
    out = tmp_path / "mesh.csv"
    assert cli.main(["export", log, "--csv", "--out", str(out)]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == readings
    assert {r["node_name"] for r in rows if r["node_name"]} <= set(mesh.names)
    assert any(r["name"] == "temp" and r["unit"] == "C" and float(r["value"]) for r in rows)


def _wait(session, what, timeout=30.0):
    deadline = time.monotonic() + timeout
    found = []
    original = session.on_record
    session.on_record = found.append
    try:
        while time.monotonic() < deadline:
            session.drain(wait=0.2)
            for record in found:
                if what(record):
                    return record
        raise AssertionError("not seen within %gs; got %s" % (timeout, [r.get("ev") for r in found]))
    finally:
        session.on_record = original


def _is_hello_from(mac):
    return lambda r: (r.get("ev") == "hello" and r.get("id") == mac) or \
        (r.get("cmd") == "hello" and r.get("ok") and r["data"].get("id") == mac)


def test_a_board_reset_shows_as_a_restart_and_the_stream_goes_on(mesh):
    link = MonitorLink(mesh.port("n2"), poll_s=2)
    link.connect_once()
    session = MonitorSession(link.start())
    try:
        _wait(session, _is_hello_from(mesh.mac("n2")))
        mesh.node("n2").board.reset()               # the EN button: same port, a fresh boot
        _wait(session, lambda r: r.get("ev") == "hello" and r.get("id") == mesh.mac("n2"))
        assert "n2 restarted" in [text.split(" (")[0] for _t, text in session.model.events]
        _wait(session, lambda r: r.get("cmd") == "readings" and r.get("ok"))
        assert session.model.link["state"] == "connected"
    finally:
        session.close()


def test_reconnects_after_the_node_is_killed_and_restarted(mesh, tmp_path):
    stable = str(tmp_path / "n3-by-id")
    os.symlink(mesh.port("n3"), stable)
    link = MonitorLink(stable, poll_s=2, retry_s=0.2)
    link.connect_once()
    session = MonitorSession(link.start())
    try:
        _wait(session, _is_hello_from(mesh.mac("n3")))
        mesh.kill("n3")                             # unplugged: the pty goes away
        os.remove(stable)
        _wait(session, lambda r: r.get("ev") == "link" and r["state"] == "disconnected")
        assert session.model.link["state"] in ("disconnected", "reconnecting")
        mesh.restart("n3")                          # plugged back: a new pty behind the same link
        os.symlink(mesh.port("n3"), stable)
        _wait(session, lambda r: r.get("ev") == "link" and r["state"] == "connected")
        _wait(session, _is_hello_from(mesh.mac("n3")))
        _wait(session, lambda r: r.get("cmd") == "status" and r.get("ok") and r.get("node") is None)
        assert session.model.link["state"] == "connected"
        assert session.model.local_id == mesh.mac("n3")
    finally:
        session.close()
