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
    # Routes to all three others (their lengths are the routing protocol's business, not the monitor's).
    assert set(hops) == {mesh.mac(n) for n in ("n2", "n3", "n4")} and all(h >= 1 for h in hops.values())
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


def test_the_dashboard_on_a_live_node_fills_and_pings_the_far_end(mesh):
    import asyncio

    from textual.widgets import DataTable

    from nowmesh.monitor.app import MonitorApp

    link = MonitorLink(mesh.port("n1"), poll_s=1)
    link.connect_once()
    app = MonitorApp(MonitorSession(link), refresh_s=0.1)
    far = mesh.mac("n4")

    async def until(pilot, check, timeout=30.0):
        deadline = time.monotonic() + timeout
        while not check():
            assert time.monotonic() < deadline, "gave up waiting"
            await pilot.pause(0.2)

    async def go():
        async with app.run_test(size=(140, 40)) as pilot:
            table = app.query_one("#nodes", DataTable)
            rows = lambda: [table.get_row_at(i) for i in range(table.row_count)]   # noqa: E731
            await until(pilot, lambda: len(rows()) == 4 and all(r[2] != "-" for r in rows()))
            assert list(rows()[0][:3]) == ["n1 *", mesh.mac("n1"), "0"]
            assert {r[1] for r in rows()} == {mesh.mac(n) for n in mesh.names}
            await pilot.press(*["down"] * [r[1] for r in rows()].index(far))
            assert app.selected_node() == far
            await pilot.press("p")
            await until(pilot, lambda: any(text.startswith("ping n4: ") for _t, text in app.session.model.events))
            answer = [text for _t, text in app.session.model.events if text.startswith("ping n4")][-1]
            assert int(answer.split(", ")[1].split()[0]) >= 1
            # The table shows the model (same event-loop step: no poll can come in between).
            assert {r[1]: r[2] for r in rows()}[far] == str(app.session.model.nodes[far]["hops"])
    asyncio.run(go())
    assert link._port is None          # quitting the app closed the port
