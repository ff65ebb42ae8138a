# Simulated physical quantities for emulated boards: smooth, plausible and
# different per board (seeded by its MAC), so readings look like a real room.
import math
import os
import time

_MAC = os.getenv("NOWMESH_MAC") or "02:00:00:00:00:01"
_SEED = sum(int(part, 16) for part in _MAC.split(":"))
# The host's side of the bench (not the board's flash): a test's values for
# the quantities below (sensors.json, nowmesh's EmulatedMesh.set_sensor) and
# the log of output pins (pins.log, EmulatedMesh.actuator_log).
_SIM_DIR = os.getenv("NOWMESH_SIM_DIR")


_MOUNT = "/.nowmesh-sim"


def _on_host(work):
    """work(folder) with the node's sim folder mounted: the board's "/" is its
    flash, so the host's folder is mounted for the moment of the access only
    (as the board's import hook mounts the emulation's modules)."""
    os.mount(os.VfsPosix(_SIM_DIR), _MOUNT)
    try:
        return work(_MOUNT + "/")
    finally:
        os.umount(_MOUNT)


def _read_set(folder):
    # read every time: a file's mtime has a resolution of a second, and a
    # test may set a value twice within one
    import json
    try:
        with open(folder + "sensors.json") as f:
            return json.load(f)
    except (OSError, ValueError):            # none set, or being replaced: the simulation's values
        return {}


def _override(quantity):
    """The test's value for `quantity` ("temp", "humidity", "temp_mcu", "adc<pin>"), or None."""
    if not _SIM_DIR:
        return None
    return _on_host(_read_set).get(quantity)


def log_pin(pin, value):
    """An output pin changed: one JSON line for the test (actuator_log)."""
    if not _SIM_DIR:
        return
    line = '{"t": %.3f, "pin": %s, "value": %d}\n' % (time.time(), _json_id(pin), value)

    def append(folder):
        with open(folder + "pins.log", "a") as f:
            f.write(line)
    _on_host(append)


def _json_id(pin):
    return str(pin) if isinstance(pin, int) else '"%s"' % pin


def _wave(period_s, phase):
    return math.sin(2 * math.pi * time.time() / period_s + phase)


def temperature_c():
    value = _override("temp")
    if value is not None:
        return value
    return 17.0 + (_SEED % 70) / 10.0 + 1.5 * _wave(900, _SEED)


def humidity_pct():
    value = _override("humidity")
    if value is not None:
        return value
    return 40.0 + (_SEED % 200) / 10.0 - 4.0 * _wave(900, _SEED)


def mcu_temperature_c():
    value = _override("temp_mcu")
    if value is not None:
        return value
    return 38.0 + (_SEED % 8) + 0.5 * _wave(60, _SEED)


def adc_u16(pin):
    value = _override("adc%d" % pin)
    if value is not None:
        return int(value) & 0xFFFF
    return int(32768 + 20000 * _wave(300 + pin, _SEED + pin)) & 0xFFFF


def mac_bytes():
    return bytes(int(part, 16) for part in _MAC.split(":"))
