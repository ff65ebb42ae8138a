"""The console client and `nowmesh console` against the real port running under
micropython on a pty (two nodes on an in-process fake radio; see tests/port)."""
import json
import os
import pty
import subprocess
import sys
import tty

import pytest

from nowmesh.cli import main
from nowmesh.console import ConsoleClient, ConsoleError, PortError, parse_command_text, parse_line

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")


@pytest.fixture
def node_port(tmp_path):
    """Path of a pty whose other end is a micropython process running the port."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    env = dict(os.environ, MICROPYPATH=os.pathsep.join(
        [os.path.join(REPO, "firmware"), os.path.join(REPO, "tests", "port")]))
    proc = subprocess.Popen([MICROPYTHON, "-X", "heapsize=4M", os.path.join(REPO, "tests", "port", "fake_node.py"),
                             str(tmp_path)], stdin=master, stdout=master, stderr=subprocess.PIPE, env=env)
    try:
        yield os.ttyname(slave)
    finally:
        proc.kill()
        proc.wait(timeout=10)
        os.close(master)
        os.close(slave)


def test_parse_line_kinds():
    assert parse_line("hello world").kind == "text"
    assert parse_line('@nm1 {"ev": "stats", "uptime_s": 3}').kind == "event"
    assert parse_line('@nm1 {"re": 4, "ok": true}').data["re"] == 4
    assert parse_line('@nm2 {"ev": "hello", "proto": 2}').kind == "mismatch"
    assert parse_line('@nm1 {"ev": "hello", "proto": 3}').kind == "mismatch"
    assert parse_line("@nm1 {broken").kind == "garbage"         # marked, but not a protocol object
    assert parse_line("\x00\xff\xfe").kind == "text"


def test_parse_command_text():
    assert parse_command_text("status") == ("status", {})
    assert parse_command_text("ping n3") == ("ping", {"node": "n3"})
    assert parse_command_text("send n3 hello there") == ("send", {"node": "n3", "data": "hello there"})
    assert parse_command_text("config_set channel 6") == ("config_set", {"field": "channel", "value": 6})
    assert parse_command_text("neighbors") == ("neighbours", {})
    with pytest.raises(ValueError):
        parse_command_text("status extra words")


def test_events_stream_from_the_node(node_port):
    with ConsoleClient(node_port) as client:
        seen = {}
        for line in client.lines(8):
            if line.kind == "event":
                kind = "own_reading" if line.data.get("local") else line.data["ev"]
                seen.setdefault(kind, line.data)
            if "reading" in seen and "own_reading" in seen and "stats" in seen:
                break
    assert seen["reading"]["id"] == "02:00:00:00:00:02"
    assert seen["own_reading"]["id"] == "02:00:00:00:00:01" and seen["own_reading"]["name"] == "alpha"
    assert "heap_free" in seen["stats"]


def test_commands_local_and_through_the_mesh(node_port):
    with ConsoleClient(node_port) as client:
        assert client.command("status")["name"] == "alpha"
        pong = client.command("ping", {"node": "02:00:00:00:00:02"})
        assert pong["hops"] >= 1 and pong["rtt_ms"] >= 0
        assert client.command("status", node="02:00:00:00:00:02")["name"] == "beta"
        with pytest.raises(ConsoleError, match="unknown command"):
            client.command("selfdestruct")


def test_cli_json_stream_and_command(node_port, capsys):
    assert main(["console", node_port, "--json", "--seconds", "4"]) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert any(e.get("ev") == "reading" for e in events)
    assert main(["console", node_port, "--command", "config_get name", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"name": "alpha"}


def test_missing_port_is_one_clear_error(capsys):
    assert main(["console", "/dev/does-not-exist-42", "--command", "status"]) == 1
    err = capsys.readouterr().err
    assert "no such port" in err and "Traceback" not in err


def test_silent_port_times_out_clearly():
    with pytest.raises(ConsoleError, match="no answer"):
        with ConsoleClient("loop://") as client:
            client.command("status", timeout=0.5)


def test_bad_command_text_is_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["console", "loop://", "--command", "status extra"])
    assert exc.value.code == 2


def test_port_error_message_for_permission(monkeypatch):
    import serial
    from nowmesh.console import client as client_mod

    def deny(*a, **k):
        raise serial.SerialException(13, "could not open port /dev/ttyUSB0: [Errno 13] Permission denied")
    monkeypatch.setattr(client_mod.serial, "serial_for_url", deny)
    with pytest.raises(PortError, match="permission denied"):
        client_mod.open_port("/dev/ttyUSB0")
