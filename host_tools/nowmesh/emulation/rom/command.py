"""`nowmesh emulate --bootloader CHIP`: one emulated chip in ROM download mode
on a pty, backed by a flash file, until Ctrl-C. Kept apart from the mesh
emulation's code path in commands/emulate.py, which only delegates here."""
import os
import signal
import tempfile
import time

from nowmesh.errors import InputError

from .chips import CHIPS
from .flashchip import parse_size
from .server import BootloaderPort

ESPTOOL_HINT = "python -m esptool --port {port} --no-stub --before no-reset --after no-reset"


def add_arguments(p):
    g = p.add_argument_group("emulated ROM bootloader (instead of a mesh)")
    g.add_argument("--bootloader", metavar="CHIP", choices=sorted(CHIPS),
                   help="serve one chip's ROM serial loader on a pty: %s" % ", ".join(sorted(CHIPS)))
    g.add_argument("--flash-size", default="4MB", metavar="SIZE", help="flash size (default %(default)s)")
    g.add_argument("--flash-file", metavar="FILE",
                   help="raw flash contents (created 0xFF-filled if missing; default: a new temp file)")


def run(args):
    try:
        size = parse_size(args.flash_size)
    except ValueError as e:
        raise InputError("command line", "--flash-size", str(e)) from None
    path = args.flash_file or os.path.join(tempfile.mkdtemp(prefix="nowmesh-rom-"), "flash.bin")
    try:
        board = BootloaderPort(args.bootloader, path, size)
    except (ValueError, OSError) as e:
        raise InputError(path, "", str(e)) from None
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with board:
        print("%s ROM bootloader on %s (flash %s, %s); Ctrl-C stops" % (
            args.bootloader, board.port, args.flash_size.upper(), path), flush=True)
        print("  " + ESPTOOL_HINT.format(port=board.port) + " flash-id", flush=True)
        try:
            while True:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0
