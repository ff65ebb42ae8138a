"""The explicit loader of the firmware's mesh core for CPython.

The core lives in the bundled firmware tree (firmware/mesh/, what a board
gets) and imports itself as the top-level package `mesh`, with MicroPython's
`micropython.const` and `cryptolib`. A host process that runs core code (the
simulator, capture decoding, config validation) calls load() once: it puts
the firmware tree and the host's stand-ins (nowmesh/upyshim) on sys.path.
Nothing happens on import: a process that never calls load() (ports,
console, query, monitor, deploy without config checks) never gets `mesh`,
`meshport`, `micropython` or `cryptolib` as top-level modules.
"""
import os
import sys

from nowmesh.bundle.tree import firmware_dir

SHIM_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "upyshim")


def load():
    """Make `mesh` (and `meshport`) importable in this process; idempotent.
    -> the firmware folder now on sys.path."""
    firmware = firmware_dir()
    for path in (SHIM_DIR, firmware):
        if path not in sys.path:
            sys.path.insert(0, path)
    return firmware
