"""Where the filesystem lives for a given firmware (nowmesh.image.firmware +
layout), on small fake firmware files built by imagefakes."""
import pytest

from imagefakes import APP, DATA, POST_126, PRE_126, firmware
from nowmesh.image.firmware import Firmware, FirmwareError, parse_version
from nowmesh.image.layout import LayoutError, find_fs_region, parse_flash_size

MB = 1 << 20


def parse(chip="esp32", offset=0x1000, **kw):
    return Firmware(firmware(chip=chip, **kw), offset, chip)


def test_firmware_facts_come_from_the_app_description():
    fw = parse(version="v1.26.1")
    assert fw.version == "v1.26.1" and fw.version_tuple == (1, 26, 1, False)
    assert fw.desc["project_name"] == "micropython" and fw.desc["idf_ver"] == "v5.4.1"
    assert fw.app.label == "factory"


@pytest.mark.parametrize("text, parsed", [
    ("v1.25.0", (1, 25, 0, False)), ("v1.27.0-preview-45-g1a2b3c", (1, 27, 0, True)),
    ("1.26", (1, 26, 0, False)), ("1", None), ("", None), ("custom", None)])
def test_version_strings(text, parsed):
    assert parse_version(text) == parsed


def test_before_1_26_the_vfs_partition_is_the_filesystem():
    region = find_fs_region(parse(version="v1.25.0", table=PRE_126), 4 * MB)
    assert (region.offset, region.size, region.block_count) == (0x200000, 0x200000, 512)
    assert "'vfs'" in region.rule


@pytest.mark.parametrize("flash_size", [4 * MB, 8 * MB, 16 * MB])
def test_from_1_26_the_filesystem_is_the_rest_of_the_flash(flash_size):
    region = find_fs_region(parse(version="v1.26.0", table=POST_126), flash_size)
    assert region.offset == 0x220000                     # factory 0x10000 + 0x210000
    assert region.end == flash_size
    assert region.block_count == (flash_size - 0x220000) // 4096


def test_a_vfs_partition_wins_on_1_26_too():
    region = find_fs_region(parse(version="v1.27.0", table=PRE_126), 8 * MB)
    assert (region.offset, region.size) == (0x200000, 0x200000)


def test_s3_firmware_starts_at_0():
    fw = parse(chip="esp32s3", offset=0x0, version="v1.26.0")
    assert fw.flash_offset == 0 and find_fs_region(fw, 8 * MB).offset == 0x220000


@pytest.mark.parametrize("kw, flash, message", [
    (dict(version="v1.25.0", table=POST_126), 4 * MB, "before v1.26 MicroPython has no filesystem"),
    (dict(version="v1.26.0-preview-3-gabc", table=POST_126), 4 * MB, "preview"),
    (dict(version="1", table=POST_126), 4 * MB, "not a MicroPython version"),
    (dict(version="v1.18", table=PRE_126), 4 * MB, "needs v1.19"),
    (dict(version="v1.26.0", table=POST_126), 2 * MB, "no room for a filesystem"),
    (dict(version="v1.25.0", table=PRE_126), 2 * MB, "past the end of a 2MB flash"),
    (dict(version="v1.26.0", table=POST_126[:2] + [("factory", APP, 0, 0x10000, 0x1F0000),
                                                     ("ffat", DATA, 0x81, 0x200000, 0x200000)]),
     4 * MB, "TinyUF2"),
    (dict(version="v1.25.0", table=POST_126[:3] + [("vfs", DATA, 0x81, 0x3FF000, 0x1000)]),
     4 * MB, "at least 2 blocks"),
])
def test_unknown_or_impossible_layouts_are_refused(kw, flash, message):
    with pytest.raises(LayoutError, match=message):
        find_fs_region(parse(**kw), flash)


def test_firmware_running_into_the_filesystem_is_refused():
    table = POST_126[:2] + [("factory", APP, 0, 0x10000, 0x10000), ("vfs", DATA, 0x81, 0x20000, 0x10000)]
    data = firmware(version="v1.25.0", table=table) + b"\x00" * 0x20000      # app spills past 0x20000
    with pytest.raises(LayoutError, match="runs into the filesystem"):
        find_fs_region(Firmware(data, 0x1000, "esp32"), 4 * MB)


@pytest.mark.parametrize("chip, offset, kw, message", [
    ("esp32", 0x0, {}, "no bootloader image"),                      # esp32 file, s3-style offset
    ("esp32", 0x1000, dict(app_chip="esp32s3"), "app image is for esp32s3"),
    ("esp32", 0x1000, dict(magic=0x12345678), "no esp_app_desc_t"),
    ("esp32", 0x1000, dict(project="blink"), "not MicroPython"),
])
def test_files_that_are_not_this_boards_micropython_are_refused(chip, offset, kw, message):
    data = firmware(chip=chip, **kw)
    if offset == 0x0:
        data = b"\xff" * 0x1000 + data                                  # as if merged from 0x0
    with pytest.raises(FirmwareError, match=message):
        Firmware(data, offset, chip)


def test_a_file_for_another_chip_is_refused():
    with pytest.raises(FirmwareError, match="bootloader image is for esp32s3"):
        Firmware(firmware(chip="esp32s3"), 0x0, "esp32c3")


def test_truncated_files_are_refused():
    data = firmware()
    with pytest.raises(FirmwareError, match="before the partition table"):
        Firmware(data[:0x4000], 0x1000, "esp32")
    with pytest.raises(FirmwareError, match="before the app image"):
        Firmware(data[:0xF000], 0x1000, "esp32")


@pytest.mark.parametrize("text, size", [("4MB", 4 * MB), ("8m", 8 * MB), ("16MB", 16 * MB)])
def test_flash_sizes(text, size):
    assert parse_flash_size(text) == size


def test_bad_flash_size():
    with pytest.raises(ValueError, match="one of"):
        parse_flash_size("3MB")
