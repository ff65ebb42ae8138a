"""Boot an emulated board from its flash file, as MicroPython on ESP32 does.

A flash file is the raw contents of a board's SPI flash (file size = flash
size, erased bytes 0xFF), the format the emulated ROM bootloader writes. At
power-on the emulated board finds MicroPython's filesystem in it by the same
rules as `nowmesh image` (partition table at 0x8000, version from
esp_app_desc_t), mounts that LittleFS region and unpacks it into the board's
folder (which is what the emulated board's interpreter runs from). Then, as
MicroPython's frozen _boot.py does (ports/esp32/modules/_boot.py, inisetup.py):

- the region mounts: boot.py and main.py run from it;
- it does not mount and its first block is erased: "Performing initial
  setup", a fresh LittleFS (holding inisetup's default boot.py) is written
  into the flash, and the board comes up at the REPL with no main.py;
- it does not mount otherwise: the filesystem is corrupt, and the board prints
  inisetup.fs_corrupted()'s message every 3 s until Ctrl-C; the flash is left
  exactly as it was, never repaired.

The folder is unpacked again only when the flash region changed since the
last boot, so what the running node writes (its boot counter, config_set)
survives restarts as it does on a board. Those writes stay in the folder:
they are not written back into the flash file.
"""
import hashlib
import json
import os
import shutil

from nowmesh.errors import ToolError

from nowmesh.emulation.device_paths import FSBOOT_DIR
from nowmesh.image import fsimage, layout
from nowmesh.image.firmware import Firmware, FirmwareError

BOOT_MODULE = "_nowmesh_fsboot"
BOOT_MODULE_DIR = FSBOOT_DIR
# inisetup.setup() writes this boot.py into a freshly formatted filesystem
DEFAULT_BOOT_PY = b"""\
# This file is executed on every boot (including wake-boot from deepsleep)
#import esp
#esp.osdebug(None)
#import webrepl
#webrepl.start()
"""


class BootError(ToolError):
    """The flash holds nothing MicroPython could boot from."""


class FlashBoot:
    """The outcome of preparing a board's folder from its flash file:
    state "mounted", "setup" (formatted a blank region) or "corrupt"; `env`
    and `extra` go to the EmulatedBoard (the boot module and its state)."""

    def __init__(self, state, region, version, files=()):
        self.state = state
        self.region = region
        self.version = version
        self.files = sorted(files)

    @property
    def env(self):
        if self.state == "mounted":
            return {}
        return {"NOWMESH_EMU_BOOT_MODULE": BOOT_MODULE, "NOWMESH_FS_STATE": self.state}

    @property
    def extra(self):
        return [] if self.state == "mounted" else [BOOT_MODULE_DIR]


def read_flash(flash_path):
    try:
        with open(flash_path, "rb") as f:
            return f.read()
    except OSError as e:
        raise BootError("cannot read flash file %s: %s" % (flash_path, e.strerror or e)) from None


def find_region(flash, board):
    """(Firmware, Region) of a whole-flash image; BootError if it has no MicroPython."""
    offset = board["firmware_offset"]
    try:
        fw = Firmware(flash[offset:], offset, board["chip"], source="flash")
        return fw, layout.find_fs_region(fw, len(flash), whole_flash=True)
    except (FirmwareError, layout.LayoutError) as e:
        raise BootError("no bootable MicroPython in the flash: %s" % e) from None


def prepare(flash_path, fs_dir, board):
    """Make `fs_dir` what the board's filesystem is after power-on; -> FlashBoot."""
    flash = read_flash(flash_path)
    fw, region = find_region(flash, board)
    data = flash[region.offset:region.end]
    try:
        files = fsimage.read(data)
        state = "mounted"
    except fsimage.FsError:
        if not fsimage.is_erased(data):
            _unpack(fs_dir, {}, _marker(fs_dir), None)
            return FlashBoot("corrupt", region, fw.version)
        files = {"boot.py": DEFAULT_BOOT_PY}
        data = _format_region(flash_path, region, files)
        state = "setup"
    digest = hashlib.sha256(data).hexdigest()
    marker = _marker(fs_dir)
    if state == "setup" or _last_digest(marker) != digest or not os.path.isdir(fs_dir):
        _unpack(fs_dir, files, marker, digest)
    return FlashBoot(state, region, fw.version, files)


def _format_region(flash_path, region, files):
    """inisetup.setup(): a fresh LittleFS with the default boot.py, written to flash."""
    data = fsimage.build(files, region.size)
    with open(flash_path, "r+b") as f:
        f.seek(region.offset)
        f.write(data)
    return data


def _marker(fs_dir):
    return os.path.abspath(fs_dir).rstrip(os.sep) + ".flash.json"


def _last_digest(marker):
    try:
        with open(marker, encoding="utf-8") as f:
            return json.load(f).get("region_sha256")
    except (OSError, ValueError, AttributeError):
        return None


def _unpack(fs_dir, files, marker, digest):
    """Replace the folder's contents with `files`; record which region they came from."""
    shutil.rmtree(fs_dir, ignore_errors=True)
    os.makedirs(fs_dir)
    for path, content in files.items():
        target = os.path.join(fs_dir, *path.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as out:
            out.write(content)
    with open(marker, "w", encoding="utf-8") as out:
        json.dump({"region_sha256": digest}, out)
