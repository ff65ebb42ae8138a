"""Write MicroPython, or per-node nowmesh images, to boards with esptool's API.

images.py   what to write: ESP image checks, `nowmesh image` folders, port assignment
session.py  one board: open the port, detect the chip, write, verify, reset
fleet.py    many boards in parallel with a progress bar each and a summary
"""
from .fleet import run_jobs
from .images import assign_ports, check_image_for_board, read_image, read_manifest
from .session import CONNECTIONS, FlashJob, flash, open_serial, port_kind

__all__ = ["CONNECTIONS", "FlashJob", "assign_ports", "check_image_for_board", "flash", "open_serial",
           "port_kind", "read_image", "read_manifest", "run_jobs"]
