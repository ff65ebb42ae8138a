"""Test helpers: small ESP images built with esptool's own image classes, and
an in-memory serial port with the emulated ROM loader behind it (the serial
seam esptool's ESPLoader accepts in place of a port name)."""
import os
import random
import tempfile

import esptool.bin_image as bin_image
from esptool.targets import CHIP_DEFS

from nowmesh.emulation.rom import slip
from nowmesh.emulation.rom.flashchip import FlashChip
from nowmesh.emulation.rom.rom import RomLoader
from nowmesh.emulation.rom.server import default_mac


def esp_image(chip, size=20000, seed=1):
    """Bytes of a valid ESP app image for `chip` (header, one segment, checksum, SHA-256)."""
    image = CHIP_DEFS[chip].BOOTLOADER_IMAGE()
    image.entrypoint = 0x40080000
    segment = bin_image.ImageSegment(0x3FFB0000, random.Random(seed).randbytes(size))
    segment.name = ".dram0.data"
    image.segments = [segment]
    image.append_digest = True
    handle, path = tempfile.mkstemp(suffix=".bin")      # esptool's save() takes a file name
    os.close(handle)
    try:
        image.save(path)
        with open(path, "rb") as f:
            return f.read()
    finally:
        os.remove(path)


def write_image(path, chip, **kw):
    data = esp_image(chip, **kw)
    with open(path, "wb") as f:
        f.write(data)
    return data


class FakeSerial:
    """A pyserial-like port whose far end is RomLoader (or a silent/chatty board).

    mode "rom": a chip in download mode; "silent": an app that never answers;
    "repl": MicroPython's REPL answering every line with text.
    """

    def __init__(self, chip, flash_path, mode="rom", flash=None, path="fake://board"):
        self.port = self.name = path
        self.flash = flash or FlashChip(flash_path, 4 << 20)
        self.rom = RomLoader(chip, self.flash, default_mac(flash_path))
        self.rom.console.clear()
        self.mode = mode
        self.baudrate = 115200
        self.timeout = self.write_timeout = None
        self.dtr = self.rts = False
        self._decoder = slip.Decoder()
        self._out = bytearray()
        self.is_open = True

    # pyserial API used by esptool
    def write(self, data):
        if self.mode == "repl":
            self._out += b"\r\n>>> "
        elif self.mode == "rom":
            for packet in self._decoder.feed(data):
                for response in self.rom.handle(packet, self.baudrate):
                    self._out += slip.encode(response)
                self.rom.answered()
        return len(data)

    def read(self, n=1):
        data = bytes(self._out[:n])
        del self._out[:n]
        return data

    def inWaiting(self):
        return len(self._out)

    in_waiting = property(inWaiting)

    def flushInput(self):
        self._out.clear()

    reset_input_buffer = flushInput

    def flushOutput(self):
        pass

    reset_output_buffer = flushOutput

    def setDTR(self, state):
        self.dtr = state

    def setRTS(self, state):
        self.rts = state

    def isOpen(self):
        return self.is_open

    def open(self):
        self.is_open = True

    def close(self):
        self.is_open = False
