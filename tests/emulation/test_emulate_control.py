"""Runtime control of a running `nowmesh emulate`: `nowmesh emulate kill|restart|
cut|uncut|move|partition|heal|loss|status --state-dir DIR` against its control socket, and a
scenario file applied live. One 3-node mesh runs in a subprocess, as a user runs it."""
import json
import os

import pytest

from emulate_process import emulate_process, wait_until as _wait_until
from nowmesh.cli import main

SCENARIO = {"events": [{"t": 1, "action": "kill", "nodes": ["n3"]},
                       {"t": 1, "action": "loss", "p": 0.05},
                       {"t": 1, "action": "move", "node": "n3", "x": 0, "y": 460},
                       {"t": 1, "action": "partition", "groups": [["n1"]]},
                       {"t": 2, "action": "heal"}]}


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """`nowmesh emulate --nodes 3 --scenario S` in a subprocess; its state dir."""
    base = tmp_path_factory.mktemp("ctl")
    scenario = base / "scenario.json"
    scenario.write_text(json.dumps(SCENARIO))
    state_dir = base / "mesh"
    with emulate_process(state_dir, base / "emulate.log", "--nodes", "3", "--interval", "3",
                         "--scenario", scenario, "--seconds", "120"):
        yield state_dir


def _status(state_dir, capsys):
    assert main(["emulate", "status", "--state-dir", str(state_dir)]) == 0
    return json.loads(capsys.readouterr().out)


def _node(status, name):
    return next(n for n in status["nodes"] if n["name"] == name)


def test_scenario_kill_and_loss_are_applied_live(running, capsys):
    def applied():
        status = _status(running, capsys)
        return status if not _node(status, "n3")["running"] and status["loss"] else None
    status = _wait_until(applied, 20, "the scenario to kill n3 and set the loss")
    assert status["loss"] == pytest.approx(0.05)
    assert _node(status, "n1")["running"] and _node(status, "n2")["running"]
    nodes_file = json.loads((running / "nodes.json").read_text())
    assert [n["running"] for n in nodes_file["nodes"]] == [True, True, False]
    assert _node(status, "n3")["position"] == [0.0, 460.0]
    log = _wait_until(lambda: "t=2s heal" in _log(running) and _log(running), 20, "the scenario's heal")
    assert "scenario: t=1s partition n1" in log
    assert {_node(_status(running, capsys), n)["group"] for n in ("n1", "n2", "n3")} == {0}


def _log(state_dir):
    return (state_dir.parent / "emulate.log").read_text()


def test_kill_restart_cut_uncut_and_loss_commands(running, capsys):
    _wait_until(lambda: not _node(_status(running, capsys), "n3")["running"], 20, "the scenario's kill")
    old_pid = _node(_status(running, capsys), "n2")["pid"]

    assert main(["emulate", "kill", "n2", "--state-dir", str(running)]) == 0
    assert capsys.readouterr().out.strip() == "kill n2: off"
    with pytest.raises(OSError):
        os.kill(old_pid, 0)

    assert main(["emulate", "restart", "n2", "--state-dir", str(running)]) == 0
    assert "restart n2: running" in capsys.readouterr().out
    n2 = _node(_status(running, capsys), "n2")
    assert n2["running"] and n2["pid"] != old_pid and n2["port"].startswith("/dev/")

    assert main(["emulate", "cut", "n1", "--state-dir", str(running)]) == 0
    assert "cut off the air" in capsys.readouterr().out
    assert _node(_status(running, capsys), "n1")["cut"] is True
    assert main(["emulate", "uncut", "n1", "--state-dir", str(running)]) == 0
    capsys.readouterr()
    assert _node(_status(running, capsys), "n1")["cut"] is False

    assert main(["emulate", "loss", "0.2", "--state-dir", str(running)]) == 0
    assert capsys.readouterr().out.strip() == "loss 0.2"
    assert _status(running, capsys)["loss"] == pytest.approx(0.2)


def test_unknown_node_and_bad_loss_exit_2(running, capsys):
    assert main(["emulate", "kill", "n9", "--state-dir", str(running)]) == 2
    err = capsys.readouterr().err
    assert 'unknown node "n9"' in err and "n1, n2, n3" in err and len(err.strip().splitlines()) == 1
    assert main(["emulate", "loss", "1.5", "--state-dir", str(running)]) == 2
    assert "loss must be" in capsys.readouterr().err


def test_a_second_emulation_in_the_same_folder_is_refused_untouched(running, capsys):
    before = _status(running, capsys)
    assert main(["emulate", "--nodes", "2", "--state-dir", str(running), "--seconds", "1"]) == 1
    assert "an emulation is already running in" in capsys.readouterr().err
    after = _status(running, capsys)
    assert [n["pid"] for n in after["nodes"]] == [n["pid"] for n in before["nodes"]]


def test_no_emulation_running_exits_1_with_one_line(tmp_path, capsys):
    assert main(["emulate", "kill", "n1", "--state-dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "no emulation is running in" in err and len(err.splitlines()) == 1


def test_control_needs_state_dir_and_a_node(capsys):
    for argv in (["emulate", "kill", "n1"], ["emulate", "kill", "--state-dir", "/tmp"],
                 ["emulate", "loss", "lots", "--state-dir", "/tmp"], ["emulate", "explode"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
    capsys.readouterr()


def test_move_partition_and_heal_commands(running, capsys):
    assert main(["emulate", "move", "n2", "10,-20.5", "--state-dir", str(running)]) == 0
    assert "move n2: running" in capsys.readouterr().out
    assert _node(_status(running, capsys), "n2")["position"] == [10.0, -20.5]

    assert main(["emulate", "partition", "n1", "--state-dir", str(running)]) == 0
    assert capsys.readouterr().out.strip() == "partition: n2,n3 | n1"
    assert [_node(_status(running, capsys), n)["group"] for n in ("n1", "n2", "n3")] == [1, 0, 0]
    assert main(["emulate", "heal", "--state-dir", str(running)]) == 0
    assert capsys.readouterr().out.strip() == "heal: n1,n2,n3"

    assert main(["emulate", "partition", "n1,n9", "--state-dir", str(running)]) == 2
    assert 'unknown node "n9"' in capsys.readouterr().err
    assert {_node(_status(running, capsys), n)["group"] for n in ("n1", "n2", "n3")} == {0}
    for argv in (["move", "n2", "ten,20"], ["move", "n2"], ["heal", "n1"], ["partition"]):
        with pytest.raises(SystemExit) as exc:
            main(["emulate"] + argv + ["--state-dir", str(running)])
        assert exc.value.code == 2
    capsys.readouterr()


@pytest.mark.parametrize("action", [{"action": "channel", "node": "n1", "channel": 6}])
def test_scenario_actions_not_supported_live_exit_2_before_starting(tmp_path, capsys, action):
    scenario = tmp_path / "s.json"
    scenario.write_text(json.dumps({"events": [dict(t=3, **action)]}))
    state_dir = tmp_path / "mesh"
    assert main(["emulate", "--nodes", "2", "--state-dir", str(state_dir), "--scenario", str(scenario)]) == 2
    err = capsys.readouterr().err
    assert '"%s" (at 3s) is not supported live yet' % action["action"] in err
    assert not (state_dir / "nodes.json").exists()      # nothing was started
