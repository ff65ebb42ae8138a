"""Watch the whole mesh through one node: a live dashboard of nodes (name, id,
hops, last heard, link RSSI, uptime, free heap), the latest readings with
units and age, and recent events. Keys: p ping the selected node, s its
status, r poll now, q or Ctrl-C quit.

The node is polled every --poll seconds (readings, neighbours, routes,
status, and one remote node's status per round). Unplugging the board, a
reset or garbage on the line do not stop the monitor: it shows the link state
and reopens the port when it is back.

Examples:
  nowmesh monitor /dev/ttyUSB0
  nowmesh monitor /dev/ttyUSB0 --log farm.sqlite        # also record everything
  nowmesh monitor /dev/ttyUSB0 --json --seconds 60      # JSON lines, no dashboard
  nowmesh export farm.sqlite --csv --out farm.csv
"""
import sys

from nowmesh.errors import ToolError
from nowmesh.monitor.link import MonitorLink
from nowmesh.monitor.session import MonitorSession, json_printer, stream_json
from nowmesh.monitor.store import MonitorLog, check_log_path


def add_arguments(p):
    p.add_argument("port", help="serial port path or pyserial URL")
    p.add_argument("--baud", type=int, default=115200)
    p.add_argument("--json", action="store_true", help="stream records as JSON lines instead of the dashboard")
    p.add_argument("--seconds", type=float, default=None, help="stop after this long (default: q or Ctrl-C)")
    p.add_argument("--log", metavar="FILE.sqlite", help="record every reading and event in this SQLite file")
    p.add_argument("--poll", type=float, default=5.0, metavar="S", help="seconds between polls (default 5)")
    p.add_argument("--no-remote-status", dest="remote_status", action="store_false",
                   help="do not poll remote nodes' status through the mesh (less radio traffic)")


def run(args):
    if args.seconds is not None and args.seconds <= 0:
        args._parser.error("--seconds must be positive")
    if args.poll < 0.5:
        args._parser.error("--poll must be at least 0.5 seconds")
    if not args.json and not sys.stdout.isatty():
        raise ToolError("the dashboard needs a terminal; use --json for a stream of JSON lines")
    if args.log:
        check_log_path(args.log)      # a foreign or damaged file is refused before anything starts
    link = MonitorLink(args.port, args.baud, poll_s=args.poll, remote_status=args.remote_status)
    link.connect_once()               # a wrong port fails now, with one clear line
    try:
        log = MonitorLog(args.log, port=args.port) if args.log else None
    except BaseException:
        link.stop()
        raise
    if args.json:
        session = MonitorSession(link, log=log, on_record=json_printer())
        link.start()
        stream_json(session, args.seconds)
        return 0
    return _dashboard(MonitorSession(link, log=log), args.seconds)


def _dashboard(session, seconds):
    from nowmesh.monitor.app import MonitorApp
    try:
        MonitorApp(session, seconds=seconds).run()
    finally:
        session.close()               # the app closes it on unmount; this covers a crash
    return 0
