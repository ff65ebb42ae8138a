"""The `nowmesh` command line: output shapes, usage errors, input-file errors."""
import json
import os
import subprocess
import sys

import pytest

from nowmesh.cli import main


def test_sim_json_prints_one_object(capsys):
    code = main(["sim", "--protocol", "flood", "--topology", "grid", "--nodes", "9",
                 "--duration", "20", "--seed", "3", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["protocol"] == "flood" and result["nodes"] == 9 and result["seed"] == 3


def test_sim_table_is_readable(capsys):
    assert main(["sim", "--protocol", "managed-flood", "--topology", "line", "--nodes", "4",
                 "--duration", "15"]) == 0
    out = capsys.readouterr().out
    assert "delivery ratio" in out and "airtime per reading" in out


@pytest.mark.parametrize("argv, needle", [
    (["sim", "--loss", "1.5"], "--loss"),
    (["sim", "--nodes", "1"], "--nodes"),
    (["sim", "--protocol", "gossip"], "invalid choice"),
    (["sim", "--duration", "abc"], "invalid float"),
    (["nonsense"], "invalid choice"),
])
def test_wrong_arguments_give_usage_and_exit_2(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "usage:" in err and needle in err


def test_bad_topology_file_names_file_and_field(tmp_path, capsys):
    bad = tmp_path / "topo.json"
    bad.write_text(json.dumps({"nodes": [{"name": "a", "x": 0, "y": 0}, {"name": "b", "x": "far", "y": 0}]}))
    assert main(["sim", "--topology", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert str(bad) in err and "nodes[1].x" in err
    assert "Traceback" not in err and len(err.splitlines()) == 1


def test_bad_scenario_file_names_file_and_field(tmp_path, capsys):
    bad = tmp_path / "scenario.json"
    bad.write_text(json.dumps({"events": [{"t": 5, "action": "kill", "nodes": ["n99"]}]}))
    assert main(["sim", "--topology", "line", "--nodes", "3", "--scenario", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "events[0].nodes[0]" in err


def test_missing_scenario_file(capsys):
    assert main(["sim", "--scenario", "/nonexistent/s.json"]) == 2
    assert "/nonexistent/s.json" in capsys.readouterr().err


def test_installed_command_runs(tmp_path):
    exe = os.path.join(os.path.dirname(sys.executable), "nowmesh")
    proc = subprocess.run([exe, "sim", "--topology", "line", "--nodes", "3", "--duration", "5", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["nodes"] == 3
    proc = subprocess.run([exe, "sim", "--loss", "-1"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_node_config_tunes_nowmesh(tmp_path, capsys):
    cfg = tmp_path / "node.json"
    cfg.write_text(json.dumps({"beacon_ms": 2000}))
    # 60 s: within 20 s the default Trickle interval is still short (1+2+4+8 s)
    # and the 2 s one skips hellos that say nothing new, so both sent 42
    assert main(["sim", "--topology", "line", "--nodes", "3", "--duration", "60", "--json",
                 "--node-config", str(cfg)]) == 0
    fast = json.loads(capsys.readouterr().out)
    assert main(["sim", "--topology", "line", "--nodes", "3", "--duration", "60", "--json"]) == 0
    slow = json.loads(capsys.readouterr().out)
    assert fast["control_frames"] > slow["control_frames"]


@pytest.mark.parametrize("content, field", [
    ({"beacon_ms": "often"}, "beacon_ms"),
    ({"no_such_setting": 1}, "no_such_setting"),
    ({"key": "00" * 16}, "key"),
])
def test_bad_node_config_names_file_and_field(tmp_path, capsys, content, field):
    cfg = tmp_path / "node.json"
    cfg.write_text(json.dumps(content))
    assert main(["sim", "--topology", "line", "--nodes", "3", "--node-config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert str(cfg) in err and field in err and len(err.splitlines()) == 1


def test_corrupt_node_config_file(tmp_path, capsys):
    cfg = tmp_path / "node.json"
    cfg.write_text("{beacon_ms: 10")
    assert main(["sim", "--node-config", str(cfg)]) == 2
    assert str(cfg) in capsys.readouterr().err


@pytest.mark.parametrize("command", ["deploy", "sim", "console", "emulate", "flash", "nodes"])
def test_help_keeps_each_example_on_its_own_line(command, capsys):
    from nowmesh.cli import COMMANDS
    import importlib
    doc = importlib.import_module(COMMANDS[command][0]).__doc__
    examples = [line.strip() for line in doc.splitlines() if line.strip().startswith("nowmesh ")]
    assert examples, "the %s command's docstring has no example lines" % command
    with pytest.raises(SystemExit):
        main([command, "--help"])
    shown = [line.strip() for line in capsys.readouterr().out.splitlines()]
    for example in examples:
        assert example in shown
