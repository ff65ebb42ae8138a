"""Build one flash image per node: MicroPython firmware + a LittleFS holding
the compiled mesh firmware and that node's config, plus a manifest.

An image starts at the board's firmware offset (where `esptool write_flash`
puts micropython.bin) and runs to the end of the filesystem region; the gap
between the firmware's last byte and the filesystem is 0xFF (erased), as
esptool's merge_bin fills it.
"""
import hashlib
import json
import os
import re

from nowmesh import boards
from nowmesh.bundle import Compiler, board_files, node_files
from nowmesh.bundle.app_files import app_files
from nowmesh.deploy import config as deploy_config
from nowmesh.errors import InputError

from . import fsimage, layout
from .firmware import Firmware, FirmwareError

MANIFEST = "manifest.json"
MANIFEST_FORMAT = "nowmesh-images/1"
# A node's name is also its image's file name: keep it to what both allow
# (the firmware takes 1-16 printable characters, mesh/config.py).
NODE_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,15}")


def load_firmware(path, board):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise InputError(path, "", "cannot read the firmware: %s" % (e.strerror or e)) from None
    try:
        return Firmware(data, board["firmware_offset"], board["chip"], source=path)
    except FirmwareError as e:
        raise InputError(path, "", str(e)) from None


def check_names(names):
    seen = set()
    for name in names:
        if not NODE_NAME_RE.fullmatch(name):
            raise InputError("command line", "name", "%r: 1-16 letters, digits, '_', '.', '-', "
                             "starting with a letter or digit" % name)
        if name in seen:
            raise InputError("command line", "name", "%r given twice" % name)
        seen.add(name)


def node_config(name, key, channel=1, interval_s=None, board=None, admin=None):
    """The node's nowmesh.json, as `nowmesh deploy` writes it, validated by the
    firmware's own settings code."""
    config = deploy_config.node_config({}, key, name=name, channel=channel, board=board, admin=admin)
    if interval_s is not None:
        config["interval_s"] = interval_s
    deploy_config.check_config(config)
    return config


def merge(fw, region, fs_bytes):
    """Firmware + filesystem -> one image written at fw.flash_offset."""
    image = bytearray(b"\xff" * (region.end - fw.flash_offset))
    image[:len(fw.data)] = fw.data
    start = region.offset - fw.flash_offset
    image[start:start + len(fs_bytes)] = fs_bytes
    return bytes(image)


def build_images(firmware_path, board_name, names, out_dir, key_file, flash_size=None, channel=1,
                 interval_s=None, app=None):
    """Write DIR/<name>.bin for each node and DIR/manifest.json; return the manifest.

    The network key comes from `key_file` (nowmesh deploy's; created if
    missing, but only once the firmware and layout are known to be good), the
    operator key from the file beside it (likewise); each image holds only
    its node's admin key, labelled image:<name> since its MAC is unknown yet.
    `app`: the user's app (docs/app-api.md), in every image as a deploy --app puts it."""
    check_names(names)
    board = boards.load_board(board_name)
    size = _flash_size(flash_size or board["flash_size"])
    fw = load_firmware(firmware_path, board)
    try:
        region = layout.find_fs_region(fw, size)
    except layout.LayoutError as e:
        raise InputError(firmware_path, "", str(e)) from None
    # every other setting is checked before the key file is read or created
    for name in names:
        node_config(name, "00" * 16, channel, interval_s, board["name"])
    key = deploy_config.load_or_create_key(key_file)
    operator_key = deploy_config.load_or_create_operator_key(deploy_config.operator_key_file_beside(key_file))
    configs = {name: node_config(name, key, channel, interval_s, board["name"],
                                 deploy_config.admin_fields(operator_key, "image:" + name))
               for name in names}
    compiler = Compiler.native()
    common = board_files(compiler)
    if app:
        common.update(app_files(app, compiler))
    os.makedirs(out_dir, exist_ok=True)
    nodes = {}
    for name in names:
        files = dict(common)
        files.update(node_files(configs[name], board))
        try:
            fs_bytes = fsimage.build(files, region.size)
        except fsimage.FsError as e:
            raise InputError(firmware_path, "", "filesystem at %#x: %s" % (region.offset, e)) from None
        nodes[name] = _write_image(out_dir, name, merge(fw, region, fs_bytes), fw.flash_offset, files)
    manifest = {"format": MANIFEST_FORMAT, "board": board["name"], "chip": board["chip"],
                "flash_size": _size_name(size), "flash_offset": fw.flash_offset,
                "firmware": {"file": os.path.basename(firmware_path), "version": fw.version,
                             "idf_ver": fw.desc["idf_ver"], "size": len(fw.data),
                             "sha256": hashlib.sha256(fw.data).hexdigest()},
                "filesystem": dict(region.describe(), format="littlefs",
                                   disk_version="%d.%d" % (fsimage.DISK_VERSION >> 16, fsimage.DISK_VERSION & 0xFFFF)),
                "nodes": nodes}
    _write_atomic(os.path.join(out_dir, MANIFEST), (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest


def _write_image(out_dir, name, image, offset, files):
    filename = name + ".bin"
    _write_atomic(os.path.join(out_dir, filename), image)
    return {"file": filename, "offset": offset, "size": len(image),
            "sha256": hashlib.sha256(image).hexdigest(), "files": len(files)}


def _write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as out:
        out.write(data)
    os.replace(tmp, path)


def _flash_size(text):
    try:
        return layout.parse_flash_size(text)
    except ValueError as e:
        raise InputError("command line", "flash-size", str(e)) from None


def _size_name(size):
    return "%dMB" % (size >> 20)
