"""Publish the whole mesh, as the board on PORT sees it, to an MQTT broker,
with Home Assistant discovery: every node becomes a device with one sensor per
quantity (temperature, humidity, ...) plus diagnostics (link RSSI, hops,
uptime, free heap, last seen). Schema: docs/mqtt.md.

Unplugging the board and broker restarts are ridden out (the broker is
reconnected with back-off); readings that arrive while the broker is away
wait in the --queue file (SQLite, bounded) and are published in order
afterwards, also after a restart of the bridge.

Commands from MQTT (<base>/<node>/set with JSON config keys, .../ping,
.../reboot; answers on .../response) are refused unless --allow-commands.

Examples:
  nowmesh bridge /dev/ttyUSB0 --mqtt mqtt://192.168.1.10
  nowmesh bridge /dev/ttyUSB0 --mqtt mqtts://ha:secret@broker.example:8883 --allow-commands
  nowmesh bridge /dev/pts/3 --mqtt mqtt://127.0.0.1:1883 --json --seconds 60
"""
import argparse

from nowmesh.errors import InputError
from nowmesh.monitor.link import MonitorLink
from nowmesh.mqtt import schema
from nowmesh.mqtt.bridge import Bridge, json_logger, text_logger
from nowmesh.mqtt.options import parse_broker_url
from nowmesh.mqtt.outbox import MAX_ROWS, Outbox


def add_arguments(p):
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("port", help="serial port path or pyserial URL of the board")
    p.add_argument("--mqtt", required=True, metavar="URL", help="mqtt://[user:pass@]host[:port] or mqtts://...")
    p.add_argument("--base-topic", default=schema.DEFAULT_BASE, help="topic root (default nowmesh)")
    p.add_argument("--discovery-prefix", default=schema.DEFAULT_PREFIX,
                   help="Home Assistant discovery prefix (default homeassistant)")
    p.add_argument("--allow-commands", action="store_true", help="run set/ping/reboot commands from MQTT")
    p.add_argument("--operator-key", metavar="FILE",
                   help="signs set/reboot for nodes other than the board (default: ./nowmesh-operator-key.json, "
                        "or the emulation's for its nodes)")
    p.add_argument("--queue", default="nowmesh-bridge.sqlite", metavar="FILE",
                   help="readings waiting for the broker (default ./nowmesh-bridge.sqlite)")
    p.add_argument("--queue-max", type=int, default=MAX_ROWS, metavar="N",
                   help="at most this many waiting readings; the oldest go first (default %d)" % MAX_ROWS)
    p.add_argument("--json", action="store_true", help="log JSON lines on stdout instead of text on stderr")
    p.add_argument("--seconds", type=float, default=None, help="stop after this long (default: Ctrl-C)")
    p.add_argument("--poll", type=float, default=5.0, metavar="S", help="seconds between polls of the board")
    p.add_argument("--baud", type=int, default=115200)


def run(args):
    broker = parse_broker_url(args.mqtt)
    for flag, value in (("--base-topic", args.base_topic), ("--discovery-prefix", args.discovery_prefix)):
        try:
            schema.check_topic_part(flag, value)
        except ValueError as exc:
            raise InputError("command line", flag, str(exc).split(" ", 1)[1]) from None
    if args.queue_max < 1:
        raise InputError("command line", "--queue-max", "must be at least 1")
    if args.seconds is not None and args.seconds <= 0:
        raise InputError("command line", "--seconds", "must be positive")
    if args.poll < 0.5:
        raise InputError("command line", "--poll", "must be at least 0.5 seconds")
    outbox = Outbox(args.queue, args.queue_max)
    link = MonitorLink(args.port, args.baud, poll_s=args.poll)
    try:
        link.connect_once()            # a wrong port fails now, with one clear line
    except BaseException:
        outbox.close()
        raise
    bridge = Bridge(link, broker, outbox, args.base_topic, args.discovery_prefix, args.allow_commands,
                    json_logger() if args.json else text_logger(), args.operator_key)
    bridge.start()
    try:
        bridge.run(args.seconds)
    except KeyboardInterrupt:
        pass
    finally:
        bridge.stop()
    return 0
