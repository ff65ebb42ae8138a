# Simulated physical quantities for emulated boards: smooth, plausible and
# different per board (seeded by its MAC), so readings look like a real room.
import math
import os
import time

_MAC = os.getenv("NOWMESH_MAC") or "02:00:00:00:00:01"
_SEED = sum(int(part, 16) for part in _MAC.split(":"))


def _wave(period_s, phase):
    return math.sin(2 * math.pi * time.time() / period_s + phase)


def temperature_c():
    return 17.0 + (_SEED % 70) / 10.0 + 1.5 * _wave(900, _SEED)


def humidity_pct():
    return 40.0 + (_SEED % 200) / 10.0 - 4.0 * _wave(900, _SEED)


def mcu_temperature_c():
    return 38.0 + (_SEED % 8) + 0.5 * _wave(60, _SEED)


def adc_u16(pin):
    return int(32768 + 20000 * _wave(300 + pin, _SEED + pin)) & 0xFFFF


def mac_bytes():
    return bytes(int(part, 16) for part in _MAC.split(":"))
