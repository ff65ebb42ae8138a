"""The user app API on live emulated boards (docs/app-api.md): an app that
raises in a loop is reported, restarted with back-off, stopped and said so,
while readings keep flowing; an app using the whole `mesh` object works
across the mesh (publish, add_sensor, request/on_request by name and id,
readings(), latest(), nodes(), commands open and closed)."""
import json
import os
import time

import pytest

from nowmesh.console import ConsoleError

APPS = os.path.join(os.path.dirname(__file__), "apps")


def _values(reading):
    return {v[0]: v[1] for v in reading["values"]}


def test_an_app_that_raises_in_a_loop_is_contained(make_emulated_mesh):
    mesh = make_emulated_mesh("line", nodes=2, interval_s=1, app=os.path.join(APPS, "crashloop"))
    errors = []
    stopped = None
    for line in mesh.console("n1").lines(40):     # back-off 1+2+4+8 s, then the 5th failure
        if line.kind != "event":
            continue
        if line.data.get("ev") == "app_error":
            errors.append(line.data)
        if line.data.get("ev") == "app_stopped":
            stopped = line.data
            break
    assert stopped is not None, "no app_stopped event; app_errors seen: %s" % errors
    assert [e["failures"] for e in errors] == [1, 2, 3, 4, 5]
    assert all(e["error"] == "ValueError: the driver exploded" for e in errors)
    assert [e["restart_in_ms"] is None for e in errors] == [False] * 4 + [True]
    assert errors[1]["restart_in_ms"] > errors[0]["restart_in_ms"]        # the back-off grows
    assert "5" in stopped["reason"] and stopped["error"] == "ValueError: the driver exploded"
    status = mesh.command("n1", "status")
    assert (status["app_state"], status["app_errors"]) == ("stopped", 5)
    assert status["app_last_error"] == "ValueError: the driver exploded"
    # the mesh ran on: n1 still hears n2, and its own readings go out
    assert mesh.wait_for_readings(at="n1", from_=["n2"], max_age_s=3, timeout=20)
    assert mesh.wait_for_readings(at="n2", from_=["n1"], max_age_s=3, timeout=20)


@pytest.fixture(scope="module")
def hello_mesh(make_emulated_mesh_module):
    # seed 2: the radio model (nowmesh.radio.model) gives n1 and n4 no link
    # either way, so n1 never hears n4's hellos (with seed 1 it does)
    return make_emulated_mesh_module("line", nodes=4, seed=2, interval_s=1, app=os.path.join(APPS, "hello"))


def test_published_and_sensor_values_reach_the_other_end(hello_mesh):
    # n1's app asks n2 (by name) and n3 (by id) for an echo and publishes
    # the answers; its add_sensor value rides in the same reading
    def answered(r):
        values = _values(r)
        return values.get("echo_n2") == 7 and values.get("echo_n3") == 7 and values.get("soil") == 42.5
    event = hello_mesh.wait_for_event("n3", "reading", timeout=60,
                                      where=lambda e: e.get("id") == hello_mesh.mac("n1") and answered(e))
    assert "temp" in _values(event)           # merged with the configured sensors
    assert "moisture" not in _values(event)   # a named sensor: only where a config entry binds it


def test_a_name_several_hops_away_resolves(hello_mesh):
    # n4 is three hops from n1, which never heard its hellos: mesh.request("n4")
    # asks the nodes n1 holds readings of for their names, as the host tools do
    hello_mesh.wait_for_readings(at="n1", from_=["n4"], timeout=60)
    assert "n4" not in [n["name"] for n in hello_mesh.command("n1", "neighbours")]
    assert hello_mesh.app_command("n1", "ask", "n4") == {"asking": "n4"}
    deadline = time.monotonic() + 30          # the name lookup, and two tries of at most 10 s
    while hello_mesh.app_command("n1", "asked") is None and time.monotonic() < deadline:
        time.sleep(0.2)
    answer = hello_mesh.app_command("n1", "asked")
    assert answer == {"from": hello_mesh.mac("n1"), "data": {"x": 9}}, answer   # n4 knows n1 by its id


def test_a_config_entry_binds_an_app_sensor_and_reports_one_missing(make_emulated_mesh):
    mesh = make_emulated_mesh("line", nodes=2, interval_s=1, app=os.path.join(APPS, "hello"))
    sensors = [{"kind": "internal_temp"}, {"kind": "app", "name": "moisture"}, {"kind": "app", "name": "leaf"}]
    mesh.command("n2", "config_set", field="sensors", value=sensors)
    with pytest.raises(ConsoleError, match="name"):
        mesh.command("n2", "config_set", field="sensors", value=[{"kind": "app"}])
    mesh.restart("n2")
    missing = mesh.wait_for_event("n2", "sensor", timeout=30,
                                  where=lambda e: e.get("kind") == "app" and not e.get("ok"))
    assert "'leaf'" in missing["error"] and "add_sensor" in missing["error"]
    event = mesh.wait_for_event("n1", "reading", timeout=30,
                                where=lambda e: e.get("id") == mesh.mac("n2") and "moisture" in _values(e))
    assert _values(event)["moisture"] == 17 and "soil" in _values(event) and "temp_mcu" in _values(event)
    assert mesh.command("n2", "status")["app_state"] in ("running", "finished")


def test_readings_latest_and_nodes_from_the_app(hello_mesh):
    hello_mesh.wait_for_readings(at="n2", timeout=60)
    seen = hello_mesh.app_command("n2", "heard")
    assert seen["heard"] > 0
    # keyed by name where n2 knows it (its neighbours' hellos), else by id
    for name in ("n1", "n2", "n3", "n4"):
        assert name in seen["latest"] or hello_mesh.mac(name) in seen["latest"], (name, seen["latest"])
    assert len(seen["nodes"]) == 4


def test_commands_run_locally_and_remotely_only_when_open_or_signed(hello_mesh):
    assert hello_mesh.app_command("n3", "pump", "on") == {"pump": "on"}
    with pytest.raises(ConsoleError, match="no app command"):
        hello_mesh.app_command("n3", "nothing")
    with pytest.raises(ConsoleError, match="app error: TypeError: the answer must be JSON"):
        hello_mesh.app_command("n3", "odd")
    assert hello_mesh.command("n3", "status")["app_errors_total"] >= 1
    # open: any node of the mesh may run it
    assert hello_mesh.app_command("n1", "light", "red", on="n3") == {"light": ["red"]}
    # not open: refused unsigned, like the admin commands
    with pytest.raises(ConsoleError, match="not signed with the operator key"):
        hello_mesh.app_command("n1", "pump", "off", on="n3")
    assert hello_mesh.app_command("n3", "pump", "on") == {"pump": "on"}


def test_a_task_that_holds_the_loop_is_reported(hello_mesh):
    hello_mesh.events("n2", 0.5)                  # what n2 printed before
    assert hello_mesh.app_command("n2", "stall", "900") == {"stalling": True}
    event = hello_mesh.wait_for_event("n2", "app_blocked", timeout=10)
    assert event["held_ms"] >= 900 and event["bound_ms"] == 500
    assert hello_mesh.command("n2", "status")["app_blocked"] >= 1


def test_nowmesh_command_signs_with_the_operator_key(hello_mesh, capsys, tmp_path):
    from nowmesh.cli import main
    hello_mesh.release("n1")
    port = hello_mesh.port("n1")
    assert main(["command", port, "--node", "n3", "pump", "off", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["node"], doc["command"], doc["result"]) == ("n3", "pump", {"pump": "off"})
    assert main(["command", port, "pump", "on", "--json"]) == 0          # the node on PORT
    assert json.loads(capsys.readouterr().out)["result"] == {"pump": "on"}
    # with another operator's key the target refuses; an open command needs none
    stranger = tmp_path / "other-operator-key.json"
    from nowmesh.bundle import load_or_create_operator_key
    load_or_create_operator_key(str(stranger))
    assert main(["command", port, "--node", "n3", "pump", "on", "--operator-key", str(stranger)]) == 1
    assert "wrong signature" in capsys.readouterr().err
    assert main(["command", port, "--node", "n3", "light", "blue", "--json",
                 "--operator-key", str(tmp_path / "none.json")]) != 0      # a missing key file is an error
    capsys.readouterr()
