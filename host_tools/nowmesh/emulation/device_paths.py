"""Where the modules that run inside an emulated board's `micropython` live.

`device/` is not a host package: its folders go on the interpreter's
MICROPYPATH (or are run by it) and replace the ESP32's built-in modules.
"""
import os

DEVICE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "device")
RADIO_DIR = os.path.join(DEVICE_DIR, "radio")         # espnow, aioespnow, network, the medium link
HARDWARE_DIR = os.path.join(DEVICE_DIR, "hardware")   # machine, esp32, dht, neopixel, simulated sensors
REPL_DIR = os.path.join(DEVICE_DIR, "repl")           # the REPL shim the pty board runs
FSBOOT_DIR = os.path.join(DEVICE_DIR, "fsboot")       # boot from a flash image's filesystem
