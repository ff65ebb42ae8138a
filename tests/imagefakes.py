"""Tiny stand-ins for MicroPython ESP32 firmware files, built from the
published formats (ESP-IDF gen_esp32part.py, esp_image_header_t,
esp_app_desc_t) and independently of nowmesh.image's parsers: a bootloader
image header, a partition table at flash 0x8000, an app image whose first
segment starts with an esp_app_desc_t. Nothing is downloaded."""
import hashlib
import struct

CHIP = {"esp32": (0x0000, 0x1000), "esp32s3": (0x0009, 0x0), "esp32c3": (0x0005, 0x0),
        "esp32c6": (0x000D, 0x0)}          # chip id, flash offset of the firmware file
APP, DATA = 0x00, 0x01
# MicroPython's standard 4 MB tables: partitions-4MiB.csv before v1.26 ...
PRE_126 = [("nvs", DATA, 0x02, 0x9000, 0x6000), ("phy_init", DATA, 0x01, 0xF000, 0x1000),
           ("factory", APP, 0x00, 0x10000, 0x1F0000), ("vfs", DATA, 0x81, 0x200000, 0x200000)]
# ... and partitions-4MiBplus.csv from v1.26 (no vfs: the filesystem is the rest of the flash)
POST_126 = [("nvs", DATA, 0x02, 0x9000, 0x6000), ("phy_init", DATA, 0x01, 0xF000, 0x1000),
            ("factory", APP, 0x00, 0x10000, 0x210000)]


def partition_table(entries, md5=True):
    out = b"".join(struct.pack("<2sBBLL16sL", b"\xaa\x50", t, s, off, size, label.encode(), 0)
                   for label, t, s, off, size in entries)
    if md5:
        out += b"\xeb\xeb" + b"\xff" * 14 + hashlib.md5(out).digest()
    return out + b"\xff" * 32


def image_header(chip_id, segments=1):
    # esp_image_header_t: magic, segment count, spi mode, speed/size, entry, wp pin,
    # drive settings, chip id, min rev, min/max rev full, reserved, hash appended
    return struct.pack("<BBBBIB3sHBHH4sB", 0xE9, segments, 2, 0x20, 0x40080000, 0xEE, b"\0\0\0",
                       chip_id, 0, 0, 99, b"\0" * 4, 1)


def app_desc(version, project="micropython", magic=0xABCD5432):
    return struct.pack("<IIII32s32s16s16s32s32s", magic, 0, 0, 0, version.encode(), project.encode(),
                       b"12:00:00", b"Jan  1 2026", b"v5.4.1", bytes(32)) + bytes(256 - 240)


def app_image(chip_id, version, project="micropython", magic=0xABCD5432):
    desc = app_desc(version, project, magic) + b"fake app body " * 64
    return image_header(chip_id) + struct.pack("<II", 0x3F400020, len(desc)) + desc


def firmware(chip="esp32", version="v1.26.0", table=POST_126, md5=True, app_chip=None, **desc):
    chip_id, offset = CHIP[chip]
    app_offset = next(e[3] for e in table if e[1] == APP)
    app = app_image(CHIP[app_chip][0] if app_chip else chip_id, version, **desc)
    data = bytearray(b"\xff" * (app_offset - offset + len(app)))
    bootloader = image_header(chip_id, segments=3) + b"fake second-stage bootloader" * 32
    data[:len(bootloader)] = bootloader
    tab = partition_table(table, md5)
    data[0x8000 - offset:0x8000 - offset + len(tab)] = tab
    data[app_offset - offset:] = app
    return bytes(data)
