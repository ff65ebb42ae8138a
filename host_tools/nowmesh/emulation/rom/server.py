"""Serve an emulated ROM loader on a pseudo-terminal, like a board held in
download mode behind a USB-serial bridge.

A pty has no DTR/RTS lines, so esptool cannot reset the chip into the loader:
the emulated chip simply is in download mode from the start (BOOT held). Use
esptool's `--before no-reset --after no-reset` (its default reset only warns
on a pty). The baud rate is emulated: the ROM locks to the rate of the SYNC
packet and after CHANGE_BAUDRATE only understands the new rate, so a host
that forgets to switch gets no answers, as with a real UART. A new SYNC is
heard at any rate (it stands in for the reset a real session starts with).
"""
import errno
import hashlib
import os
import pty
import select
import termios
import threading
import tty

from . import slip
from .flashchip import FlashChip
from .rom import RomLoader

_SPEEDS = {getattr(termios, "B%d" % b): b for b in (
    9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000,
    1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000) if hasattr(termios, "B%d" % b)}


def default_mac(flash_path):
    """A stable per-board MAC: Espressif's OUI and 3 bytes from the flash file's path."""
    digest = hashlib.sha256(os.path.abspath(flash_path).encode()).digest()
    return bytes((0x24, 0x0A, 0xC4)) + digest[:3]


class BootloaderPort:
    """An emulated chip in download mode: `port` is the path esptool opens.

    with BootloaderPort("esp32", "/tmp/flash.bin", flash_size=4 << 20) as board:
        subprocess.run(["esptool", "--port", board.port, "--no-stub", ...])
    """

    def __init__(self, chip, flash_path, flash_size=4 << 20, mac=None, on_run=None):
        self.chip = chip
        self.flash = FlashChip(flash_path, flash_size)
        self.rom = RomLoader(chip, self.flash, mac or default_mac(flash_path), on_run=on_run)
        self.port = None
        self._master = self._slave = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = None
        self._decoder = slip.Decoder()

    def start(self):
        self._master, self._slave = pty.openpty()
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)
        self.port = os.ttyname(self._slave)
        self._thread = threading.Thread(target=self._serve, name="rom %s" % self.port, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        self.flash.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def reset(self):
        """Press EN with BOOT held: back in download mode, baud rate forgotten."""
        with self._lock:
            self.rom.reset()
            self._decoder.reset()
        self._flush_console()

    @property
    def events(self):
        return list(self.rom.events)

    # --- the serving thread ----------------------------------------------------
    def _host_baud(self):
        try:
            return _SPEEDS.get(termios.tcgetattr(self._slave)[5])
        except termios.error:
            return None

    def _serve(self):
        self._flush_console()
        while not self._stop.is_set():
            ready, _, _ = select.select([self._master], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(self._master, 65536)
            except BlockingIOError:
                continue
            except OSError as e:
                if e.errno == errno.EIO:
                    continue                      # no host has the port open
                raise
            self._receive(data)

    def _receive(self, data):
        host_baud = self._host_baud()
        with self._lock:
            for packet in self._decoder.feed(data):
                self._write(b"".join(slip.encode(r) for r in self.rom.handle(packet, host_baud)))
                self.rom.answered()
        self._flush_console()

    def _flush_console(self):
        with self._lock:
            text, self.rom.console = bytes(self.rom.console), bytearray()
        if text:
            self._write(text)

    def _write(self, data):
        view = memoryview(data)
        while view:
            try:
                view = view[os.write(self._master, view):]
            except BlockingIOError:
                select.select([], [self._master], [], 0.1)
                if self._stop.is_set():
                    return
            except OSError:
                return
