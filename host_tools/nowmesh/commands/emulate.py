"""Run a live emulated mesh: real micropython processes running the firmware,
each behind a serial-port path that mpremote, ampy, pyserial and nowmesh open
like a USB board, joined by a real-time radio medium.

Examples:
  nowmesh emulate --nodes 5 --topology line --state-dir /tmp/mesh
  nowmesh emulate --topology examples/house.json --seconds 120
Then, in another terminal:
  nowmesh console $(jq -r '.nodes[0].port' /tmp/mesh/nodes.json) --json
  mpremote connect /dev/pts/N exec "print(1)"
"""
import signal
import time

from nowmesh.emulator import DEFAULT_HEAP, Emulation
from nowmesh.sim.radio import ENVIRONMENTS


def add_arguments(p):
    p.add_argument("--nodes", type=int, default=5, help="node count for generated layouts")
    p.add_argument("--topology", default="line", metavar="line|grid|random|FILE")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--state-dir", metavar="DIR",
                   help="where each node's flash folder and nodes.json live (kept between runs)")
    p.add_argument("--board", default="esp32-devkitc", help="board profile the nodes pretend to be")
    p.add_argument("--heap", default=DEFAULT_HEAP, help="micropython heap per node (default %(default)s)")
    p.add_argument("--interval", type=float, default=10.0, metavar="S", help="seconds between readings")
    p.add_argument("--loss", type=float, default=0.0, metavar="P", help="extra per-frame loss")
    p.add_argument("--environment", choices=sorted(ENVIRONMENTS), default="indoor")
    p.add_argument("--seconds", type=float, default=None, help="stop after this long (default: Ctrl-C)")
    p.add_argument("--capture", metavar="FILE", help="record every frame on air; read it with nowmesh decode")


def run(args):
    if not 1 <= args.nodes <= 200:
        args._parser.error("--nodes must be between 1 and 200")
    if not 0.0 <= args.loss < 1.0:
        args._parser.error("--loss must be in [0, 1)")
    emu = Emulation(args.topology, nodes=args.nodes, seed=args.seed, state_dir=args.state_dir,
                    board=args.board, heap=args.heap, interval_s=args.interval, loss=args.loss,
                    environment=args.environment, capture=args.capture)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    with emu:
        _print_table(emu)
        try:
            end = None if args.seconds is None else time.monotonic() + args.seconds
            while end is None or time.monotonic() < end:
                time.sleep(0.2)
        except KeyboardInterrupt:
            pass
        print("stopping %d nodes" % len(emu.nodes), flush=True)
    return 0


def _print_table(emu):
    rows = [("node", "mac", "port", "pid")] + [
        (n.name, n.mac.hex(":"), n.port or "-", str(n.pid or "-")) for n in emu.nodes]
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    print("medium %s:%d; nodes.json in %s; Ctrl-C stops" % (tuple(emu.medium.address) + (emu.state_dir,)),
          flush=True)
