"""Emulation-only board modules (machine, esp32, dht, neopixel) under micropython,
driven by the firmware port's own sensor code."""
import json
import os
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MICROPYTHON = os.path.join(os.path.dirname(sys.executable), "micropython")
BOARD_UPY = os.path.join(REPO, "host_tools", "nowmesh", "emulation", "device", "hardware")

SCRIPT = r"""
import json, machine, esp32
from meshport.sensors import Sensors
from meshport.drivers.aht20 import AHT20
reports = []
specs = [{"kind": "internal_temp"}, {"kind": "aht20"}, {"kind": "adc", "pin": 34, "name": "soil"},
         {"kind": "dht22", "pin": 4}, {"kind": "bme280"}]
s = Sensors(specs, {"i2c": {"sda": 21, "scl": 22}}, lambda k, e: reports.append([k, e]))
values = s.read(7)
i2c = machine.I2C(0)
try:
    i2c.readfrom(0x77, 1)
    missing = None
except OSError as e:
    missing = e.args[0]
try:
    machine.reset()
    code = None
except SystemExit as e:
    code = e.args[0]
print(json.dumps({"values": values, "reports": reports, "scan": i2c.scan(), "missing": missing,
                  "reset": code, "uid": machine.unique_id().hex()}))
"""


def _run(mac):
    env = dict(os.environ, NOWMESH_MAC=mac,
               MICROPYPATH=os.pathsep.join([BOARD_UPY, os.path.join(REPO, "firmware")]))
    out = subprocess.run([MICROPYTHON, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_port_sensors_read_simulated_hardware():
    result = _run("02:4e:4d:00:00:05")
    names = [v[0] for v in result["values"]]
    assert names.count("temp") == 2 and "rh" in names and "soil" in names and "temp_mcu" in names
    temp = [v[1] for v in result["values"] if v[0] == "temp"]
    assert all(10 < t < 35 for t in temp)
    assert result["reports"] == [["bme280", "ValueError('unknown sensor kind',)"]]
    assert result["scan"] == [0x38]
    assert result["missing"] == 19                # ENODEV: nothing at that address
    assert result["reset"] == 73                  # the supervisor's hard-reset exit code
    assert result["uid"] == "024e4d000005"


def test_boards_differ():
    a, b = _run("02:4e:4d:00:00:01"), _run("02:4e:4d:00:00:09")
    # Each quantity is a slow wave seeded by the MAC, so two boards' curves of
    # one quantity cross now and then (rh once read 53.6 on both); all of
    # them at the same instant do not. Nor do their ids.
    assert a["uid"] != b["uid"]
    assert sum(1 for va, vb in zip(a["values"], b["values"]) if va != vb) >= 2, (a["values"], b["values"])
