"""Make the firmware's mesh core importable from CPython.

The core lives in `firmware/mesh/` (it is what gets copied to a board). On the
host it is imported as the top-level package `mesh`, with small stand-ins for
the MicroPython-only modules it uses (`micropython.const`, `cryptolib`).
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(os.path.dirname(HERE))
FIRMWARE_DIR = os.path.join(REPO_ROOT, "firmware")
SHIM_DIR = os.path.join(HERE, "upyshim")


def ensure_core_importable():
    """Put the firmware folder and the host shims on sys.path (idempotent)."""
    for path in (SHIM_DIR, FIRMWARE_DIR):
        if path not in sys.path:
            sys.path.insert(0, path)


ensure_core_importable()
