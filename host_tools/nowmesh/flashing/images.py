"""What gets written where: firmware files checked against the board profile,
and folders of per-node images from `nowmesh image` matched to ports.

An ESP image starts with magic 0xE9; bytes 12-13 of its extended header are
the chip id (esptool's IMAGE_CHIP_ID). A MicroPython firmware.bin and a
nowmesh per-node image both start with the bootloader's header, so the same
check refuses firmware built for another chip.
"""
import json
import os
import struct

from esptool.targets import CHIP_DEFS

from nowmesh.errors import InputError

ESP_IMAGE_MAGIC = 0xE9
HEADER_LEN = 24                   # 8-byte image header + 16-byte extended header
CHIP_BY_IMAGE_ID = {cls.IMAGE_CHIP_ID: name for name, cls in CHIP_DEFS.items()
                    if cls.IMAGE_CHIP_ID is not None}
MANIFEST = "manifest.json"
PORTS_FILE = "ports.json"         # node name -> port, written when ports are assigned in order


def read_image(path):
    """The bytes of an ESP image file; InputError if missing, empty or not an ESP image."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise InputError(path, "", "firmware file not found") from None
    except IsADirectoryError:
        raise InputError(path, "", "is a folder, not a firmware file") from None
    except PermissionError:
        raise InputError(path, "", "cannot read the file (permission denied)") from None
    if len(data) < HEADER_LEN or data[0] != ESP_IMAGE_MAGIC:
        first = "empty file" if not data else "first byte 0x%02x" % data[0]
        raise InputError(path, "", "not an ESP firmware image (%s, expected magic 0xE9); "
                         "download the .bin for your board (see README, Flashing)" % first)
    return data


def image_chip(data, source):
    """esptool chip name ('esp32s3') the image was built for."""
    (chip_id,) = struct.unpack_from("<H", data, 12)
    if chip_id not in CHIP_BY_IMAGE_ID:
        raise InputError(source, "", "image chip id %d is not a chip esptool knows" % chip_id)
    return CHIP_BY_IMAGE_ID[chip_id]


def check_image_for_board(data, board, source):
    chip = image_chip(data, source)
    if chip != board["chip"]:
        raise InputError(source, "", "firmware is built for %s, but board %s has an %s: "
                         "download the %s firmware" % (chip, board["name"], board["chip"],
                                                       board["micropython_firmware"]))
    return chip


def read_manifest(folder):
    """manifest.json of a `nowmesh image` folder: board, chip and per-node files/offsets."""
    path = os.path.join(folder, MANIFEST)
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise InputError(path, "", "not found: build the images with `nowmesh image` first") from None
    except ValueError as e:
        raise InputError(path, "", "not valid JSON: %s" % e) from None
    nodes = manifest.get("nodes") if isinstance(manifest, dict) else None
    if not isinstance(nodes, dict) or not nodes or "board" not in manifest:
        raise InputError(path, "nodes", "must name the board and at least one node image")
    for name, entry in nodes.items():
        if not isinstance(entry, dict) or "file" not in entry or not isinstance(entry.get("offset"), int):
            raise InputError(path, "nodes.%s" % name, "must have a file and an integer offset")
    return manifest


def manifest_entry_for(image_path):
    """(manifest, node name, entry) if the image sits in a `nowmesh image` folder, else None."""
    folder, filename = os.path.split(os.path.abspath(image_path))
    if not os.path.exists(os.path.join(folder, MANIFEST)):
        return None
    manifest = read_manifest(folder)
    for name, entry in manifest["nodes"].items():
        if entry["file"] == filename:
            return manifest, name, entry
    return None


def assign_ports(folder, names, ports):
    """[(node, port)] for the images in `folder` and the boards on `ports`, plus the
    nodes left without a board. Nodes listed in DIR/ports.json keep their port when
    it is present; the others take the remaining ports in order, and the assignment
    is recorded in DIR/ports.json so the next run writes each node's image to the
    same board again."""
    recorded = _read_ports_file(folder)
    free = [p for p in ports if p not in recorded.values()]
    pairs, missing = [], []
    for name in names:
        if recorded.get(name) in ports:
            pairs.append((name, recorded[name]))
        elif free:
            pairs.append((name, free.pop(0)))
        else:
            missing.append(name)
    recorded.update(pairs)
    _write_ports_file(folder, recorded)
    return pairs, missing


def _read_ports_file(folder):
    path = os.path.join(folder, PORTS_FILE)
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except FileNotFoundError:
        return {}
    except ValueError as e:
        raise InputError(path, "", "not valid JSON: %s" % e) from None
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise InputError(path, "", "must map node names to port paths")
    return data


def _write_ports_file(folder, mapping):
    path = os.path.join(folder, PORTS_FILE)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as out:
        json.dump(dict(sorted(mapping.items())), out, indent=2)
        out.write("\n")
    os.replace(tmp, path)
