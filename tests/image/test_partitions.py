"""Partition tables as ESP-IDF writes them, built here from the format
(imagefakes), parsed by nowmesh.image.partitions."""
import hashlib

import pytest

from imagefakes import APP, DATA, POST_126, PRE_126, partition_table
from nowmesh.image.partitions import TableError, find, parse_table


def rows(parts):
    return [(p.label, p.type, p.subtype, p.offset, p.size) for p in parts]


@pytest.mark.parametrize("table", [PRE_126, POST_126], ids=["v1.25-with-vfs", "v1.26-without-vfs"])
@pytest.mark.parametrize("md5", [True, False], ids=["md5", "no-md5"])
def test_standard_micropython_tables_parse(table, md5):
    parts = parse_table(partition_table(table, md5=md5))
    assert rows(parts) == table


def test_find_by_type_and_label():
    parts = parse_table(partition_table(PRE_126))
    assert find(parts, type_=DATA, label="vfs").offset == 0x200000
    assert find(parts, type_=APP, subtype=0x00).label == "factory"
    assert find(parts, type_=APP, label="vfs") is None
    assert find(parse_table(partition_table(POST_126)), type_=DATA, label="vfs") is None


def test_subtype_and_type_names():
    vfs = find(parse_table(partition_table(PRE_126)), label="vfs")
    assert (vfs.type_name, vfs.subtype_name) == ("data", "fat")
    assert vfs.describe() == {"label": "vfs", "type": "data", "subtype": "fat",
                              "offset": 0x200000, "size": 0x200000}


def test_md5_mismatch_is_refused():
    raw = bytearray(partition_table(PRE_126))
    raw[4 * 32 + 20] ^= 0x01                 # one bit of the MD5 entry's digest
    with pytest.raises(TableError, match="MD5 mismatch"):
        parse_table(raw)


def test_an_entry_changed_under_its_md5_is_refused():
    raw = bytearray(partition_table(PRE_126))
    raw[3 * 32 + 12] ^= 0x10                 # the vfs partition's size, md5 left as it was
    with pytest.raises(TableError, match="MD5 mismatch"):
        parse_table(raw)


def test_md5_entry_covers_exactly_the_entries_before_it():
    entries = partition_table(PRE_126, md5=False)[:-32]
    digest = hashlib.md5(entries).digest()
    table = entries + b"\xeb\xeb" + b"\xff" * 14 + digest + b"\xff" * 32
    assert len(parse_table(table)) == 4


@pytest.mark.parametrize("damage, message", [
    (lambda t: b"\x00\x00" + t[2:], "invalid magic"),
    (lambda t: t[:32] + b"\x12\x34" + t[34:], "entry 1: invalid magic"),
    (lambda t: b"\xff" * 0xC00, "no partition entries"),
    (lambda t: t[:-32] + b"\x00" * 32, "invalid magic"),
], ids=["first-entry", "second-entry", "erased", "no-end-marker"])
def test_corrupt_tables_are_refused(damage, message):
    with pytest.raises(TableError, match=message):
        parse_table(damage(partition_table(PRE_126, md5=False)))


def test_a_table_with_no_end_within_0xc00_bytes_is_refused():
    many = [("d%d" % i, DATA, 0x02, 0x10000 + i * 0x1000, 0x1000) for i in range(96)]
    with pytest.raises(TableError, match="no end marker"):
        parse_table(partition_table(many, md5=False)[:0xC00])


@pytest.mark.parametrize("entries, message", [
    ([("a", DATA, 2, 0x9000, 0x2000), ("b", DATA, 2, 0xA000, 0x1000)], "overlap"),
    ([("app", APP, 0, 0x11000, 0x1000)], "not aligned"),
    ([("nvs", DATA, 2, 0x8000, 0x1000)], "overlaps the partition table"),
    ([("nvs", DATA, 2, 0x9000, 0)], "size 0"),
])
def test_impossible_layouts_are_refused(entries, message):
    with pytest.raises(TableError, match=message):
        parse_table(partition_table(entries))
