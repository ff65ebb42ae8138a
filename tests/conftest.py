from nowmesh.bundle import core

core.load()     # the core's tests import the firmware's `mesh` (and the host shims) directly

# tests/port exercises the ESP32 port with MicroPython-only APIs
# (time.ticks_ms, sys.print_exception): `make test-upy` runs it under micropython.
collect_ignore = ["port"]
