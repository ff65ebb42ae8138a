"""Two emulated boards behave like boards in the documented details of issue 12
(docs/emulation.md, "Faithful, and not"): the constants MicroPython defines, the
REPL's start-up namespace, and the Wi-Fi state across soft and hard resets."""
import time

import pytest
import serial

from nowmesh.emulation.control import MediumControl
from nowmesh.emulation.board import EmulatedBoard

from conftest import UPY_MODULES, links_topology, read_until

PAIR = links_topology(["a", "b"], [("a", "b", -60, -62)])

# ports/esp32/network_wlan.c (wlan_if_locals_dict) with ESP-IDF >= 5.4.3's values
# (esp_wifi_types_generic.h), and modespnow.c's RATE_* (wifi_phy_rate_t).
WLAN_CONSTANTS = {
    "SEC_OPEN": 0, "SEC_WEP": 1, "SEC_WPA": 2, "SEC_WPA2": 3, "SEC_WPA_WPA2": 4,
    "SEC_WPA2_ENT": 5, "SEC_WPA3": 6, "SEC_WPA2_WPA3": 7, "SEC_WAPI": 8, "SEC_OWE": 9,
    "SEC_WPA3_ENT_192": 10, "SEC_WPA3_EXT_PSK": 11, "SEC_WPA3_EXT_PSK_MIXED_MODE": 12,
    "SEC_DPP": 13, "SEC_WPA3_ENT": 14, "SEC_WPA2_WPA3_ENT": 15, "SEC_WPA_ENT": 16,
    "PROTOCOL_DEFAULT": 7, "PROTOCOL_LR": 8,
    "BANDWIDTH_20": 1, "BANDWIDTH_40": 2, "BANDWIDTH_80": 3, "BANDWIDTH_160": 4,
    "BANDWIDTH_80_80": 5,
}
ESPNOW_RATES = {"RATE_1M": 0, "RATE_2M": 1, "RATE_5M": 2, "RATE_11M": 3, "RATE_6M": 11,
                "RATE_12M": 10, "RATE_24M": 9, "RATE_54M": 12, "RATE_LORA_250K": 41,
                "RATE_LORA_500K": 42}


def test_constants_let_a_rate_setting_program_run_between_two_boards(emulation):
    emu = emulation(PAIR)
    b = emu.start("b", """
        w = network.WLAN(network.WLAN.IF_STA)
        w.active(True)
        w.config(protocol=network.WLAN.PROTOCOL_DEFAULT | network.WLAN.PROTOCOL_LR)
        e = espnow.ESPNow()
        e.active(True)
        ready()
        result(e.recv(5000)[1], w.config('protocol'))
    """)
    b.wait_for("READY")
    a = emu.start("a", """
        W = network.WLAN
        result({k: getattr(W, k) for k in %r})
        result({k: getattr(espnow, k) for k in %r})
        w, e = up()
        e.config(rate=espnow.RATE_11M)
        e.add_peer(mac(1))
        result(e.send(mac(1), b'at 11 Mbps'))
    """ % (sorted(WLAN_CONSTANTS), sorted(ESPNOW_RATES)))
    assert a.result() == WLAN_CONSTANTS
    assert a.result() == ESPNOW_RATES
    assert a.result() is True
    assert b.result() == (b"at 11 Mbps", 7 | 8)
    a.finish()
    b.finish()


def test_protocol_default_has_11ax_on_a_wifi6_chip(emulation):
    emu = emulation(PAIR)
    script = "result(network.WLAN.PROTOCOL_DEFAULT, network.WLAN(0).config('protocol'))"
    c6 = emu.start("a", script, env={"NOWMESH_CHIP": "esp32c6"})
    assert c6.result() == (0x47, 0x47)       # 11b|11g|11n|11ax (CONFIG_SOC_WIFI_HE_SUPPORT)
    c6.finish()


# -- boards with a REPL ----------------------------------------------------------

def at_prompt(port):
    """Wait for the REPL; leave the port at a fresh prompt with nothing buffered.

    These boards have no main.py, so nothing runs after the boot. A return,
    not Ctrl-C: Ctrl-C while a loaded machine is still in the frozen
    _boot.py interrupts it there, as on a board, and `bdev` is never defined."""
    port.write(b"\r")
    read_until(port, b">>> ", 8.0)
    time.sleep(0.3)
    port.reset_input_buffer()
    port.write(b"\r")
    read_until(port, b">>> ", 8.0)


def repl(port, line, timeout=8.0):
    """Type one line at the friendly REPL; what it printed before the next prompt."""
    port.write(line.encode() + b"\r")
    out = read_until(port, b">>> ", timeout)
    return out.decode(errors="replace").split("\r\n", 1)[-1].rsplit(">>> ", 1)[0].strip()


@pytest.fixture
def boards(tmp_path, emulation):
    """boards(topology) -> (emu, {name: EmulatedBoard on the medium, at its REPL})."""
    started = []

    def start(topology):
        emu = emulation(topology)
        out = {}
        for name in topology.names:
            fs = tmp_path / name
            fs.mkdir()
            board = EmulatedBoard(str(fs), micropypath_extra=[str(UPY_MODULES)], heap="192K",
                                  env={"NOWMESH_MEDIUM": emu.address,
                                       "NOWMESH_MAC": emu.mac(name).hex(":")})
            started.append(board)
            out[name] = board.start()
        return emu, out
    try:
        yield start
    finally:
        for board in started:
            board.stop()


def test_repl_namespace_is_the_frozen_boot_py_s(boards):
    emu, pair = boards(PAIR)
    with serial.Serial(pair["a"].port, 115200, timeout=0.1) as a, \
            serial.Serial(pair["b"].port, 115200, timeout=0.1) as b:
        for port in (a, b):
            at_prompt(port)
        # no import: the frozen _boot.py ran in the REPL's globals
        assert repl(a, "gc.mem_free() > 0, type(vfs.mount).__name__") == "(True, 'function')"
        assert repl(a, "bdev.info()[4], bdev.ioctl(5, 0)") == "('vfs', 4096)"
        assert repl(a, "repr(bdev).startswith('<Partition type=1, subtype=129')") == "True"
        # the same boards talk to each other from their REPLs
        for port in (a, b):
            assert repl(port, "import network, espnow; w = network.WLAN(0); w.active(True)") == "True"
            assert repl(port, "e = espnow.ESPNow(); e.active(True)") == "True"
        repl(a, "e.add_peer(%r)" % emu.mac("b"))
        assert repl(a, "e.send(%r, bytes(gc.mem_free() > 0 for _ in range(3)))" % emu.mac("b")) == "True"
        assert repl(b, "e.recv(2000)[1]") == r"b'\x01\x01\x01'"


def test_wifi_survives_a_soft_reset_and_not_a_hard_one(boards):
    emu, pair = boards(PAIR)
    control = MediumControl(emu.server.address)
    with serial.Serial(pair["a"].port, 115200, timeout=0.1) as a, \
            serial.Serial(pair["b"].port, 115200, timeout=0.1) as b:
        for port in (a, b):
            at_prompt(port)
        repl(a, "import network; w = network.WLAN(network.WLAN.IF_STA); w.active(True)")
        repl(a, "w.config(channel=6)")
        a.write(b"\x04")                                   # soft reset
        assert b"MPY: soft reboot" in read_until(a, b">>> ", 8.0)
        assert repl(a, "import network; w = network.WLAN(0); w.active(), w.config('channel')") \
            == "(True, 6)"
        nodes = {n["name"]: n for n in control.status()["nodes"]}
        assert nodes["a"]["channel"] == 6 and nodes["a"]["radio_on"]
        # b on channel 6 reaches a, whose program never touched its Wi-Fi again
        repl(b, "import network, espnow; w = network.WLAN(0); w.active(True); w.config(channel=6)")
        repl(b, "e = espnow.ESPNow(); e.active(True); e.add_peer(%r)" % emu.mac("a"))
        repl(a, "import espnow; e = espnow.ESPNow(); e.active(True)")
        assert repl(b, "e.send(%r, b'after soft reset')" % emu.mac("a")) == "True"
        assert repl(a, "e.recv(2000)[1]") == "b'after soft reset'"
        # a hard reset (machine.reset()) restarts the radio on the default channel
        a.write(b"raise SystemExit(73)\r")                 # what the emulated machine.reset() does
        assert b"SW_CPU_RESET" in read_until(a, b">>> ", 8.0)
        assert repl(a, "import network; w = network.WLAN(0); w.active(), w.config('channel')") \
            == "(False, 1)"
        nodes = {n["name"]: n for n in control.status()["nodes"]}
        assert nodes["a"]["channel"] == 1 and not nodes["a"]["radio_on"]
        assert repl(b, "e.send(%r, b'after hard reset')" % emu.mac("a")) == "False"
