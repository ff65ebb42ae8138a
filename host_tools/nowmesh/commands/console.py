"""Stream a node's console events, or send it one command and print the reply.

Works on any serial port path or pyserial URL: a USB board, an emulated
node's pty, rfc2217://host:port.

Examples:
  nowmesh console /dev/ttyUSB0                      # readable event stream
  nowmesh console /dev/ttyUSB0 --json --seconds 20  # JSON lines for scripts
A board left at the MicroPython REPL (main.py stopped, as after `mpremote
exec`) is soft-reset so nowmesh runs and its events flow; --no-start leaves it.
  nowmesh console /dev/ttyUSB0 --command status
  nowmesh console /dev/ttyUSB0 --command 'ping 24:0a:c4:aa:bb:cc'
  nowmesh console /dev/ttyUSB0 --command status --node 24:0a:c4:aa:bb:cc
"""
import json
import sys
import time

from nowmesh.console import ConsoleClient, parse_command_text
from nowmesh.console.connection import REMOTE_TIMEOUT_S


def add_arguments(p):
    p.add_argument("port", help="serial port path or pyserial URL")
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--json", action="store_true", help="JSON lines instead of text")
    p.add_argument("--seconds", type=float, default=None, help="stop streaming after this long")
    p.add_argument("--command", metavar="'CMD ARGS'",
                   help="send one command (status, neighbours, routes, readings, ping NODE, "
                        "send NODE TEXT, config_get [FIELD], config_set FIELD VALUE, reboot)")
    p.add_argument("--node", help="run --command on this remote node, through the mesh")
    p.add_argument("--timeout", type=float, default=REMOTE_TIMEOUT_S, help="seconds to wait for a reply")
    p.add_argument("--no-start", action="store_true",
                   help="leave a board that sits at the MicroPython REPL there (default: Ctrl-D starts main.py)")


def run(args):
    if args.seconds is not None and args.seconds <= 0:
        args._parser.error("--seconds must be positive")
    if args.command is not None:
        try:
            name, cmd_args = parse_command_text(args.command)
        except ValueError as exc:
            args._parser.error("--command: %s" % exc)
        with ConsoleClient(args.port, args.baud) as client:
            data = client.command(name, cmd_args, args.node, args.timeout)
        print(json.dumps(data, sort_keys=True) if args.json else _pretty(data))
        return 0
    with ConsoleClient(args.port, args.baud) as client:
        if not args.no_start and client.start_if_at_repl():
            print("%s was at the MicroPython REPL (main.py stopped, e.g. by mpremote): soft-reset it "
                  "to start nowmesh (--no-start leaves it)" % args.port, file=sys.stderr, flush=True)
        for line in client.lines(args.seconds):
            _show(line, args.json)
    return 0


def _show(line, as_json):
    if as_json:
        if line.kind in ("event", "reply"):
            print(json.dumps(line.data, sort_keys=True), flush=True)
        elif line.kind == "text" and line.text:
            print(json.dumps({"ev": "output", "text": line.text}), flush=True)
        elif line.kind == "garbage":
            print(json.dumps({"ev": "garbage", "text": line.text[:200], "error": line.error}), flush=True)
        return
    stamp = time.strftime("%H:%M:%S")
    if line.kind == "event":
        print("%s %-10s %s" % (stamp, line.data.get("ev"), _describe(line.data)), flush=True)
    elif line.kind == "mismatch":
        print("%s !! console protocol mismatch: %s" % (stamp, line.text), flush=True)
    elif line.kind == "garbage":
        print("%s ?? garbage (%s): %s" % (stamp, line.error, line.text[:200]), flush=True)
    elif line.kind == "text" and line.text:
        print("%s | %s" % (stamp, line.text), flush=True)


def _describe(event):
    if event.get("ev") == "reading":
        values = " ".join("%s=%s%s" % (n, v, u) for n, v, u in event.get("values", []))
        return "%s #%s %s" % (event.get("name") or event.get("id"), event.get("seq"), values)
    return " ".join("%s=%s" % (k, v) for k, v in sorted(event.items()) if k != "ev")


def _pretty(data):
    if isinstance(data, dict):
        return "\n".join("%s: %s" % (k, json.dumps(v)) for k, v in sorted(data.items()))
    if isinstance(data, list):
        return "\n".join(json.dumps(item, sort_keys=True) for item in data)
    return json.dumps(data)
