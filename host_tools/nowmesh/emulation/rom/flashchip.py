"""The SPI NOR flash behind the emulated ROM, kept in a plain file: raw flash
bytes, file size = flash size, erased bytes are 0xFF. Other tools (the
emulated board booting from flash, `nowmesh image`) read the same file.

NOR rules are kept: an erase sets whole 4 KB sectors to 0xFF, and a program
can only clear bits (new = old AND data), so writing without erasing first
corrupts data exactly as on a real chip.
"""
import hashlib
import mmap
import os

SECTOR = 0x1000
SIZES = {"1MB": 1 << 20, "2MB": 2 << 20, "4MB": 4 << 20, "8MB": 8 << 20, "16MB": 16 << 20,
         "32MB": 32 << 20}
# JEDEC RDID capacity byte for each size (2^n bytes), as esptool's DETECTED_FLASH_SIZES reads it.
_CAPACITY_ID = {size: size.bit_length() - 1 for size in SIZES.values()}
WINBOND, W25Q_TYPE = 0xEF, 0x40
SFDP_SIGNATURE = b"SFDP"


def parse_size(text):
    """'4MB' -> 4194304; raises ValueError naming the sizes it knows."""
    key = str(text).upper()
    if key not in SIZES:
        raise ValueError("flash size must be one of %s, got %r" % (", ".join(SIZES), text))
    return SIZES[key]


class FlashChip:
    """A flash file mapped into memory; writes are visible to other readers of the file."""

    def __init__(self, path, size):
        self.path = path
        self.size = size
        self._file = _open_flash_file(path, size)
        self._map = mmap.mmap(self._file.fileno(), size)

    def close(self):
        if self._map is not None:
            self._map.flush()
            self._map.close()
            self._file.close()
            self._map = None

    @property
    def jedec_id(self):
        """RDID answer as the 24 bits land in the SPI W0 register (manufacturer first)."""
        return WINBOND | (W25Q_TYPE << 8) | (_CAPACITY_ID[self.size] << 16)

    def contains(self, offset, length):
        return 0 <= offset and length >= 0 and offset + length <= self.size

    def erase(self, offset, length):
        """Erase every sector touched by [offset, offset+length)."""
        start = offset - offset % SECTOR
        end = min(self.size, -(-(offset + length) // SECTOR) * SECTOR)
        if end > start:
            self._map[start:end] = b"\xff" * (end - start)

    def program(self, offset, data):
        n = len(data)
        old = int.from_bytes(self._map[offset:offset + n], "little")
        self._map[offset:offset + n] = (old & int.from_bytes(data, "little")).to_bytes(n, "little")

    def read(self, offset, length):
        return bytes(self._map[offset:offset + length])

    def md5(self, offset, length):
        return hashlib.md5(self._map[offset:offset + length]).hexdigest()

    def sfdp(self, address, nbytes):
        """SFDP table: only the signature (enough for esptool's connection check)."""
        table = SFDP_SIGNATURE + bytes(60)
        return int.from_bytes(table[address:address + nbytes].ljust(nbytes, b"\xff"), "little")


def _open_flash_file(path, size):
    """Open (or create, erased) a flash file that must be exactly `size` bytes."""
    try:
        handle = open(path, "r+b")
    except FileNotFoundError:
        with open(path, "wb") as out:
            chunk = b"\xff" * (1 << 20)
            for _ in range(0, size, len(chunk)):
                out.write(chunk[:min(len(chunk), size - out.tell())])
        handle = open(path, "r+b")
    actual = os.fstat(handle.fileno()).st_size
    if actual != size:
        handle.close()
        raise ValueError("flash file %s holds %d bytes, not the flash size %d: "
                         "use a matching --flash-size or a new file" % (path, actual, size))
    return handle
