"""Build one flash image per node: the MicroPython firmware plus a LittleFS
filesystem that already holds the compiled nowmesh firmware, the board
profile and that node's config (name, network key, channel). Write each with
one esptool pass (`nowmesh flash PORT --image DIR/NODE.bin`).

The filesystem's place comes from the firmware itself: its partition table
(at 0x8000) and its version (esp_app_desc_t): the 'vfs' partition, or from
MicroPython v1.26 the rest of the flash after the last partition, so give the
real --flash-size when it differs from the board profile's. What cannot be
established for sure is refused. Details: docs/images.md.

Examples:
  nowmesh image --board esp32-devkitc --firmware ESP32_GENERIC-v1.26.1.bin \\
      --name barn --name field-1 --name field-2 --out images/
  nowmesh image --board esp32-s3-devkitc-1 --firmware s3.bin --name n1 --out img --flash-size 16MB
  nowmesh image ... --key-file ~/farm.key --channel 6 --json
"""
import json
import os
import sys

from nowmesh.deploy.config import DEFAULT_KEY_FILE, operator_key_file_beside
from nowmesh.image.build import build_images


def add_arguments(p):
    p.add_argument("--board", required=True, help="board profile (boards/*.json), e.g. esp32-devkitc")
    p.add_argument("--firmware", required=True, metavar="FILE", help="MicroPython firmware .bin for the board")
    p.add_argument("--name", required=True, action="append", metavar="NODE",
                   help="a node name; one image per --name")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for NODE.bin and manifest.json")
    p.add_argument("--flash-size", metavar="SIZE", help="the boards' flash size (default: the profile's)")
    p.add_argument("--key-file", metavar="FILE", default=DEFAULT_KEY_FILE,
                   help="network key file, the one `nowmesh deploy` uses (default ./%(default)s; "
                        "created if missing)")
    p.add_argument("--channel", type=int, default=1, help="Wi-Fi channel of the mesh (default 1)")
    p.add_argument("--interval", type=float, metavar="S", help="seconds between readings (firmware default 30)")
    p.add_argument("--app", metavar="PATH", help="the user's app in every image (a .py, or a folder with "
                                                "app.py or an app/ package; docs/app-api.md)")
    p.add_argument("--json", action="store_true", help="print the manifest as JSON")


def run(args):
    operator_file = operator_key_file_beside(args.key_file)
    had_key, had_operator = os.path.exists(args.key_file), os.path.exists(operator_file)
    manifest = build_images(args.firmware, args.board, args.name, args.out, args.key_file,
                            flash_size=args.flash_size, channel=args.channel,
                            interval_s=_interval(args.interval), app=args.app)
    if not had_key:
        print("created network key file %s (keep it: every node of the mesh needs this key)"
              % args.key_file, file=sys.stderr)
    if not had_operator:
        print("created operator key file %s (keep it on this computer: nowmesh reboot/config-set "
              "--node sign with it)" % operator_file, file=sys.stderr)
    if args.json:
        print(json.dumps(manifest, indent=2))
    else:
        _print_summary(manifest, args.out)
    return 0


def _interval(value):
    # whole seconds stay integers in the node's JSON config
    return int(value) if value is not None and value == int(value) else value


def _print_summary(manifest, out):
    fw, fs = manifest["firmware"], manifest["filesystem"]
    print("firmware %s (%s), %d bytes at %#x on a %s %s flash"
          % (fw["file"], fw["version"], fw["size"], manifest["flash_offset"], manifest["flash_size"],
             manifest["chip"]))
    print("filesystem %#x..%#x (%d KB, %d blocks, LittleFS %s): %s"
          % (fs["offset"], fs["offset"] + fs["size"], fs["size"] // 1024, fs["block_count"],
             fs["disk_version"], fs["rule"]))
    rows = [("node", "image", "bytes", "sha256")] + [
        (name, node["file"], str(node["size"]), node["sha256"][:16]) for name, node in manifest["nodes"].items()]
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print("manifest %s/manifest.json; write with: nowmesh flash PORT --image %s/NODE.bin" % (out, out))
