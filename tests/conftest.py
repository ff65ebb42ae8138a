import nowmesh.corepath  # noqa: F401  (puts firmware/ and the host shims on sys.path)

# tests/port exercises the ESP32 port with MicroPython-only APIs
# (time.ticks_ms, sys.print_exception): `make test-upy` runs it under micropython.
collect_ignore = ["port"]
