"""Write MicroPython firmware, or per-node nowmesh images, to ESP32 boards
through esptool (detect the chip, refuse a mismatch, write at the board's
offset, verify, reset). See docs/flashing.md and README "Flashing".

Examples:
  nowmesh flash /dev/ttyUSB0 --board esp32-devkitc --firmware ESP32_GENERIC-v1.26.1.bin
  nowmesh flash /dev/ttyUSB0 --board esp32-devkitc --firmware fw.bin --erase --baud 921600
  nowmesh flash --all --board esp32-s3-devkitc-1 --firmware ESP32_GENERIC_S3.bin
  nowmesh flash /dev/ttyUSB0 --image images/n1.bin
  nowmesh flash --all --images images/          # node images from `nowmesh image`
An emulated board: nowmesh rom esp32, then flash its /dev/pts/N.
"""
import json
import os

from nowmesh import boards
from nowmesh.errors import InputError, ToolError
from nowmesh.flashing import fleet, images, session


def add_arguments(p):
    p.add_argument("port", nargs="?", help="serial port of one board (or use --all)")
    p.add_argument("--all", action="store_true", help="every detected board, in parallel")
    p.add_argument("--ports", nargs="+", metavar="PORT", help="with --all: these ports instead of detection")
    p.add_argument("--board", help="board profile (boards/*.json): chip and firmware offset")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--firmware", metavar="FILE.bin", help="MicroPython firmware for the board")
    what.add_argument("--image", metavar="FILE", help="one node image from `nowmesh image`")
    what.add_argument("--images", metavar="DIR", help="with --all: the folder `nowmesh image` wrote")
    p.add_argument("--erase", action="store_true", help="erase the whole flash first")
    p.add_argument("--baud", type=int, default=460800, help="baud rate while writing (default %(default)s)")
    p.add_argument("--json", action="store_true", help="print the results as one JSON object")


def run(args):
    _check_args(args)
    jobs, unassigned = _plan(args)
    results = fleet.run_jobs(jobs, fleet.make_display(jobs, args.json))
    failed = [r for r in results if not r["ok"]]
    if args.json:
        print(json.dumps({"boards": [_public(r) for r in results], "flashed": len(results) - len(failed),
                          "failed": len(failed), "unassigned": unassigned}, indent=2))
    elif len(results) > 1 or unassigned:
        _print_summary(results, unassigned)
    if len(jobs) == 1 and failed and not args.json:
        raise ToolError(failed[0]["error"])
    return 1 if failed or unassigned else 0


def _check_args(args):
    if bool(args.port) == bool(args.all):
        raise InputError("command line", "port", "give one PORT or --all")
    if args.ports and not args.all:
        raise InputError("command line", "--ports", "only goes with --all")
    if args.images and not args.all:
        raise InputError("command line", "--images", "writes a whole folder: use --all (or --image FILE for one)")
    if not (args.firmware or args.image or args.images):
        raise InputError("command line", "--firmware", "say what to write: --firmware, --image or --images")
    if args.firmware and not args.board:
        raise InputError("command line", "--board", "is needed with --firmware (nowmesh ports suggests one)")
    if args.baud < session.ROM_BAUD:
        raise InputError("command line", "--baud", "must be at least %d" % session.ROM_BAUD)


def _ports(args):
    ports = args.ports or ([args.port] if args.port else session.detected_ports())
    if not ports:
        raise ToolError("no boards detected: plug one in, or name ports with --ports (see nowmesh ports)")
    return ports


def _plan(args):
    """(jobs, node names without a board)."""
    common = dict(erase=args.erase, baud=args.baud)
    if args.images:
        return _plan_images(args, common)
    if args.image:
        board, data, offset, node = _single_image(args)
        return [session.FlashJob(_ports(args)[0], board, data, offset, args.image, node=node, **common)], []
    board = boards.load_board(args.board)
    data = images.read_image(args.firmware)
    images.check_image_for_board(data, board, args.firmware)
    return [session.FlashJob(port, board, data, board["firmware_offset"], args.firmware, **common)
            for port in _ports(args)], []


def _single_image(args):
    found = images.manifest_entry_for(args.image)
    if found is None and not args.board:
        raise InputError("command line", "--board", "is needed for an image outside a `nowmesh image` folder")
    board = boards.load_board(args.board or found[0]["board"])
    data = images.read_image(args.image)
    images.check_image_for_board(data, board, args.image)
    offset = found[2]["offset"] if found else board["firmware_offset"]
    return board, data, offset, found[1] if found else None


def _plan_images(args, common):
    manifest = images.read_manifest(args.images)
    board = boards.load_board(args.board or manifest["board"])
    pairs, unassigned = images.assign_ports(args.images, sorted(manifest["nodes"]), _ports(args))
    jobs = []
    for node, port in pairs:
        entry = manifest["nodes"][node]
        path = os.path.join(args.images, entry["file"])
        data = images.read_image(path)
        images.check_image_for_board(data, board, path)
        jobs.append(session.FlashJob(port, board, data, entry["offset"], path, node=node, **common))
    return jobs, unassigned


def _public(result):
    return {k: v for k, v in result.items() if k != "log"}


def _print_summary(results, unassigned):
    print("%d of %d boards flashed" % (sum(r["ok"] for r in results), len(results)))
    for r in results:
        where = "%s @ %s" % (r["node"], r["port"]) if r.get("node") else r["port"]
        print("  %-28s %s" % (where, fleet.summary_cell(r)))
    for node in unassigned:
        print("  %-28s not flashed: no board left for it" % node)
