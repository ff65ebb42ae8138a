"""A live emulated mesh end to end: real micropython nodes running the firmware
behind ptys, the real-time medium, and the tools users use on boards."""
import json
import os
import subprocess
import sys
import time

import pytest

from nowmesh.cli import main
from nowmesh.console import ConsoleClient, ConsoleError
from nowmesh.emulation.mesh import Emulation

BIN = os.path.dirname(sys.executable)


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    state = tmp_path_factory.mktemp("mesh")
    emu = Emulation("line", nodes=3, interval_s=3, state_dir=str(state), capture=str(state / "air.cap"))
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


def _readings_seen(port, want, seconds):
    seen = set()
    with ConsoleClient(port) as client:
        for line in client.lines(seconds):
            if line.kind == "event" and line.data.get("ev") == "reading":
                seen.add(line.data["id"])
                if want <= seen:
                    break
    return seen


def test_nodes_file_lists_every_node(mesh):
    with open(os.path.join(mesh.state_dir, "nodes.json")) as f:
        data = json.load(f)
    assert [n["name"] for n in data["nodes"]] == ["n1", "n2", "n3"]
    assert all(n["port"].startswith("/dev/") and n["pid"] for n in data["nodes"])


def test_readings_of_every_node_reach_node_1_over_two_hops(mesh):
    want = {n.mac.hex(":") for n in mesh.nodes[1:]}
    assert want <= _readings_seen(mesh.nodes[0].port, want, 40)


def test_console_command_and_remote_ping(mesh):
    with ConsoleClient(mesh.nodes[0].port) as client:
        assert client.command("status")["name"] == "n1"
        target = mesh.nodes[2].mac.hex(":")
        pong, deadline = None, time.monotonic() + 45
        while pong is None and time.monotonic() < deadline:
            try:                     # routes to the far end form within seconds of boot
                pong = client.command("ping", {"node": target}, timeout=12)
            except ConsoleError:
                pass
        assert pong is not None and pong["node"] == target and pong["rtt_ms"] >= 0


def test_mpremote_exec_on_an_emulated_node(mesh, capsys):
    node = mesh.nodes[2]
    out = subprocess.run([os.path.join(BIN, "mpremote"), "connect", node.port, "exec", "print(1 + 1)"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2"
    # main.py was interrupted, as on a board. `nowmesh console --no-start` leaves
    # the board at its REPL (no events); without it, Ctrl-D starts nowmesh again.
    assert main(["console", node.port, "--json", "--seconds", "2", "--no-start"]) == 0
    quiet = capsys.readouterr()
    assert '"ev": "hello"' not in quiet.out
    assert main(["console", node.port, "--json", "--seconds", "6"]) == 0
    started = capsys.readouterr()
    assert "was at the MicroPython REPL" in started.err
    events = [json.loads(line) for line in started.out.splitlines()]
    assert any(e.get("ev") == "hello" and e.get("name") == node.name for e in events)


def test_killed_node_goes_away_and_restarts(mesh):
    node = mesh.nodes[2]
    mesh.kill(node.name)
    assert node.port is None
    mesh.restart(node.name)
    assert node.mac.hex(":") in _readings_seen(mesh.nodes[0].port, {node.mac.hex(":")}, 40)


def test_emulate_cli_runs_and_cleans_up(tmp_path, capsys):
    # how long this takes is measured by `make bench` (timings), not asserted
    assert main(["emulate", "--nodes", "2", "--state-dir", str(tmp_path), "--seconds", "3"]) == 0
    out = capsys.readouterr().out
    assert "n1" in out and "n2" in out and "/dev/" in out
    pids = [n["pid"] for n in json.loads((tmp_path / "nodes.json").read_text())["nodes"]]
    for pid in pids:
        with pytest.raises(OSError):
            os.kill(pid, 0)          # the node processes are gone


def test_emulate_rejects_bad_arguments(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["emulate", "--nodes", "0"])
    assert exc.value.code == 2
    assert main(["emulate", "--board", "esp99"]) == 2
    assert "unknown board" in capsys.readouterr().err


def test_capture_decodes_with_the_network_key(mesh, capsys):
    assert main(["decode", mesh.capture_path, "--json"]) == 0
    frames = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert frames and all("error" not in f for f in frames)
    senders = {f["sender"] for f in frames}
    assert senders == {n.mac.hex(":") for n in mesh.nodes}
    assert "readings" in {f["type"] for f in frames}
