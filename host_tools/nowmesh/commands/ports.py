"""List serial ports and what is attached: the USB-serial bridge or native USB by
VID:PID, matching board profiles, whether MicroPython answers and runs nowmesh
(node name, firmware), and the nodes of running emulations.

The probe never interrupts a running program: it sends an empty line, Ctrl-B
only at an idle REPL prompt, and nowmesh's `hello` console command.
By default only ports that look like ESP32 boards and emulated nodes are
probed; --probe probes every port, --no-probe none.

Examples:
  nowmesh ports
  nowmesh ports --json
  nowmesh ports --no-probe
"""
import argparse
import json

from nowmesh.ports import list_ports


def add_arguments(p):
    p.add_argument("--json", action="store_true", help='print {"ports": [...]} as JSON')
    p.add_argument("--probe", action=argparse.BooleanOptionalAction, default=None,
                   help="ask every port (--probe) or none (--no-probe) what runs on it "
                        "(default: ESP-like and emulated ports)")
    p.add_argument("--timeout", type=float, default=1.5, help="seconds to wait for a probed port's answer")
    p.add_argument("--no-emulated", dest="emulated", action="store_false",
                   help="leave out nodes of running emulations")


def run(args):
    if args.timeout <= 0:
        args._parser.error("--timeout must be positive")
    found = list_ports(probe=args.probe, emulated=args.emulated, probe_timeout=args.timeout)
    if args.json:
        print(json.dumps({"ports": found}, indent=2, sort_keys=True))
        return 0
    if not found:
        print("no serial ports found (is the board plugged in, with a data cable?)")
        return 0
    rows = [("port", "usb id", "attached", "answers")]
    rows += [(e["port"], _usb_id(e), _attached(e), _answers(e["probe"])) for e in found]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[3])
    return 0


def _usb_id(entry):
    return "%s:%s" % (entry["vid"], entry["pid"]) if entry["vid"] else "-"


def _attached(entry):
    if entry["kind"] == "emulated":
        return "emulated node %s" % entry["node"]
    text = entry["bridge"] or entry["guess"]
    if entry["boards"]:
        text += " (%s)" % ", ".join(entry["boards"])
    return text


_ANSWERS = {
    "micropython": lambda p: "MicroPython %s REPL, nowmesh not running" % p.get("micropython", "?"),
    "program": lambda p: "runs a program (not nowmesh)",
    "silent": lambda p: "no answer",
    "busy": lambda p: "busy (another program has it open)",
    "error": lambda p: p.get("detail", "error"),
}


def _answers(probe):
    if probe is None:
        return "-"
    if probe["answers"] == "nowmesh":
        if "name" in probe:
            return "nowmesh %s: %s (%s)" % (probe.get("fw"), probe.get("name"), probe.get("id"))
        return "nowmesh: %s" % probe.get("detail")
    return _ANSWERS[probe["answers"]](probe)
