# Emulation-only `esp32` module: the chip's internal temperature sensor, and
# the flash partition that MicroPython's frozen _boot.py finds (flashbdev).
import os

import _simsensors

_VFS_OFFSET = 0x200000        # ports/esp32/partitions-4MiB.csv: vfs at 0x200000 to the end


def mcu_temperature():
    return int(round(_simsensors.mcu_temperature_c()))


def raw_temperature():
    return int(round(_simsensors.mcu_temperature_c() * 1.8 + 32))


class Partition:
    """The "vfs" data partition's identity (find, info, ioctl block geometry).

    The emulated board's filesystem is a host folder mounted as "/", not
    blocks in a flash file, so the block reads and writes are not emulated."""
    BOOT = 0
    RUNNING = 1
    TYPE_APP = 0
    TYPE_DATA = 1
    _BLOCK = 4096

    def __init__(self, label):
        if label != "vfs":
            raise ValueError("partition not found")
        flash = int(os.getenv("NOWMESH_FLASH_SIZE") or 4 * 1024 * 1024)
        self._info = (self.TYPE_DATA, 0x81, _VFS_OFFSET, max(0, flash - _VFS_OFFSET), "vfs", False)

    @classmethod
    def find(cls, type=TYPE_APP, subtype=0xFF, label=None, block_size=4096):
        if type == cls.TYPE_DATA and label in (None, "vfs"):
            return [cls("vfs")]
        return []

    def info(self):
        return self._info

    def ioctl(self, op, arg):
        if op == 4:                   # block count
            return self._info[3] // self._BLOCK
        if op == 5:                   # block size
            return self._BLOCK
        return None

    def readblocks(self, block, buf, offset=0):
        raise OSError(19)             # ENODEV: see the class docstring

    writeblocks = readblocks

    def __repr__(self):
        t, s, a, size, label, enc = self._info
        return "<Partition type=%d, subtype=%d, address=%d, size=%d, label=%s, encrypted=%d>" % (
            t, s, a, size, label, enc)
