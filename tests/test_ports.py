"""nowmesh ports: the VID:PID table and the listing logic with injected
pyserial port infos (the seam is list_ports.comports), the emulation registry,
and the probe against a live emulated node (nowmesh running, at the REPL, busy)."""
import json
import os
import subprocess
import sys
import time

import pytest
from serial.tools.list_ports_common import ListPortInfo

from nowmesh import cli, ports
from nowmesh.emulation import registry as emulation_registry
from nowmesh.console import ConsoleClient
from nowmesh.port_probe import probe_port

MPREMOTE = os.path.join(os.path.dirname(sys.executable), "mpremote")


def usb_port(device, vid, pid, **extra):
    info = ListPortInfo(device, skip_link_detection=True)
    info.vid, info.pid = vid, pid
    info.description = extra.get("description", "USB Serial")
    info.manufacturer = extra.get("manufacturer")
    info.serial_number = extra.get("serial_number")
    return info


@pytest.fixture
def registry(tmp_path, monkeypatch):
    folder = tmp_path / "runtime"
    monkeypatch.setenv("NOWMESH_RUNTIME_DIR", str(folder))
    return folder


@pytest.mark.parametrize("vid, pid, bridge", [
    (0x10C4, 0xEA60, "CP210x"), (0x1A86, 0x7523, "CH340"), (0x1A86, 0x55D4, "CH9102"),
    (0x0403, 0x6001, "FTDI"), (0x0403, 0x6010, "FTDI"), (0x0403, 0x6014, "FTDI"), (0x0403, 0x6015, "FTDI"),
    (0x303A, 0x1001, "Espressif USB-Serial/JTAG"), (0x303A, 0x4001, "MicroPython TinyUSB"),
])
def test_each_known_usb_id_names_its_bridge(vid, pid, bridge):
    entry = ports.describe_usb_port(usb_port("/dev/ttyUSB0", vid, pid))
    assert entry["bridge"] == bridge
    assert entry["vid"] == "%04x" % vid and entry["pid"] == "%04x" % pid
    assert entry["kind"] == "usb"


def test_board_profiles_add_their_usb_hints():
    cp210x = ports.describe_usb_port(usb_port("/dev/ttyUSB0", 0x10C4, 0xEA60))
    assert "esp32-devkitc" in cp210x["boards"]
    native = ports.describe_usb_port(usb_port("/dev/ttyACM0", 0x303A, 0x4001))
    assert "lolin-s2-mini" in native["boards"]
    # An id only a board profile knows still gets a guess from that profile.
    arduino = ports.describe_usb_port(usb_port("/dev/ttyACM1", 0x303A, 0x80C2))
    assert arduino["bridge"] is None and arduino["boards"] == ["lolin-s2-mini"]
    assert "lolin-s2-mini" in arduino["guess"]


def test_unknown_and_non_usb_ports_say_so():
    other = ports.describe_usb_port(usb_port("/dev/ttyUSB3", 0x2341, 0x0043, description="Arduino Uno"))
    assert other["guess"] == "unknown USB device" and other["boards"] == [] and other["bridge"] is None
    builtin = ports.describe_usb_port(ListPortInfo("/dev/ttyS0", skip_link_detection=True))
    assert builtin["kind"] == "serial" and builtin["guess"] == "not a USB port" and builtin["vid"] is None


def test_listing_sorts_ports_and_probes_only_esp_like_ones_by_default(registry, tmp_path):
    infos = [usb_port(str(tmp_path / "ttyUSB1"), 0x2341, 0x0043),
             usb_port(str(tmp_path / "ttyUSB0"), 0x10C4, 0xEA60)]
    found = ports.list_ports(comports=lambda: infos, emulated=False)
    assert [e["port"] for e in found] == [str(tmp_path / "ttyUSB0"), str(tmp_path / "ttyUSB1")]
    # The CP210x was probed (the path does not exist, so the probe says why); the Arduino was left alone.
    assert found[0]["probe"]["answers"] == "error" and "no such port" in found[0]["probe"]["detail"]
    assert found[1]["probe"] is None
    assert all(e["probe"] is None for e in ports.list_ports(probe=False, comports=lambda: infos, emulated=False))
    assert all(e["probe"] is not None for e in ports.list_ports(probe=True, comports=lambda: infos, emulated=False))


def test_the_seam_is_pyserials_comports(registry, monkeypatch, capsys):
    monkeypatch.setattr("serial.tools.list_ports.comports",
                        lambda *a, **k: [usb_port("/dev/ttyUSB7", 0x1A86, 0x55D4)])
    assert cli.main(["ports", "--json", "--no-probe"]) == 0
    listed = json.loads(capsys.readouterr().out)["ports"]
    assert [(e["port"], e["bridge"]) for e in listed] == [("/dev/ttyUSB7", "CH9102")]
    assert cli.main(["ports", "--no-probe"]) == 0
    table = capsys.readouterr().out
    assert "/dev/ttyUSB7" in table and "1a86:55d4" in table and "CH9102 (esp32-devkitc)" in table


def test_registry_lists_live_emulations_and_drops_dead_ones(registry, tmp_path):
    state = tmp_path / "emu"
    state.mkdir()
    (state / "nodes.json").write_text(json.dumps({"nodes": [
        {"name": "n1", "mac": "02:4e:4d:00:00:01", "port": "/dev/pts/90", "pid": os.getpid(), "running": True},
        {"name": "n3", "mac": "02:4e:4d:00:00:03", "port": "/dev/pts/91", "pid": 2 ** 30, "running": True},
        {"name": "n2", "mac": "02:4e:4d:00:00:02", "port": None, "pid": None, "running": False}]}))
    entry = emulation_registry.register(str(state))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (registry / ("%d-1.json" % dead.pid)).write_text(json.dumps({"pid": dead.pid, "state_dir": str(state)}))
    (registry / "junk.json").write_text("{not json")
    listed = ports.emulated_ports()
    assert [(e["node"], e["port"], e["kind"]) for e in listed] == [("n1", "/dev/pts/90", "emulated")]
    assert not (registry / ("%d-1.json" % dead.pid)).exists()      # a dead emulation's entry is removed
    emulation_registry.unregister(entry)
    assert ports.emulated_ports() == []


# -- against a live emulated node ---------------------------------------------------

@pytest.fixture(scope="module")
def mesh(make_emulated_mesh_module, tmp_path_factory):
    """One mesh for the live tests: n1 is probed, n2 is put at the REPL, n3 is killed."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("NOWMESH_RUNTIME_DIR", str(tmp_path_factory.mktemp("runtime")))
        yield make_emulated_mesh_module("line", nodes=3)


def _wait_for_nowmesh(port, timeout=30):
    deadline = time.monotonic() + timeout
    while True:
        result = probe_port(port)
        if result["answers"] == "nowmesh" or time.monotonic() > deadline:
            return result
        time.sleep(0.3)


def test_probe_reads_a_running_node_without_interrupting_it(mesh):
    port = mesh.port("n1")
    result = _wait_for_nowmesh(port)
    assert result == {"answers": "nowmesh", "nowmesh": True, "name": "n1", "id": mesh.mac("n1"),
                      "fw": result["fw"], "proto": 1, "board": "esp32-devkitc"}
    assert result["fw"]
    before = mesh.command("n1", "status")
    mesh._close_console("n1")
    assert probe_port(port)["answers"] == "nowmesh"
    after = mesh.command("n1", "status")
    # Same boot, uptime went on: main.py was never interrupted or restarted.
    assert after["boot"] == before["boot"] and after["uptime_s"] >= before["uptime_s"]


def test_ports_lists_the_emulated_nodes_with_their_probe(mesh):
    _wait_for_nowmesh(mesh.port("n3"))
    found = ports.list_ports(comports=lambda: [])
    by_node = {e["node"]: e for e in found}
    assert set(by_node) == {"n1", "n2", "n3"}
    assert by_node["n3"]["port"] == mesh.port("n3")
    assert by_node["n3"]["probe"]["name"] == "n3" and by_node["n3"]["probe"]["id"] == mesh.mac("n3")
    mesh.kill("n3")
    assert [e["node"] for e in ports.list_ports(probe=False, comports=lambda: [])] == ["n1", "n2"]


def test_probe_sees_the_repl_and_a_busy_port(mesh):
    port = mesh.port("n2")
    _wait_for_nowmesh(port)
    # mpremote interrupts main.py and leaves the board at the REPL, as on a real board.
    subprocess.run([MPREMOTE, "connect", port, "exec", "print(1)"], check=True, capture_output=True, timeout=30)
    result = probe_port(port)
    assert result["answers"] == "micropython" and result["nowmesh"] is False
    assert result["micropython"].startswith("v1.")
    with ConsoleClient(port):
        busy = probe_port(port)
    assert busy["answers"] == "busy"
    assert probe_port("/dev/does-not-exist")["answers"] == "error"
