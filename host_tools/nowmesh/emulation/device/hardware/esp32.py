# Emulation-only `esp32` module: the chip's internal temperature sensor.
import _simsensors


def mcu_temperature():
    return int(round(_simsensors.mcu_temperature_c()))


def raw_temperature():
    return int(round(_simsensors.mcu_temperature_c() * 1.8 + 32))
