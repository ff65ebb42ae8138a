"""Board profiles: one JSON file per supported board in ``boards/``.

The host tools and the firmware read the same files. ``validate_board`` is a
table-driven schema check (field -> validator); every failure is an
``InputError`` naming the offending field, e.g. ``led.pin``.
See ``boards/README.md`` for the format and the sources behind each fact.
"""

import difflib
import json
import os
import re

from .bundle.tree import boards_dir
from .errors import InputError

BOARDS_DIR = boards_dir()          # the bundle's board profiles (package data)

# Facts that follow from the chip alone (esptool chip names). Offsets are the
# MicroPython image offsets from micropython.org/download (board.json
# deploy_options); internal_temp is the esp32-module function that exists there.
CHIPS = {
    "esp32": {"firmware_offset": 0x1000, "max_gpio": 39, "internal_temp": "raw_temperature"},
    "esp32s2": {"firmware_offset": 0x1000, "max_gpio": 46, "internal_temp": "mcu_temperature"},
    "esp32s3": {"firmware_offset": 0x0, "max_gpio": 48, "internal_temp": "mcu_temperature"},
    "esp32c3": {"firmware_offset": 0x0, "max_gpio": 21, "internal_temp": "mcu_temperature"},
    "esp32c6": {"firmware_offset": 0x0, "max_gpio": 30, "internal_temp": "mcu_temperature"},
}


class _Bad(Exception):
    """A field failed its check; validate_board turns it into an InputError."""

    def __init__(self, field, message):
        super().__init__(message)
        self.field = field
        self.message = message


# --- small validators: each is v(value, field, chip) and raises _Bad -------

def _text(value, field, chip):
    if not isinstance(value, str) or not value.strip():
        raise _Bad(field, "must be a non-empty string")


def _matching(pattern, words):
    def check(value, field, chip):
        if not isinstance(value, str) or not re.fullmatch(pattern, value):
            raise _Bad(field, "must be %s, got %r" % (words, value))
    return check


def _one_of(*choices):
    def check(value, field, chip):
        if value not in choices or isinstance(value, bool):
            raise _Bad(field, "must be one of %s, got %r"
                       % (", ".join(repr(c) for c in choices), value))
    return check


def _int(value, field, chip):
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Bad(field, "must be an integer, got %r" % (value,))


def _bool(value, field, chip):
    if not isinstance(value, bool):
        raise _Bad(field, "must be true or false, got %r" % (value,))


def _pin(value, field, chip):
    _int(value, field, chip)
    top = CHIPS[chip]["max_gpio"]
    if not 0 <= value <= top:
        raise _Bad(field, "GPIO %d does not exist on %s (0..%d)" % (value, chip, top))


def _firmware_offset(value, field, chip):
    _int(value, field, chip)
    want = CHIPS[chip]["firmware_offset"]
    if value != want:
        raise _Bad(field, "must be %#x for %s, got %#x" % (want, chip, value))


def _internal_temp(value, field, chip):
    want = CHIPS[chip]["internal_temp"]
    if value != want:
        raise _Bad(field, "must be %r for %s, got %r" % (want, chip, value))


def _optional(check):
    def optional(value, field, chip):
        if value is not None:
            check(value, field, chip)
    return optional


def _record(fields, optional=()):
    """A dict with exactly these keys (keys in `optional` may be left out)."""
    def check(value, field, chip):
        if not isinstance(value, dict):
            raise _Bad(field, "must be an object, got %r" % (value,))
        prefix = field + "." if field else ""
        for key in value:
            if key not in fields:
                raise _Bad(prefix + key, "unknown field; expected one of: "
                           + ", ".join(fields))
        for key, sub in fields.items():
            if key in value:
                sub(value[key], prefix + key, chip)
            elif key not in optional:
                raise _Bad(prefix + key, "is missing")
    return check


def _list_of(item, min_len=1):
    def check(value, field, chip):
        if not isinstance(value, list) or len(value) < min_len:
            raise _Bad(field, "must be a list of at least %d item(s)" % min_len)
        for i, entry in enumerate(value):
            item(entry, "%s[%d]" % (field, i), chip)
    return check


_HEX4 = (r"[0-9a-f]{4}", "4 lowercase hex digits")
_VERSION = (r"[0-9]+\.[0-9]+(\.[0-9]+)?", "a version such as 5.4.1")

# ESP-NOW payload limits: v1, and v2 in firmware built with ESP-IDF >= 5.4
# (MicroPython docs/library/espnow.rst, "ESP-NOW Versions": "Since ESP-IDF
# V5.4, two ESP-NOW versions are supported ... check the value of
# espnow.MAX_DATA_LEN").
ESPNOW_V1_MAX_DATA_LEN = 250
ESPNOW_V2_MAX_DATA_LEN = 1470
ESPNOW_V2_IDF = (5, 4)
# what a profile without "firmware" is taken to run: the current MicroPython
# release and the ESP-IDF it is built with (espnow.rst links the v5.5.1 API docs)
CURRENT_FIRMWARE = {"micropython": "1.28.0", "esp_idf": "5.5.1"}


def espnow_max_data_len(profile):
    """espnow.MAX_DATA_LEN on a board with this profile: the profile's own
    "espnow_max_data_len" if it sets one (e.g. 250 for an older build), else
    what its firmware's ESP-IDF gives (1470 from 5.4 on, 250 before)."""
    explicit = profile.get("espnow_max_data_len")
    if explicit:
        return explicit
    idf = profile.get("firmware", CURRENT_FIRMWARE)["esp_idf"]
    version = tuple(int(part) for part in idf.split("."))
    return ESPNOW_V2_MAX_DATA_LEN if version >= ESPNOW_V2_IDF else ESPNOW_V1_MAX_DATA_LEN

SENSORS = {
    "internal_temp": _record({"kind": _text}),
    "bme280": _record({"kind": _text, "bus": _one_of("i2c"), "address": _one_of(0x76, 0x77)},
                      optional=("bus",)),
    "aht20": _record({"kind": _text, "address": _one_of(0x38)}),
    "dht22": _record({"kind": _text, "pin": _pin}),
    "adc": _record({"kind": _text, "pin": _pin, "name": _matching(r"[a-z][a-z0-9_]*", "a lowercase identifier"),
                    "unit": _text}),
}


def _sensor(value, field, chip):
    kind = value.get("kind") if isinstance(value, dict) else None
    if not isinstance(kind, str) or kind not in SENSORS:
        raise _Bad(field + ".kind", "must be one of %s, got %r" % (", ".join(SENSORS), kind))
    SENSORS[kind](value, field, chip)


SCHEMA = {
    "name": _matching(r"[a-z0-9]+(-[a-z0-9]+)*", "lowercase words joined by '-'"),
    "description": _text,
    "chip": _one_of(*CHIPS),
    "flash_size": _matching(r"(2|4|8|16|32)MB", "one of 2MB, 4MB, 8MB, 16MB, 32MB"),
    "firmware_offset": _firmware_offset,
    "micropython_firmware": _matching(r"[A-Z][A-Z0-9_]*", "a micropython.org/download board id"),
    "firmware": _record({"micropython": _matching(*_VERSION), "esp_idf": _matching(*_VERSION)}),
    "espnow_max_data_len": _one_of(ESPNOW_V1_MAX_DATA_LEN, ESPNOW_V2_MAX_DATA_LEN),
    "usb": _list_of(_record({"vid": _matching(*_HEX4), "pid": _matching(*_HEX4), "bridge": _text})),
    "led": _optional(_record({"pin": _pin, "kind": _one_of("gpio", "ws2812"), "active_low": _bool})),
    "i2c": _record({"sda": _pin, "scl": _pin}),
    "adc_pins": _list_of(_pin),
    "internal_temp": _internal_temp,
    "sensors": _list_of(_sensor, min_len=0),
    "notes": _text,
}
OPTIONAL = ("notes", "firmware", "espnow_max_data_len")


def _check_cross_fields(data):
    """Rules spanning fields: no pin used twice, sensors match the board."""
    used = {}
    claims = [("i2c.sda", data["i2c"]["sda"]), ("i2c.scl", data["i2c"]["scl"])]
    if data["led"] is not None:
        claims.insert(0, ("led.pin", data["led"]["pin"]))
    for i, sensor in enumerate(data["sensors"]):
        field = "sensors[%d]" % i
        if "pin" in sensor:
            claims.append((field + ".pin", sensor["pin"]))
        if sensor["kind"] == "adc" and sensor["pin"] not in data["adc_pins"]:
            raise _Bad(field + ".pin", "GPIO %d is not in adc_pins" % sensor["pin"])
    for field, pin in claims:
        if pin in used:
            raise _Bad(field, "GPIO %d is already used by %s" % (pin, used[pin]))
        used[pin] = field


def validate_board(data, source):
    """Check one profile; return it unchanged or raise InputError(source, field, ...)."""
    try:
        if not isinstance(data, dict):
            raise _Bad("", "a board profile must be a JSON object")
        chip = data.get("chip")
        SCHEMA["chip"](chip, "chip", None)
        _record(SCHEMA, optional=OPTIONAL)(data, "", chip)
        _check_cross_fields(data)
    except _Bad as bad:
        raise InputError(source, bad.field, bad.message) from None
    return data


def list_boards():
    """Names of the profiles in BOARDS_DIR, sorted."""
    return sorted(f[:-5] for f in os.listdir(BOARDS_DIR) if f.endswith(".json"))


def _unknown_board(name, known):
    message = 'unknown board "%s"; known: %s' % (name, ", ".join(known))
    close = difflib.get_close_matches(name, known, n=1)
    if close:
        message += '; did you mean "%s"?' % close[0]
    return InputError("command line", "board", message)


def load_board(name):
    """Read, validate and return the profile called `name`."""
    known = list_boards()
    if name not in known:
        raise _unknown_board(name, known)
    source = os.path.join("boards", name + ".json")
    try:
        with open(os.path.join(BOARDS_DIR, name + ".json"), encoding="utf-8") as f:
            data = json.load(f)
    except ValueError as e:
        raise InputError(source, "", "not valid JSON: %s" % e) from None
    validate_board(data, source)
    if data["name"] != name:
        raise InputError(source, "name", 'must match the file name "%s"' % name)
    return data


BOARD_FILE = "board.json"


def board_file_bytes(profile):
    """The profile as the board's /board.json holds it. One encoding for every
    writer (deploy, image, emulator), so an unchanged board compares equal."""
    return json.dumps(profile, sort_keys=True).encode()
