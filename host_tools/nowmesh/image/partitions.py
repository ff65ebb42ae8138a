"""The ESP-IDF partition table, binary form (what sits at flash 0x8000).

Format (ESP-IDF components/partition_table/gen_esp32part.py, and the
bootloader's esp_partition_table_verify): 32-byte entries
``<2sBBLL16sL`` = magic b"\\xaa\\x50", type, subtype, offset, size, label
(NUL-padded), flags; optionally one MD5 entry, b"\\xeb\\xeb" + 14 x 0xFF + the
MD5 of every entry before it; then 0xFF bytes. At most 0xC00 bytes.
"""
import hashlib
import struct

TABLE_OFFSET = 0x8000          # CONFIG_PARTITION_TABLE_OFFSET default, MicroPython's too
TABLE_MAX = 0xC00              # gen_esp32part.py MAX_PARTITION_LENGTH
ENTRY = struct.Struct("<2sBBLL16sL")
ENTRY_MAGIC = b"\xaa\x50"
MD5_MAGIC = b"\xeb\xeb"
TYPE_APP, TYPE_DATA = 0x00, 0x01
SUBTYPES = {
    TYPE_APP: {0x00: "factory", 0x20: "test", **{0x10 + i: "ota_%d" % i for i in range(16)}},
    TYPE_DATA: {0x00: "ota", 0x01: "phy", 0x02: "nvs", 0x03: "coredump", 0x04: "nvs_keys",
                0x05: "efuse", 0x06: "undefined", 0x80: "esphttpd", 0x81: "fat", 0x82: "spiffs",
                0x83: "littlefs"},
}
TYPE_NAMES = {TYPE_APP: "app", TYPE_DATA: "data"}
DATA_ALIGN, APP_ALIGN = 0x1000, 0x10000    # gen_esp32part.py alignment rules


class TableError(ValueError):
    """The bytes are not a valid partition table; the message says where."""


class Partition:
    def __init__(self, label, type_, subtype, offset, size, flags=0):
        self.label = label
        self.type = type_
        self.subtype = subtype
        self.offset = offset
        self.size = size
        self.flags = flags

    @property
    def end(self):
        return self.offset + self.size

    @property
    def type_name(self):
        return TYPE_NAMES.get(self.type, "0x%02x" % self.type)

    @property
    def subtype_name(self):
        return SUBTYPES.get(self.type, {}).get(self.subtype, "0x%02x" % self.subtype)

    def describe(self):
        return {"label": self.label, "type": self.type_name, "subtype": self.subtype_name,
                "offset": self.offset, "size": self.size}

    def __repr__(self):
        return "Partition(%r, %s/%s, %#x+%#x)" % (self.label, self.type_name, self.subtype_name,
                                                  self.offset, self.size)


def parse_table(data):
    """Bytes starting at the table -> [Partition]. Raises TableError.

    The MD5 entry, when present, must match (as the ESP-IDF bootloader checks);
    entries must be aligned, must not overlap, and must lie after the table."""
    data = bytes(data[:TABLE_MAX])
    parts = []
    for index in range(len(data) // ENTRY.size):
        raw = data[index * ENTRY.size:(index + 1) * ENTRY.size]
        if raw[:4] == b"\xff" * 4:          # the bootloader's end test: magic, type, subtype 0xFF
            break
        if raw[:2] == MD5_MAGIC:
            _check_md5(raw, data[:index * ENTRY.size], index)
            continue
        parts.append(_entry(raw, index))
    else:
        raise TableError("no end marker (0xFF entry) within %d bytes" % TABLE_MAX)
    if not parts:
        raise TableError("no partition entries at %#x (erased or not a partition table)" % TABLE_OFFSET)
    _check_layout(parts)
    return parts


def _entry(raw, index):
    magic, type_, subtype, offset, size, label, flags = ENTRY.unpack(raw)
    if magic != ENTRY_MAGIC:
        raise TableError("entry %d: invalid magic number %s (want aa50, ebeb or ffff)" % (index, magic.hex()))
    name = label.split(b"\x00")[0]
    try:
        text = name.decode("ascii")
    except UnicodeDecodeError:
        raise TableError("entry %d: label is not ASCII" % index) from None
    return Partition(text, type_, subtype, offset, size, flags)


def _check_md5(raw, before, index):
    if raw[2:16] != b"\xff" * 14:
        raise TableError("entry %d: malformed MD5 entry" % index)
    if hashlib.md5(before).digest() != raw[16:32]:
        raise TableError("MD5 mismatch: the table's checksum entry does not match its %d entries"
                         % index)


def _check_layout(parts):
    ordered = sorted(parts, key=lambda p: p.offset)
    for part in ordered:
        align = APP_ALIGN if part.type == TYPE_APP else DATA_ALIGN
        if part.offset % align:
            raise TableError("partition %r at %#x is not aligned to %#x" % (part.label, part.offset, align))
        if part.offset < TABLE_OFFSET + TABLE_MAX:
            raise TableError("partition %r at %#x overlaps the partition table" % (part.label, part.offset))
        if part.size <= 0:
            raise TableError("partition %r has size 0" % part.label)
    for a, b in zip(ordered, ordered[1:]):
        if b.offset < a.end:
            raise TableError("partitions %r and %r overlap" % (a.label, b.label))


def find(parts, type_=None, label=None, subtype=None):
    """The first partition matching all given fields, or None (esp_partition_find_first)."""
    for part in parts:
        if ((type_ is None or part.type == type_) and (label is None or part.label == label)
                and (subtype is None or part.subtype == subtype)):
            return part
    return None
