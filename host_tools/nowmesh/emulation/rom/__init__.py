"""An emulated ESP32-family ROM serial bootloader (docs/rom-bootloader.md).

Unmodified esptool (`--no-stub --before no-reset --after no-reset`) flashes,
verifies and reads a flash file through a pty as if it were a board in
download mode.
"""
from .chips import CHIPS
from .flashchip import SIZES, FlashChip, parse_size
from .rom import RomLoader
from .server import BootloaderPort, default_mac

__all__ = ["BootloaderPort", "CHIPS", "FlashChip", "RomLoader", "SIZES", "default_mac", "parse_size"]
