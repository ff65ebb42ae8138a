"""What a MicroPython firmware file for ESP32 says about itself.

A `micropython.bin` from micropython.org/download is a merged image meant to
be written at the chip's bootloader offset (0x1000 on esp32/esp32s2, 0x0 on
the others): second-stage bootloader, partition table at flash 0x8000, app at
its partition's offset. The app image starts with esp_image_header_t (magic
0xE9, 24 bytes) and its first segment (8-byte header) starts with
esp_app_desc_t (magic 0xABCD5432): version, project name, build time, IDF
version (ESP-IDF esp_app_format.h / esp_app_desc.h).
"""
import re
import struct

from . import partitions

IMAGE_MAGIC = 0xE9
IMAGE_HEADER_LEN = 24           # esp_image_header_t
SEGMENT_HEADER_LEN = 8          # esp_image_segment_header_t
APP_DESC_MAGIC = 0xABCD5432
APP_DESC = struct.Struct("<IIII32s32s16s16s32s32s")
# esp_image_header_t.chip_id (esp_chip_id_t) per esptool chip name
CHIP_IDS = {"esp32": 0x0000, "esp32s2": 0x0002, "esp32c3": 0x0005, "esp32s3": 0x0009,
            "esp32c2": 0x000C, "esp32c6": 0x000D, "esp32h2": 0x0010, "esp32p4": 0x0012}
CHIP_NAMES = {v: k for k, v in CHIP_IDS.items()}
VERSION_RE = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?(-preview)?")


class FirmwareError(ValueError):
    """The file is not a firmware image this tool can be sure about."""


class Firmware:
    """A parsed firmware file: data, the offset it is written at, its
    partition table, the app partition and the app's description."""

    def __init__(self, data, flash_offset, chip, source="firmware"):
        self.data = bytes(data)
        self.flash_offset = flash_offset
        self.chip = chip
        self.source = source
        self._check_bootloader()
        self.partitions = self._read_table()
        self.app = self._app_partition()
        self.desc = self._read_app_desc()
        self.version = self.desc["version"]
        self.version_tuple = parse_version(self.version)

    @property
    def end(self):
        """Flash address just past the file's last byte."""
        return self.flash_offset + len(self.data)

    def at(self, address, length):
        """The file's bytes at a flash address (short or empty past its end)."""
        start = address - self.flash_offset
        return self.data[start:start + length] if start >= 0 else b""

    def _check_bootloader(self):
        if not self.data or self.data[0] != IMAGE_MAGIC:
            raise FirmwareError(
                "no bootloader image at the start of the file (first byte %s, want 0xe9); "
                "%s firmware files start at flash %#x"
                % ("0x%02x" % self.data[0] if self.data else "missing", self.chip, self.flash_offset))
        self._check_chip(self.data, "bootloader")

    def _check_chip(self, header, what):
        if len(header) < IMAGE_HEADER_LEN:
            raise FirmwareError("%s image header is truncated" % what)
        chip_id = struct.unpack_from("<H", header, 12)[0]
        if chip_id != CHIP_IDS[self.chip]:
            raise FirmwareError("%s image is for %s (chip id %#x), the board is %s"
                                % (what, CHIP_NAMES.get(chip_id, "an unknown chip"), chip_id, self.chip))

    def _read_table(self):
        table = self.at(partitions.TABLE_OFFSET, partitions.TABLE_MAX)
        if len(table) < partitions.ENTRY.size:
            raise FirmwareError("file ends before the partition table at %#x" % partitions.TABLE_OFFSET)
        try:
            return partitions.parse_table(table)
        except partitions.TableError as e:
            raise FirmwareError("partition table at %#x: %s" % (partitions.TABLE_OFFSET, e)) from None

    def _app_partition(self):
        """The partition the bootloader starts: factory, else ota_0 (a fresh otadata)."""
        for subtype in (0x00, 0x10):
            part = partitions.find(self.partitions, type_=partitions.TYPE_APP, subtype=subtype)
            if part is not None:
                return part
        raise FirmwareError("the partition table has no factory or ota_0 app partition")

    def _read_app_desc(self):
        header = self.at(self.app.offset, IMAGE_HEADER_LEN + SEGMENT_HEADER_LEN + APP_DESC.size)
        if len(header) < IMAGE_HEADER_LEN + SEGMENT_HEADER_LEN + APP_DESC.size:
            raise FirmwareError("file ends before the app image at %#x (partition %r)"
                                % (self.app.offset, self.app.label))
        if header[0] != IMAGE_MAGIC:
            raise FirmwareError("no app image at %#x (partition %r): first byte 0x%02x, want 0xe9"
                                % (self.app.offset, self.app.label, header[0]))
        self._check_chip(header, "app")
        fields = APP_DESC.unpack_from(header, IMAGE_HEADER_LEN + SEGMENT_HEADER_LEN)
        if fields[0] != APP_DESC_MAGIC:
            raise FirmwareError("the app image has no esp_app_desc_t (magic %#010x, want 0xabcd5432): "
                                "cannot tell which firmware this is" % fields[0])
        desc = {"version": _text(fields[4]), "project_name": _text(fields[5]),
                "time": _text(fields[6]), "date": _text(fields[7]), "idf_ver": _text(fields[8])}
        if desc["project_name"] != "micropython":
            raise FirmwareError("the app is %r, not MicroPython (esp_app_desc_t project_name)"
                                % desc["project_name"])
        return desc

    def describe(self):
        return {"version": self.version, "idf_ver": self.desc["idf_ver"], "size": len(self.data),
                "flash_offset": self.flash_offset, "app_partition": self.app.label,
                "partitions": [p.describe() for p in self.partitions]}


def _text(raw):
    return raw.split(b"\x00")[0].decode("ascii", "replace")


def parse_version(text):
    """"v1.26.0" -> (1, 26, 0, False); "v1.27.0-preview-12-gabc" -> (1, 27, 0, True); else None.

    ESP-IDF fills esp_app_desc_t.version from `git describe` of the MicroPython
    tree (MicroPython sets no PROJECT_VER), so it is a MicroPython tag."""
    m = VERSION_RE.match(text or "")
    if not m:
        return None
    return (int(m.group(1)), int(m.group(2)), int(m.group(3) or 0), bool(m.group(4)))
