"""One emulated ESP32-family chip held in ROM download mode on a pty, backed by
a flash file, until Ctrl-C: esptool and `nowmesh flash` write to it as to a
board in download mode (docs/rom-bootloader.md).

Examples:
  nowmesh rom esp32                                       # prints the port: /dev/pts/N
  nowmesh rom esp32s3 --flash-size 8MB --flash-file /tmp/s3.bin
  nowmesh flash /dev/pts/N --board esp32-devkitc --firmware ESP32_GENERIC-v1.26.1.bin
  python -m esptool --port /dev/pts/N --no-stub --before no-reset --after no-reset flash-id
(`nowmesh emulate --bootloader CHIP` is the old spelling of `nowmesh rom CHIP`.)
"""
import os
import signal
import tempfile
import time

from nowmesh.emulation.rom import CHIPS, BootloaderPort, parse_size
from nowmesh.errors import InputError

ESPTOOL_HINT = "python -m esptool --port {port} --no-stub --before no-reset --after no-reset"


def add_flash_options(p):
    p.add_argument("--flash-size", default="4MB", metavar="SIZE", help="flash size (default %(default)s)")
    p.add_argument("--flash-file", metavar="FILE",
                   help="raw flash contents (created 0xFF-filled if missing; default: a new temp file)")


def add_arguments(p):
    p.add_argument("chip", metavar="CHIP", choices=sorted(CHIPS),
                   help="the chip whose ROM serial loader to serve: %s" % ", ".join(sorted(CHIPS)))
    add_flash_options(p)


def run(args):
    return serve(args.chip, args.flash_size, args.flash_file)


def serve(chip, flash_size, flash_file=None):
    """Serve `chip`'s ROM loader on a new pty until Ctrl-C or SIGTERM; exit code."""
    try:
        size = parse_size(flash_size)
    except ValueError as e:
        raise InputError("command line", "--flash-size", str(e)) from None
    path = flash_file or os.path.join(tempfile.mkdtemp(prefix="nowmesh-rom-"), "flash.bin")
    try:
        board = BootloaderPort(chip, path, size)
    except (ValueError, OSError) as e:
        raise InputError(path, "", str(e)) from None
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with board:
        print("%s ROM bootloader on %s (flash %s, %s); Ctrl-C stops" % (
            chip, board.port, flash_size.upper(), path), flush=True)
        print("  " + ESPTOOL_HINT.format(port=board.port) + " flash-id", flush=True)
        try:
            while True:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
    return 0
