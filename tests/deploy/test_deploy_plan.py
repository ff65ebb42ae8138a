"""deploy's pure parts: the plan, the staged-write programs, the key file,
the config, the board finder. No board needed (the board-side programs are
run under the real micropython interpreter where it matters)."""
import hashlib
import json
import os
import stat
import subprocess
import sys
import types

import pytest
import serial

from nowmesh.cli import main
from nowmesh.deploy import device, fleet
from nowmesh.deploy.config import load_or_create_key, node_config
from nowmesh.deploy.fastpath import tree_digest
from nowmesh.deploy.plan import make_plan
from nowmesh.errors import InputError

OURS = ("mesh", "meshport")


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def test_plan_sends_only_what_differs_and_commits_main_py_last():
    local = {"main.py": b"m2", "boot.py": b"b", "mesh/a.mpy": b"a2", "mesh/b.mpy": b"b",
             "meshport/drivers/x.mpy": b"x"}
    board = {"main.py": _sha(b"m1"), "boot.py": _sha(b"b"), "mesh/a.mpy": _sha(b"a1"),
             "mesh/b.mpy": _sha(b"b")}
    plan = make_plan(local, board, ["mesh"], OURS)
    assert [p for p, _, _ in plan.send] == ["mesh/a.mpy", "meshport/drivers/x.mpy", "main.py"]
    assert plan.commit[-1] == "main.py"
    assert sorted(plan.unchanged) == ["boot.py", "mesh/b.mpy"]
    assert plan.mkdirs == ["meshport", "meshport/drivers"]


def test_plan_reuses_a_staged_copy_left_by_an_interrupted_deploy():
    local = {"main.py": b"m", "mesh/a.mpy": b"new"}
    board = {"main.py": _sha(b"m"), "mesh/a.mpy": _sha(b"old"), "mesh/a.mpy.nmnew": _sha(b"new")}
    plan = make_plan(local, board, ["mesh"], OURS)
    assert plan.send == [] and plan.commit == ["mesh/a.mpy"] and plan.remove == []


def test_plan_removes_stale_files_only_in_our_folders_deepest_first():
    local = {"main.py": b"m", "mesh/a.mpy": b"a"}
    board = {"main.py": _sha(b"m"), "mesh/a.mpy": _sha(b"a"), "mesh/gone.py": "1",
             "mesh/old/x.mpy": "2", "mesh/a.mpy.nmnew": "3", "lib/user.py": "4", "data.csv": "5",
             "main.py.nmnew": "6"}
    plan = make_plan(local, board, ["mesh", "mesh/old", "mesh/old/deeper", "lib"], OURS)
    assert plan.remove == ["main.py.nmnew", "mesh/a.mpy.nmnew", "mesh/gone.py", "mesh/old/x.mpy",
                           "mesh/old/deeper", "mesh/old"]
    assert plan.nothing_to_do is False


def test_unchanged_tree_plans_nothing():
    local = {"main.py": b"m", "mesh/a.mpy": b"a"}
    plan = make_plan(local, {p: _sha(d) for p, d in local.items()}, ["mesh"], OURS)
    assert plan.nothing_to_do and sorted(plan.unchanged) == ["main.py", "mesh/a.mpy"]


def test_required_library_files_live_beside_the_users_own_libraries():
    """lib/ holds the user's mip installs too: ours are managed file by file,
    the folder is never ours, and a lib/ that exists is not made again."""
    local = {"main.py": b"m", "lib/umqtt/simple.mpy": b"u"}
    board = {"main.py": _sha(b"m"), "lib/umqtt/simple.mpy": _sha(b"u"), "lib/user.mpy": "1"}
    plan = make_plan(local, board, [], OURS)
    assert plan.nothing_to_do and plan.remove == []
    first = make_plan(local, {"main.py": _sha(b"m"), "lib/user.mpy": "1"}, [], OURS)
    assert first.mkdirs == ["lib/umqtt"] and [p for p, _, _ in first.send] == ["lib/umqtt/simple.mpy"]


def _run_on_micropython(tmp_path, programs):
    script = device.HELPERS + "\n" + "\n".join(programs) + "\n"
    upy = os.path.join(os.path.dirname(sys.executable), "micropython")
    return subprocess.run([upy, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)


def test_staged_programs_rebuild_every_file_exactly_on_micropython(tmp_path):
    big = os.urandom(30000)                               # incompressible: sent raw, split over programs
    files = {"mesh/a.mpy": b"hello " * 3000, "mesh/b.mpy": big, "mesh/empty.mpy": b"", "main.py": b"x=1\n"}
    staged = [(p, d, _sha(d)) for p, d in files.items()]
    programs = [device.mkdir_program(["mesh"])] + device.stage_programs(staged, allow_deflate=True)
    programs.append(device.commit_program(list(files), []))
    assert len(programs) > 4                             # the big file spans several programs
    proc = _run_on_micropython(tmp_path, programs)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for path, data in files.items():
        assert (tmp_path / path).read_bytes() == data
    assert not [n for n in os.listdir(tmp_path / "mesh") if n.endswith(".nmnew")]


def test_board_refuses_a_file_that_arrived_damaged(tmp_path):
    programs = [device.mkdir_program(["mesh"]),
                device.stage_programs([("mesh/a.mpy", b"abc", _sha(b"abd"))], allow_deflate=False)[0]]
    proc = _run_on_micropython(tmp_path, programs)
    assert proc.returncode != 0 and "sha256 mismatch" in proc.stdout + proc.stderr
    assert not (tmp_path / "mesh" / "a.mpy.nmnew").exists()


def test_board_digest_matches_the_host_digest(tmp_path):
    tree = {"main.py": b"x", "mesh/a.mpy": b"a" * 700, "mesh/sub/b.mpy": b"b"}
    for path, data in tree.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(data)
    firmware = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "firmware")
    upy = os.path.join(os.path.dirname(sys.executable), "micropython")
    proc = subprocess.run([upy, "-c", "import sys; sys.path.append(%r)\nfrom meshport.fsdigest import digest\n"
                           "print(digest(['main.py', 'mesh', 'missing.json'])['digest'])" % firmware],
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == tree_digest(tree), proc.stderr


def test_key_file_is_created_private_and_then_reused(tmp_path):
    path = str(tmp_path / "k.json")
    key = load_or_create_key(path)
    assert len(key) == 32 and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_key(path) == key


def test_corrupt_key_file_is_an_input_error_that_does_not_show_its_contents(tmp_path):
    path = tmp_path / "k.json"
    path.write_text('{"key": "secretbutnothex"}')
    with pytest.raises(InputError) as exc:
        load_or_create_key(str(path))
    assert "secretbutnothex" not in str(exc.value) and "k.json" in str(exc.value)


def test_node_config_keeps_the_boards_other_settings():
    config = node_config({"name": "old", "key": "00" * 16, "interval_s": 7, "channel": 3}, "ab" * 16,
                         name="new", channel=None, board="esp32-devkitc")
    assert config == {"name": "new", "key": "ab" * 16, "interval_s": 7, "channel": 3,
                      "board": "esp32-devkitc"}


def test_usb_ports_by_vid_pid(monkeypatch):
    ports = [types.SimpleNamespace(device="/dev/ttyUSB0", vid=0x10C4, pid=0xEA60),
             types.SimpleNamespace(device="/dev/ttyACM0", vid=0x303A, pid=0x4001),
             types.SimpleNamespace(device="/dev/ttyS0", vid=None, pid=None),
             types.SimpleNamespace(device="/dev/ttyACM1", vid=0x2341, pid=0x0043),   # an Arduino
             types.SimpleNamespace(device="/dev/ttyACM2", vid=0x303A, pid=0x0002)]   # ROM bootloader
    from serial.tools import list_ports
    monkeypatch.setattr(list_ports, "comports", lambda: ports)
    assert fleet.usb_ports() == ["/dev/ttyACM0", "/dev/ttyUSB0"]


def test_permission_denied_names_the_fix(monkeypatch, capsys, tmp_path):
    from nowmesh.console import client as client_mod

    def deny(*a, **k):
        raise serial.SerialException(13, "could not open port /dev/ttyUSB0: [Errno 13] Permission denied")
    monkeypatch.setattr(client_mod.serial, "serial_for_url", deny)
    assert main(["deploy", "/dev/ttyUSB0", "--key-file", str(tmp_path / "k.json")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "permission denied" in err[0]
    if sys.platform.startswith("linux"):
        assert "dialout" in err[0]


def test_all_without_an_emulation_is_one_clear_error(tmp_path, capsys):
    assert main(["deploy", "--all", "--state-dir", str(tmp_path)]) == 2
    assert "no running emulation" in capsys.readouterr().err


def test_all_refuses_one_name_for_every_board(capsys):
    assert main(["deploy", "--all", "--name", "x"]) == 2
    assert "own name" in capsys.readouterr().err


def test_port_required_without_all(capsys):
    assert main(["deploy"]) == 2
    assert "--all" in capsys.readouterr().err


def test_not_a_firmware_tree(tmp_path, capsys):
    assert main(["deploy", "/dev/null", "--firmware", str(tmp_path)]) == 2
    assert "not a firmware tree" in capsys.readouterr().err


def test_nodes_file_lists_running_ports(tmp_path):
    (tmp_path / "nodes.json").write_text(json.dumps({"nodes": [
        {"name": "n1", "port": "/dev/pts/3", "running": True},
        {"name": "n2", "port": None, "running": False}]}))
    assert fleet.emulated_ports(str(tmp_path)) == [("/dev/pts/3", "n1")]
