"""Copy the compiled nowmesh firmware and the node config to boards.

Compiles firmware/ with mpy-cross for the board's bytecode version, sends
only files whose sha256 (computed on the board) differs, writes nowmesh.json
with the project's network key (made on first use, kept in --key-file),
soft-resets and checks that nowmesh is up with the requested name and channel.
Safe to interrupt or unplug at any moment: deploy again to complete it.

Examples:
  nowmesh deploy /dev/ttyUSB0 --name kitchen
  nowmesh deploy /dev/ttyUSB0 --json            # second time: "files_sent": 0
  nowmesh deploy /dev/ttyUSB0 --app examples/greenhouse   # your app beside nowmesh (docs/app-api.md)
  nowmesh deploy /dev/ttyUSB0 --wifi home --wifi-password secret --mqtt mqtt://192.168.1.5
                                                # a gateway to MQTT/Home Assistant (docs/mqtt.md)
  nowmesh deploy /dev/ttyUSB0 --wifi home --wifi-password secret --mqtt mqtt://192.168.1.5 --allow-commands
                                                # ... that runs set/ping/reboot from MQTT
  nowmesh deploy --all                          # every attached ESP32/MicroPython board
  nowmesh deploy --all --state-dir /tmp/mesh    # every node of `nowmesh emulate --state-dir /tmp/mesh`
"""
import json
import os
import sys
import threading

from nowmesh.deploy import fleet
from nowmesh.bundle.node_files import gateway_fields
from nowmesh.deploy.config import DEFAULT_KEY_FILE, OPERATOR_KEY_FILE, key_file_for
from nowmesh.deploy.session import DeployOptions, deploy_board
from nowmesh.errors import InputError, ToolError


def add_arguments(p):
    p.add_argument("port", nargs="?", help="serial port path or pyserial URL of the board")
    p.add_argument("--all", action="store_true",
                   help="every attached board (USB ids of ESP32 bridges and MicroPython), or with "
                        "--state-dir every node of a running emulation; in parallel")
    p.add_argument("--state-dir", metavar="DIR", help="with --all: the folder of `nowmesh emulate`")
    p.add_argument("--name", help="node name (1-16 printable characters); default: keep the "
                                  "board's, or n-XXXXXX from its MAC")
    p.add_argument("--channel", type=int, help="Wi-Fi channel 1-14 (default: keep, or 1)")
    p.add_argument("--board", help="board profile from boards/ (writes board.json)")
    p.add_argument("--key-file", default=None,
                   help="network key file, made on first use (default: ./%s; for a node of a "
                        "running emulation, that emulation's key)" % DEFAULT_KEY_FILE)
    p.add_argument("--operator-key", metavar="FILE", default=None,
                   help="operator key file, made on first use (default: %s beside the network key "
                        "file); each node gets only its own admin key derived from it" % OPERATOR_KEY_FILE)
    p.add_argument("--firmware", metavar="DIR", default=None,
                   help="firmware tree to deploy (default: this project's firmware/)")
    p.add_argument("--wifi", metavar="SSID", help="make the node an MQTT gateway: the access point it joins")
    p.add_argument("--wifi-password", metavar="PW", help="the access point's password (never printed)")
    p.add_argument("--mqtt", metavar="URL", help="the broker a gateway publishes to: mqtt://[user:pass@]host[:port]")
    p.add_argument("--allow-commands", action="store_true",
                   help="a gateway runs set/ping/reboot from MQTT (set and reboot on itself only; docs/mqtt.md)")
    p.add_argument("--app", metavar="PATH", help="the user's app (docs/app-api.md): a .py file, or a folder "
                        "with app.py or an app/ package; compiled and installed beside nowmesh. Without "
                        "--app a deploy keeps the app the board has")
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--json", action="store_true", help="print one JSON object")


def run(args):
    key_file, why = key_file_for(args.key_file, port=None if args.all else args.port,
                                 state_dir=args.state_dir if args.all else None)
    args.key_note = "network key: %s (%s)" % (key_file, why)
    options = DeployOptions(name=args.name, channel=args.channel, board=args.board,
                            key_file=key_file, operator_key_file=args.operator_key, baud=args.baud,
                            firmware_dir=_firmware_dir(args.firmware),
                            gateway=gateway_fields(args.wifi, args.wifi_password, args.mqtt, args.allow_commands),
                            app=_app_path(args.app))
    if args.all:
        return _run_all(args, options)
    if not args.port:
        raise InputError("command line", "PORT", "give a port (`nowmesh ports` lists them) or --all")
    if args.state_dir:
        raise InputError("command line", "--state-dir", "only with --all")
    result = deploy_board(args.port, options, _Progress(args.json).show)
    result["key_file"] = key_file
    if args.json:
        print(json.dumps(result, sort_keys=True))
    else:
        print(_summary(result))
        print(args.key_note)
    return 0


def _app_path(path):
    if path is not None and not os.path.exists(path):
        raise InputError("command line", "--app", "%s does not exist" % path)
    return path


def _firmware_dir(path):
    if path is None:
        return None                     # the bundled firmware
    if not os.path.isfile(os.path.join(path, "main.py")):
        raise InputError("command line", "--firmware", "%s has no main.py: not a firmware tree" % path)
    return path


def _run_all(args, options):
    if args.port:
        raise InputError("command line", "PORT", "give a port or --all, not both")
    if args.name:
        raise InputError("command line", "--name", "every board needs its own name: not with --all")
    targets = (fleet.emulated_ports(args.state_dir) if args.state_dir
               else [(port, None) for port in fleet.usb_ports()])
    if not targets:
        raise ToolError("no boards found (plugged in? `nowmesh ports` lists serial ports)")
    results = fleet.deploy_all(targets, options, _Progress(args.json, prefixed=True).show)
    failed = [r for r in results if "error" in r]
    if args.json:
        print(json.dumps({"boards": results, "ok": len(results) - len(failed), "failed": len(failed),
                          "key_file": options.key_file}, sort_keys=True))
    else:
        for r in results:
            print("%-14s %s" % (r["port"], "FAILED: " + r["error"] if "error" in r else _summary(r)))
        print("%d of %d boards deployed" % (len(results) - len(failed), len(results)))
        print(args.key_note)
    return 1 if failed else 0


def _summary(r):
    state = "restarted" if r.get("restarted") else "up to date, left running"
    return ("%(name)s (%(id)s, channel %(channel)s): %(files_sent)d sent, %(files_unchanged)d "
            "unchanged, %(files_removed)d removed; %(bytes_sent)d bytes written in %(seconds).2fs; "
            % r) + state


class _Progress:
    """Progress lines on stderr (stdout stays for the result)."""

    def __init__(self, quiet, prefixed=False):
        self.quiet = quiet
        self.prefixed = prefixed
        self.lock = threading.Lock()

    def show(self, *event):
        if self.quiet:
            return
        port, event = (event[0], event[1:]) if self.prefixed else ("", event)
        stage = event[0]
        text = "%s %d/%d" % (stage, event[1] + 1, event[2]) if stage == "sending" else \
            " ".join(str(e) for e in event)
        with self.lock:
            print("%s%s" % (port + ": " if port else "", text), file=sys.stderr, flush=True)
