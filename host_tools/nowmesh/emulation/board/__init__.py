"""Emulated boards: a flash directory plus a pty that behaves like a MicroPython
board's USB serial port (docs/emulated-node.md)."""
from .pty_board import (EXIT_HARD_RESET, EXIT_SOFT_FRIENDLY, EXIT_SOFT_RAW, SHIM, EmulatedBoard,
                    default_micropython)

__all__ = ["EmulatedBoard", "EXIT_HARD_RESET", "EXIT_SOFT_FRIENDLY", "EXIT_SOFT_RAW", "SHIM",
           "default_micropython"]
