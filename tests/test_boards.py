"""Board profiles in boards/: schema, chip facts, and the errors users see."""
import copy
import json
import os

import pytest

from nowmesh import boards
from nowmesh.errors import InputError

REQUIRED = ["esp32-devkitc", "esp32-s3-devkitc-1", "esp32-c3-devkitm-1",
            "esp32-c6-devkitc-1", "lolin-s2-mini"]

# Independent copy of the MicroPython download-page offsets, so a typo in
# boards.CHIPS is caught rather than mirrored.
OFFSET_BY_CHIP = {"esp32": 0x1000, "esp32s2": 0x1000,
                  "esp32s3": 0x0, "esp32c3": 0x0, "esp32c6": 0x0}


@pytest.mark.parametrize("name", boards.list_boards())
def test_every_profile_passes_the_schema(name):
    path = os.path.join(boards.BOARDS_DIR, name + ".json")
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    assert boards.validate_board(data, path) is data
    assert boards.load_board(name)["name"] == name


def test_required_boards_exist():
    assert set(REQUIRED) <= set(boards.list_boards())


@pytest.mark.parametrize("name", boards.list_boards())
def test_firmware_offset_follows_the_chip(name):
    board = boards.load_board(name)
    assert board["firmware_offset"] == OFFSET_BY_CHIP[board["chip"]]


def test_chip_table_agrees_with_download_pages():
    assert {c: f["firmware_offset"] for c, f in boards.CHIPS.items()} == OFFSET_BY_CHIP


def _good():
    return boards.load_board("esp32-s3-devkitc-1")


def _set(path, value):
    """Edit for a copy of a good profile: set (or, with value=DELETE, drop) path."""
    def edit(data):
        *parents, last = path
        for key in parents:
            data = data[key]
        if value is DELETE:
            del data[last]
        else:
            data[last] = value
    return edit


DELETE = object()

BROKEN = [
    ("name", _set(["name"], "ESP32 S3")),
    ("name", _set(["name"], DELETE)),
    ("description", _set(["description"], "  ")),
    ("chip", _set(["chip"], "esp8266")),
    ("chip", _set(["chip"], ["esp32"])),
    ("flash_size", _set(["flash_size"], "4M")),
    ("firmware_offset", _set(["firmware_offset"], 0x1000)),
    ("firmware_offset", _set(["firmware_offset"], "0x0")),
    ("micropython_firmware", _set(["micropython_firmware"], "esp32-generic")),
    ("usb", _set(["usb"], [])),
    ("usb[0]", _set(["usb", 0], "10c4:ea60")),
    ("usb[1].vid", _set(["usb", 1, "vid"], "303A")),
    ("usb[0].pid", _set(["usb", 0, "pid"], "ea6")),
    ("usb[2].bridge", _set(["usb", 2, "bridge"], "")),
    ("usb[0].serial", _set(["usb", 0, "serial"], "x")),
    ("led", _set(["led"], 38)),
    ("led.pin", _set(["led", "pin"], 49)),
    ("led.pin", _set(["led", "pin"], "38")),
    ("led.kind", _set(["led", "kind"], "rgb")),
    ("led.active_low", _set(["led", "active_low"], 0)),
    ("led.active_low", _set(["led", "active_low"], DELETE)),
    ("i2c", _set(["i2c"], None)),
    ("i2c.sda", _set(["i2c", "sda"], -1)),
    ("i2c.scl", _set(["i2c", "scl"], 8)),
    ("i2c.sda", _set(["i2c", "sda"], 38)),
    ("adc_pins", _set(["adc_pins"], [])),
    ("adc_pins[1]", _set(["adc_pins", 1], True)),
    ("internal_temp", _set(["internal_temp"], "raw_temperature")),
    ("internal_temp", _set(["internal_temp"], None)),
    ("sensors", _set(["sensors"], {"kind": "bme280"})),
    ("sensors[0].kind", _set(["sensors", 0], {"kind": "ds18b20"})),
    ("sensors[0].kind", _set(["sensors", 0], "internal_temp")),
    ("sensors[1].address", _set(["sensors", 1, "address"], 0x40)),
    ("sensors[1].bus", _set(["sensors", 1, "bus"], "spi")),
    ("sensors[1].address", _set(["sensors", 1], {"kind": "aht20"})),
    ("sensors[1].pin", _set(["sensors", 1], {"kind": "dht22", "pin": 38})),
    ("sensors[1].pin", _set(["sensors", 1], {"kind": "adc", "pin": 3, "name": "soil", "unit": "%"})),
    ("sensors[1].name", _set(["sensors", 1], {"kind": "adc", "pin": 4, "name": "Soil!", "unit": "%"})),
    ("sensors[1].unit", _set(["sensors", 1], {"kind": "adc", "pin": 4, "name": "soil"})),
    ("notes", _set(["notes"], 5)),
    ("colour", _set(["colour"], "red")),
]


@pytest.mark.parametrize("field, edit", BROKEN, ids=[f for f, _ in BROKEN])
def test_each_broken_field_is_named(field, edit):
    data = copy.deepcopy(_good())
    edit(data)
    with pytest.raises(InputError) as caught:
        boards.validate_board(data, "boards/broken.json")
    assert caught.value.field == field
    assert caught.value.source == "boards/broken.json"
    assert str(caught.value).startswith("boards/broken.json: %s: " % field)


def test_a_board_without_led_is_valid():
    data = _good()
    data["led"] = None
    assert boards.validate_board(data, "x")["led"] is None


def test_non_object_profile_is_rejected():
    with pytest.raises(InputError) as caught:
        boards.validate_board(["esp32"], "boards/list.json")
    assert caught.value.source == "boards/list.json"


def test_unknown_board_lists_known_and_suggests():
    with pytest.raises(InputError) as caught:
        boards.load_board("esp32-devkit")
    err = caught.value
    assert (err.source, err.field) == ("command line", "board")
    assert err.message.startswith('unknown board "esp32-devkit"; known: ')
    assert all(name in err.message for name in REQUIRED)
    assert 'did you mean "esp32-devkitc"?' in err.message


def test_unknown_board_without_near_match_has_no_hint():
    with pytest.raises(InputError) as caught:
        boards.load_board("zzz")
    assert "did you mean" not in caught.value.message


def test_file_name_must_match_name_field(tmp_path, monkeypatch):
    data = _good()
    (tmp_path / "renamed.json").write_text(json.dumps(data))
    (tmp_path / "bad.json").write_text("{not json")
    monkeypatch.setattr(boards, "BOARDS_DIR", str(tmp_path))
    with pytest.raises(InputError) as caught:
        boards.load_board("renamed")
    assert caught.value.field == "name"
    with pytest.raises(InputError) as caught:
        boards.load_board("bad")
    assert "not valid JSON" in caught.value.message
