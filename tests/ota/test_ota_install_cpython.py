# tests/port/test_ota_install.py (install, trial, rollback, power cuts) under
# CPython; `make test-upy` runs the same module under micropython.
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
for folder in ("core", "port"):
    path = os.path.join(HERE, "..", folder)
    if path not in sys.path:
        sys.path.insert(0, path)

from test_ota_install import *  # noqa: F401,F403,E402
