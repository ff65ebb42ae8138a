# nowmesh mesh core (sans-I/O). Runs on MicroPython and CPython.
# Import submodules directly (mesh.node, mesh.wire, ...): keeping this file
# empty keeps RAM use down on boards that only need part of the core.
PROTOCOL_VERSION = 1
