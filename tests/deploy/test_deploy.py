"""nowmesh deploy against one emulated board (a real micropython behind a pty).

One single-node emulation serves the whole module (it starts in about 2 s);
a test that needs a known starting point deploys "alpha" with the module's
key first, which costs next to nothing when the board already has it.
"""
import json
import os
import pty
import signal
import stat
import subprocess
import sys
import threading
import time

import pytest
import serial

from nowmesh.cli import main
from nowmesh.console.client import ConsoleClient, open_port
from nowmesh.deploy import DeployOptions, deploy_board
from nowmesh.bundle import PACKAGES, SOURCE_FILES, Compiler, firmware_dir
from nowmesh.bundle.tree import changed_firmware
from nowmesh.bundle import board_files as firmware_tree
from nowmesh.deploy.device import stage_programs
from nowmesh.deploy.rawrepl import DeviceGone
from nowmesh.errors import ToolError

TREE_ITEMS = list(SOURCE_FILES) + list(PACKAGES)
FIRMWARE = firmware_dir()


@pytest.fixture(scope="module")
def node(make_emulated_mesh_module):
    mesh = make_emulated_mesh_module("line", nodes=1)
    return mesh.node("n1")


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    """One project key for the module, as one project's folder has."""
    return str(tmp_path_factory.mktemp("project") / "nowmesh-key.json")


def _deploy(node, key_file, **options):
    return deploy_board(node.port, DeployOptions(key_file=key_file, **options))


def _board_file(node, path):
    with open(os.path.join(node.fs_dir, path), "rb") as f:
        return f.read()


def _board_config(node):
    return json.loads(_board_file(node, "nowmesh.json"))


def _running_name(node):
    with ConsoleClient(node.port) as client:
        return client.command("status", timeout=10)["name"]


def test_second_deploy_sends_no_file(node, key_file):
    first = _deploy(node, key_file, name="alpha")
    assert first["files_sent"] >= 1                     # at least the config: a new key
    assert first["name"] == "alpha" and first["id"] == node.mac.hex(":")
    assert first["restarted"] is True
    resets, pid = dict(node.board.resets), node.pid
    second = _deploy(node, key_file, name="alpha")
    assert second["files_sent"] == 0 and second["file_bytes_sent"] == 0
    assert second["files_unchanged"] == first["files_unchanged"] + first["files_committed"]
    assert second["bytes_sent"] < 300 < first["bytes_sent"]
    # the board hashed its files itself and said "same": main.py was never stopped
    assert second["restarted"] is False and node.board.resets == resets and node.pid == pid
    assert _running_name(node) == "alpha"


def test_the_node_gets_its_own_admin_key_and_never_the_operator_key(node, key_file):
    from nowmesh.bundle import core
    core.load()
    from mesh.admin import node_admin_key
    _deploy(node, key_file, name="alpha")
    operator_file = os.path.join(os.path.dirname(key_file), "nowmesh-operator-key.json")
    assert stat.S_IMODE(os.stat(operator_file).st_mode) == 0o600      # made beside the network key
    with open(operator_file) as f:
        operator = json.load(f)["operator_key"]
    config = _board_config(node)
    mac = node.mac.hex(":")
    assert config["admin_id"] == mac
    assert config["admin_key"] == node_admin_key(bytes.fromhex(operator), mac).hex()
    assert operator not in _board_file(node, "nowmesh.json").decode()
    with ConsoleClient(node.port) as client:
        assert client.command("status", timeout=10)["admin_id"] == mac
        assert client.command("config_get", {"field": "admin_key"}, timeout=10) == {"admin_key": "(set, 32 bytes)"}


def test_board_at_the_repl_is_deployed_and_started(node, key_file):
    _deploy(node, key_file, name="alpha")
    with serial.serial_for_url(node.port, timeout=0.5) as port:
        port.write(b"\x03")                             # stop main.py: the board sits at >>>
        time.sleep(0.3)
        port.write(b"\r\n")
        assert port.read_until(b">>> ").endswith(b">>> ")
    result = _deploy(node, key_file, name="alpha")
    # the console check saw a REPL echo its command lines, not nowmesh: raw REPL path
    assert result["restarted"] is True and result["files_sent"] == 0
    assert _running_name(node) == "alpha"


def test_a_changed_setting_is_not_mistaken_for_up_to_date(node, key_file):
    _deploy(node, key_file, name="alpha")
    renamed = _deploy(node, key_file, name="beta")
    assert renamed["files_sent"] == 1 and renamed["restarted"] is True
    assert _running_name(node) == "beta"
    with ConsoleClient(node.port) as client:               # saved, applied at the next reboot
        client.command("config_set", {"field": "channel", "value": 4}, timeout=10)
    path = os.path.join(node.fs_dir, "nowmesh.json")
    with open(path) as f:
        saved = json.load(f)
    with open(path, "w") as f:                             # byte for byte what deploy would write
        f.write(json.dumps(saved, sort_keys=True))
    pending = _deploy(node, key_file, name="beta", channel=4)
    assert pending["files_sent"] == 0                      # the files were right ...
    assert pending["restarted"] is True and pending["channel"] == 4   # ... the running node was not
    assert _deploy(node, key_file, name="beta", channel=1)["channel"] == 1
    other_key = _deploy(node, key_file + ".other", name="beta")   # a different project's key
    assert other_key["files_sent"] == 1
    assert _deploy(node, key_file, name="alpha")["files_sent"] == 1


def test_board_gets_the_compiled_tree_for_its_bytecode_version(node, key_file):
    result = _deploy(node, key_file, name="alpha")
    assert result["mpy"] == "6.3"                        # the micropython 1.29 unix port
    for package in PACKAGES:
        for root, _dirs, files in os.walk(os.path.join(FIRMWARE, package)):
            for name in files:
                if name.endswith(".py"):
                    rel = os.path.relpath(os.path.join(root, name), FIRMWARE)[:-3] + ".mpy"
                    assert _board_file(node, rel)[:2] == b"M\x06", rel
    assert _board_file(node, "main.py") == open(os.path.join(FIRMWARE, "main.py"), "rb").read()


def test_corrupt_file_on_the_board_is_replaced(node, key_file):
    _deploy(node, key_file, name="alpha")
    good = _board_file(node, "mesh/node.mpy")
    with open(os.path.join(node.fs_dir, "mesh", "node.mpy"), "r+b") as f:
        f.seek(20)
        f.write(b"\xff" * 16)
    result = _deploy(node, key_file, name="alpha")
    assert result["files_sent"] == 1
    assert _board_file(node, "mesh/node.mpy") == good
    assert _running_name(node) == "alpha"


def test_a_file_the_board_cannot_write_changes_nothing_and_is_reported(node, key_file):
    _deploy(node, key_file, name="alpha")
    good = _board_file(node, "mesh/wire.mpy")
    with open(os.path.join(node.fs_dir, "mesh", "wire.mpy"), "ab") as f:
        f.write(b"\0")                                   # wire.mpy must be sent again ...
    os.mkdir(os.path.join(node.fs_dir, "mesh", "wire.mpy.nmnew"))   # ... and cannot be staged
    with pytest.raises(ToolError, match="writing the new files failed.*nothing was changed"):
        _deploy(node, key_file, name="alpha")
    assert not os.path.exists(os.path.join(node.fs_dir, "mesh", "wire.mpy.nmnew"))   # cleaned up
    assert _running_name(node) == "alpha"                # main.py was started again
    assert _deploy(node, key_file, name="alpha")["files_sent"] == 1
    assert _board_file(node, "mesh/wire.mpy") == good


def test_stale_files_of_ours_go_and_nothing_else(node, key_file):
    _deploy(node, key_file, name="alpha")
    os.makedirs(os.path.join(node.fs_dir, "meshport", "old_driver"), exist_ok=True)
    for path in ("mesh/retired.py", "meshport/old_driver/x.mpy", "mesh/wire.mpy.nmnew", "notes.txt"):
        with open(os.path.join(node.fs_dir, path), "w") as f:
            f.write("x")
    result = _deploy(node, key_file, name="alpha")
    assert result["files_sent"] == 0 and result["files_removed"] == 4
    for gone in ("mesh/retired.py", "meshport/old_driver", "mesh/wire.mpy.nmnew"):
        assert not os.path.exists(os.path.join(node.fs_dir, gone))
    assert _board_file(node, "notes.txt") == b"x"        # not in our folders: the user's


def test_config_has_requested_name_channel_and_board_and_keeps_other_settings(node, key_file):
    with open(os.path.join(node.fs_dir, "nowmesh.json")) as f:
        config = json.load(f)
    config["interval_s"] = 7                             # as `nowmesh config-set` would leave it
    with open(os.path.join(node.fs_dir, "nowmesh.json"), "w") as f:
        json.dump(config, f)
    result = _deploy(node, key_file, name="kitchen", channel=6, board="esp32-c3-devkitm-1")
    assert (result["name"], result["channel"], result["board"]) == ("kitchen", 6, "esp32-c3-devkitm-1")
    written = _board_config(node)
    assert written["name"] == "kitchen" and written["channel"] == 6 and written["interval_s"] == 7
    assert json.loads(_board_file(node, "board.json"))["chip"] == "esp32c3"
    assert not [n for n in os.listdir(node.fs_dir) if n.endswith(".nmnew")]
    back = _deploy(node, key_file, name="alpha", channel=1, board="esp32-devkitc")
    assert (back["name"], back["channel"]) == ("alpha", 1)


def test_key_file_made_once_reused_and_never_printed(node, tmp_path, capsys):
    key_path = tmp_path / "nowmesh-key.json"
    assert main(["deploy", node.port, "--key-file", str(key_path), "--name", "alpha", "--json"]) == 0
    assert stat.S_IMODE(os.stat(key_path).st_mode) == 0o600
    key = json.loads(key_path.read_text())["key"]
    assert len(key) == 32 and _board_config(node)["key"] == key
    assert main(["deploy", node.port, "--key-file", str(key_path), "--name", "alpha"]) == 0
    assert json.loads(key_path.read_text())["key"] == key
    out = capsys.readouterr()
    assert key not in out.out and key not in out.err
    assert "0 sent" in out.out and "left running" in out.out   # second run, human summary


def test_an_emulated_node_keeps_its_emulations_key_by_default(node, tmp_path, capsys, monkeypatch):
    from nowmesh.emulation.registry import emulation_of_port
    monkeypatch.chdir(tmp_path)                  # a project folder with no key file yet
    state_dir = emulation_of_port(node.port)
    assert state_dir is not None
    emulation_key_file = os.path.join(state_dir, "nowmesh-key.json")
    assert main(["deploy", node.port, "--name", "alpha", "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["key_file"] == emulation_key_file
    with open(emulation_key_file) as f:
        assert _board_config(node)["key"] == json.load(f)["key"]
    assert not (tmp_path / "nowmesh-key.json").exists()     # the project's key is not made for it


def test_json_output_shape(node, key_file, capsys):
    assert main(["deploy", node.port, "--key-file", key_file, "--name", "alpha", "--json"]) == 0
    assert main(["deploy", node.port, "--key-file", key_file, "--name", "alpha", "--json"]) == 0
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert second["files_sent"] == 0
    for field in ("files_sent", "bytes_sent", "files_unchanged", "seconds"):
        assert isinstance(second[field], (int, float)), field


def test_all_with_state_dir_deploys_every_emulated_node(node, key_file, capsys):
    state_dir = os.path.dirname(node.fs_dir)
    assert main(["deploy", "--all", "--state-dir", state_dir, "--key-file", key_file, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] == 1 and out["failed"] == 0
    assert out["boards"][0]["name"] == "n1" and out["boards"][0]["port"] == node.port
    _deploy(node, key_file, name="alpha")


class _UnpluggedAfter:
    """A pyserial port that dies after `limit` bytes written, as a board
    pulled out of the USB socket mid-transfer."""

    def __init__(self, port, limit):
        self._port = port
        self._left = limit

    def write(self, data):
        if len(data) > self._left:
            self._port.write(data[:self._left])
            self._port.close()
            raise serial.SerialException("device reports readiness to read but returned no data")
        self._left -= len(data)
        return self._port.write(data)

    def __getattr__(self, name):
        return getattr(self._port, name)


def _changed_firmware(tmp_path):
    """The firmware with every module changed, so a deploy has much to send."""
    modules = [os.path.relpath(os.path.join(root, name), FIRMWARE)
               for root, _dirs, files in os.walk(FIRMWARE) if "__pycache__" not in root
               for name in files if name.endswith(".py") and name not in SOURCE_FILES]
    return changed_firmware(str(tmp_path / "firmware"),
                            {path: lambda text: text + "\n_DEPLOY_TEST_MARK = 1\n" for path in modules})


def _upload_bytes(tree):
    compiled = firmware_tree(Compiler(6, 3, 2), tree)
    files = [(path, data, "0" * 64) for path, data in compiled.items()]
    return sum(len(p) for p in stage_programs(files, allow_deflate=True))


def _snapshot(node):
    out = {}
    for item in TREE_ITEMS:
        path = os.path.join(node.fs_dir, item)
        if os.path.isfile(path):
            out[item] = open(path, "rb").read()
            continue
        for root, _dirs, files in os.walk(path):
            for name in files:
                full = os.path.join(root, name)
                out[os.path.relpath(full, node.fs_dir)] = open(full, "rb").read()
    return out


def _power_cycle(node, timeout=20):
    """Unplug and plug in again: -> the hello event the firmware prints at start.
    (Commands sent while the board resets are lost, as on a board: wait for hello.)"""
    with ConsoleClient(node.port) as client:
        node.board.reset()
        for line in client.lines(timeout):
            if line.kind == "event" and line.data.get("ev") == "hello":
                return line.data
    raise AssertionError("no hello within %ss of the power-on" % timeout)


@pytest.mark.parametrize("fraction", [0.2, 0.6, 0.97])
def test_unplug_mid_deploy_leaves_old_firmware_and_next_deploy_completes(node, key_file, tmp_path,
                                                                         fraction):
    _deploy(node, key_file, name="alpha")
    new_tree = _changed_firmware(tmp_path)
    before = _snapshot(node)
    options = DeployOptions(key_file=key_file, name="alpha", firmware_dir=new_tree)
    # cut at a fraction of the upload (what dominates the bytes on the wire)
    port = _UnpluggedAfter(open_port(node.port, timeout=0.05), int(_upload_bytes(new_tree) * fraction))
    with pytest.raises(DeviceGone, match="deploy again"):
        deploy_board(node.port, options, port=port)
    after_cut = {k: v for k, v in _snapshot(node).items() if not k.endswith(".nmnew")}
    assert after_cut == before                           # nothing the firmware uses was touched
    assert _power_cycle(node)["name"] == "alpha"         # plugged back in: the old firmware runs
    result = deploy_board(node.port, options)
    assert result["name"] == "alpha"
    assert "_DEPLOY_TEST_MARK" not in open(os.path.join(new_tree, "main.py")).read()
    assert _board_file(node, "mesh/node.mpy") != before["mesh/node.mpy"]
    deploy_board(node.port, DeployOptions(key_file=key_file, name="alpha"))   # back to the real tree


def test_ctrl_c_during_the_upload_leaves_the_old_firmware_running(node, key_file, tmp_path):
    _deploy(node, key_file, name="alpha")
    new_tree = _changed_firmware(tmp_path)
    before = _snapshot(node)

    def impatient_user(stage, *counts):
        if stage == "sending" and counts[0] == 1:
            raise KeyboardInterrupt
    with pytest.raises(KeyboardInterrupt):
        deploy_board(node.port, DeployOptions(key_file=key_file, name="alpha", firmware_dir=new_tree),
                     progress=impatient_user)
    assert {k: v for k, v in _snapshot(node).items() if not k.endswith(".nmnew")} == before
    assert _running_name(node) == "alpha"                # main.py started again
    result = deploy_board(node.port, DeployOptions(key_file=key_file, name="alpha", firmware_dir=new_tree))
    assert result["files_committed"] > result["files_sent"]   # the staged part was not sent again
    deploy_board(node.port, DeployOptions(key_file=key_file, name="alpha"))


def test_killed_deploy_process_then_next_deploy_completes(node, key_file, tmp_path):
    _deploy(node, key_file, name="alpha")
    new_tree = _changed_firmware(tmp_path)
    code = ("import sys; from nowmesh.deploy import deploy_board, DeployOptions\n"
            "deploy_board(sys.argv[1], DeployOptions(key_file=sys.argv[2], name='alpha', "
            "firmware_dir=sys.argv[3]), progress=lambda *a: print(*a, flush=True))\n")
    proc = subprocess.Popen([sys.executable, "-c", code, node.port, key_file, new_tree],
                            stdout=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("sending 1 "):
                proc.send_signal(signal.SIGKILL)
                break
    finally:
        proc.kill()
        proc.wait()
    assert os.path.exists(os.path.join(node.fs_dir, "main.py"))
    assert _power_cycle(node)["name"] == "alpha"
    result = deploy_board(node.port, DeployOptions(key_file=key_file, name="alpha", firmware_dir=new_tree))
    assert result["files_sent"] + result["files_unchanged"] > 0
    again = deploy_board(node.port, DeployOptions(key_file=key_file, name="alpha", firmware_dir=new_tree))
    assert again["files_sent"] == 0
    deploy_board(node.port, DeployOptions(key_file=key_file, name="alpha"))


def test_missing_port_is_one_clear_line(capsys, key_file):
    assert main(["deploy", "/dev/nowmesh-no-such-port", "--key-file", key_file]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such port" in err[0] and "Traceback" not in err[0]


def test_busy_port_is_one_clear_line(node, capsys, key_file):
    holder = serial.serial_for_url(node.port, exclusive=True)
    try:
        assert main(["deploy", node.port, "--key-file", key_file]) == 1
    finally:
        holder.close()
    assert "port busy" in capsys.readouterr().err


def test_device_that_is_not_micropython(key_file):
    master, slave = pty.openpty()               # a serial device that never answers
    try:
        with pytest.raises(ToolError, match="no MicroPython REPL answered"):
            deploy_board(os.ttyname(slave), DeployOptions(key_file=key_file, repl_timeout=0.3))
    finally:
        os.close(master)
        os.close(slave)


def test_chatty_device_that_is_not_micropython_is_given_up_on(key_file):
    master, slave = pty.openpty()               # e.g. a GPS module: lines, forever
    os.set_blocking(master, False)              # a full pty buffer ends the talker, never blocks it
    stop = threading.Event()

    def talk():
        while not stop.wait(0.02):
            try:
                os.write(master, b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M\r\n")
            except OSError:
                return
    threading.Thread(target=talk, daemon=True).start()
    try:                                        # how long it takes: `make bench` (timings)
        with pytest.raises(ToolError, match="no MicroPython REPL answered"):
            deploy_board(os.ttyname(slave), DeployOptions(key_file=key_file, repl_timeout=0.3))
    finally:
        stop.set()
        os.close(master)
        os.close(slave)


def test_bad_name_is_an_input_error_and_nothing_is_written(node, key_file, capsys):
    _deploy(node, key_file, name="alpha")
    before = _snapshot(node)
    assert main(["deploy", node.port, "--key-file", key_file, "--name", "x" * 17]) == 2
    assert "name" in capsys.readouterr().err
    assert _snapshot(node) == before
    assert _running_name(node) == "alpha"       # the board was not touched: still running
