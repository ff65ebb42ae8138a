"""Run a live emulated mesh: real micropython processes running the firmware,
each behind a serial-port path that mpremote, ampy, pyserial and nowmesh open
like a USB board, joined by a real-time radio medium.

Examples:
  nowmesh emulate --nodes 5 --topology line --state-dir /tmp/mesh
  nowmesh emulate --topology examples/house.json --seconds 120
  nowmesh emulate --topology examples/house.json --scenario examples/kill-revive.json
  nowmesh emulate --nodes 6 --topology grid --ap home:secret:6   # a Wi-Fi access point on channel 6
  nowmesh emulate --nodes 3 --node-flash n3=/tmp/n3.flash   # n3 boots from a flash file (docs/images.md)
Then, in another terminal:
  nowmesh console $(jq -r '.nodes[0].port' /tmp/mesh/nodes.json) --json
  mpremote connect /dev/pts/N exec "print(1)"
Control the running emulation (it serves DIR/control.sock):
  nowmesh emulate kill n3 --state-dir /tmp/mesh       # power n3 off
  nowmesh emulate restart n3 --state-dir /tmp/mesh    # power it on again (a fresh boot)
  nowmesh emulate cut n2 --state-dir /tmp/mesh        # n2 runs on but is off the air
  nowmesh emulate uncut n2 --state-dir /tmp/mesh
  nowmesh emulate loss 0.2 --state-dir /tmp/mesh      # extra per-frame loss
  nowmesh emulate move n4 300,40 --state-dir /tmp/mesh   # carry n4 to x=300 m, y=40 m
  nowmesh emulate partition n1,n2 --state-dir /tmp/mesh  # n1,n2 hear only each other
  nowmesh emulate partition n1,n2 n3,n4 --state-dir /tmp/mesh   # three groups (the rest is one)
  nowmesh emulate heal --state-dir /tmp/mesh           # undo the partition
  nowmesh emulate status --state-dir /tmp/mesh        # nodes, pids, ports, cut flags (JSON)
An attacker's radio: replay a capture into the running emulation, frame by frame
from each recorded sender MAC (docs/security.md):
  nowmesh emulate --nodes 3 --state-dir /tmp/mesh --capture /tmp/mesh.cap
  nowmesh emulate replay /tmp/mesh.cap --state-dir /tmp/mesh
One chip in ROM download mode for esptool is `nowmesh rom` (docs/rom-bootloader.md);
`--bootloader CHIP` here is its old spelling:
  nowmesh rom esp32s3 --flash-size 8MB --flash-file /tmp/s3.bin
"""
import json
import os
import signal
import sys
import time

from nowmesh.emulation.control import OPS, ControlServer, Controller, ScenarioPlayer, load_live_scenario, request
from nowmesh.emulation.mesh import APP_HEAP, DEFAULT_HEAP, Emulation
from nowmesh.commands import rom
from nowmesh.errors import InputError
from nowmesh.radio.model import ENVIRONMENTS


def add_arguments(p):
    p.add_argument("action", nargs="?", choices=OPS + ("replay",), metavar="ACTION",
                   help="control an emulation already running in --state-dir: %s, replay"
                        % ", ".join(OPS))
    p.add_argument("target", nargs="*", metavar="ARG",
                   help="kill/restart/cut/uncut NODE; move NODE X,Y; partition NODE,NODE [NODE,...] ...; "
                        "loss P; replay CAPTURE")
    p.add_argument("--gap-ms", type=float, default=None, metavar="MS",
                   help="replay: pause between frames (default 5)")
    p.add_argument("--nodes", type=int, default=5, help="node count for generated layouts")
    p.add_argument("--topology", default="line", metavar="line|grid|random|FILE")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--state-dir", metavar="DIR",
                   help="where each node's flash folder, nodes.json and control.sock live (kept between runs)")
    p.add_argument("--board", default="esp32-devkitc", help="board profile the nodes pretend to be")
    p.add_argument("--heap", default=None,
                   help="micropython heap per node (default %s; %s with --ap, and at each boot of a node "
                        "whose flash holds an app or Wi-Fi credentials: their code on the 64-bit host)"
                        % (DEFAULT_HEAP, APP_HEAP))
    p.add_argument("--interval", type=float, default=10.0, metavar="S", help="seconds between readings")
    p.add_argument("--loss", type=float, default=0.0, metavar="P", help="extra per-frame loss")
    p.add_argument("--environment", choices=sorted(ENVIRONMENTS), default="indoor")
    p.add_argument("--scenario", metavar="FILE",
                   help="apply a scenario file's kill/revive/reboot/loss events in real time")
    p.add_argument("--seconds", type=float, default=None, help="stop after this long (default: Ctrl-C)")
    p.add_argument("--capture", metavar="FILE", help="record every frame on air; read it with nowmesh decode")
    p.add_argument("--espnow-max-data-len", type=int, choices=(250, 1470), default=None,
                   help="every node's espnow.MAX_DATA_LEN (default: what the board profile's "
                        "firmware gives, 1470 for ESP-IDF >= 5.4 builds)")
    p.add_argument("--node-flash", action="append", default=[], metavar="NODE=FILE",
                   help="NODE boots from this flash file (e.g. written by esptool) instead of a "
                        "fresh firmware folder; repeatable (docs/images.md)")
    p.add_argument("--ap", metavar="SSID:PASSWORD:CHANNEL",
                   help="an emulated Wi-Fi access point the nodes' network.WLAN(STA_IF) can join; "
                        "joining puts that node's radio on CHANNEL (docs/emulation.md)")
    p.add_argument("--key-file", metavar="FILE",
                   help="give the other nodes the network key in this key file (nowmesh-key.json, "
                        "as in the images) instead of the emulator's test key")
    g = p.add_argument_group("one chip in ROM download mode (the old spelling of `nowmesh rom CHIP`)")
    g.add_argument("--bootloader", metavar="CHIP", choices=sorted(rom.CHIPS),
                   help="same as `nowmesh rom CHIP`: %s" % ", ".join(sorted(rom.CHIPS)))
    rom.add_flash_options(g)


def run(args):
    if args.bootloader:
        return rom.serve(args.bootloader, args.flash_size, args.flash_file)
    if args.action:
        return run_control(args)
    if args.target:
        args._parser.error("unexpected argument %r (actions: %s)" % (args.target[0], ", ".join(OPS)))
    if not 1 <= args.nodes <= 200:
        args._parser.error("--nodes must be between 1 and 200")
    if not 0.0 <= args.loss < 1.0:
        args._parser.error("--loss must be in [0, 1)")
    emu = Emulation(args.topology, nodes=args.nodes, seed=args.seed, state_dir=args.state_dir,
                    board=args.board, heap=args.heap, interval_s=args.interval, loss=args.loss,
                    environment=args.environment, capture=args.capture,
                    flash_images=_node_flash(args), espnow_max_data_len=args.espnow_max_data_len,
                    ap=args.ap, **_key(args))
    scenario = load_live_scenario(args.scenario, emu) if args.scenario else None
    controller = Controller(emu)
    os.makedirs(emu.state_dir, exist_ok=True)
    # Bound before any node starts: a folder where an emulation already runs is refused untouched.
    server = ControlServer(controller, emu.state_dir)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        with emu:
            server.start()
            player = ScenarioPlayer(controller, scenario).start() if scenario is not None else None
            try:
                _print_table(emu)
                _wait(args.seconds)
            finally:
                if player is not None:
                    player.stop()
                server.stop()       # before the nodes stop: no restart races the shutdown
            print("stopping %d nodes" % len(emu.nodes), flush=True)
    finally:
        server.stop()
    return 0


def _node_flash(args):
    pairs = [item.partition("=") for item in args.node_flash]
    for node, eq, path in pairs:
        if not (node and eq and path):
            args._parser.error("--node-flash takes NODE=FILE, such as --node-flash n3=/tmp/n3.flash")
    return {node: path for node, _, path in pairs}


def _key(args):
    if not args.key_file:
        return {}
    if not os.path.exists(args.key_file):
        raise InputError(args.key_file, "", "key file not found")
    from nowmesh.deploy.config import load_or_create_key
    return {"key": load_or_create_key(args.key_file)}


def _wait(seconds):
    try:
        end = None if seconds is None else time.monotonic() + seconds
        while end is None or time.monotonic() < end:
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass


def run_control(args):
    if not args.state_dir:
        args._parser.error("%s needs --state-dir DIR, the folder of the running emulation" % args.action)
    if args.action == "replay":
        return run_replay(args)
    arity, parse_fields, what, example = CONTROL_ARGS[args.action]
    usage = "%s takes %s, such as: nowmesh emulate %s --state-dir DIR" % (args.action, what, example)
    if len(args.target) != arity if arity is not None else not args.target:
        args._parser.error(usage)
    try:
        fields = parse_fields(args.target)
    except ValueError:
        args._parser.error(usage)
    data = request(args.state_dir, args.action, **fields)
    if args.action == "status":
        print(json.dumps(data, indent=2))
    elif args.action == "loss":
        print("loss %g" % data["loss"])
    elif args.action in ("partition", "heal"):
        print("%s: %s" % (args.action, " | ".join(",".join(g) for g in data["groups"])))
    else:
        print("%s %s: %s" % (args.action, data["name"], _state(data)))
    return 0


def run_replay(args):
    from nowmesh.emulation.replay import DEFAULT_GAP_MS, replay_capture
    if len(args.target) != 1:
        args._parser.error("replay takes one capture file, such as: nowmesh emulate replay /tmp/mesh.cap "
                           "--state-dir DIR")
    gap = DEFAULT_GAP_MS if args.gap_ms is None else args.gap_ms
    if not 0 <= gap <= 10000:
        args._parser.error("--gap-ms must be from 0 to 10000")

    def progress(done, total):
        if done == total or done % 200 == 0:
            print("replayed %d/%d frames" % (done, total), file=sys.stderr, flush=True)
    result = replay_capture(args.state_dir, args.target[0], gap, progress)
    print(json.dumps(result, sort_keys=True))
    return 0


def _xy(text):
    x, y = text.split(",")
    return [float(x), float(y)]


# action -> (positional argument count, None for one or more; request fields; what it takes; example)
CONTROL_ARGS = {
    "status": (0, lambda a: {}, "no argument", "status"),
    "heal": (0, lambda a: {}, "no argument", "heal"),
    "loss": (1, lambda a: {"p": float(a[0])}, "a probability", "loss 0.2"),
    "move": (2, lambda a: {"node": a[0], "xy": _xy(a[1])}, "a node and a position X,Y in metres",
             "move n2 120,40"),
    "partition": (None, lambda a: {"groups": [g.split(",") for g in a]},
                  "one or more comma-separated groups of nodes", "partition n1,n2"),
}
for _action in ("kill", "restart", "cut", "uncut"):
    CONTROL_ARGS[_action] = (1, lambda a: {"node": a[0]}, "a node name", "%s n2" % _action)


def _state(info):
    if not info["running"]:
        return "off"
    state = "running, pid %s, port %s" % (info["pid"], info["port"])
    return state + (", cut off the air" if info.get("cut") else "")


def _print_table(emu):
    rows = [("node", "mac", "port", "pid")] + [
        (n.name, n.mac.hex(":"), n.port or "-", str(n.pid or "-")) for n in emu.nodes]
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print("medium %s:%d; nodes.json and control.sock in %s; Ctrl-C stops"
          % (tuple(emu.medium.address) + (emu.state_dir,)), flush=True)
