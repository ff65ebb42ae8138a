"""Run one emulated board in the foreground:

    python -m nowmesh.emulation.board FLASH_DIR [--extra DIR ...] [--heap 110K] [--link PATH]

Prints the port path (a pty) on the first line of stdout, then keeps the board
running until SIGTERM or Ctrl-C. --link makes a stable symlink to the pty.
"""
import argparse
import os
import signal
import sys
import threading

from .pty_board import EmulatedBoard


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m nowmesh.emulation.board", description=__doc__.split("\n\n")[0])
    ap.add_argument("flash_dir", help="the node's flash filesystem (a directory)")
    ap.add_argument("--extra", action="append", default=[],
                    help="directory of emulation-only modules (espnow, network, machine...); repeatable")
    ap.add_argument("--heap", default="110K", help="heap free for user code (default 110K)")
    ap.add_argument("--micropython", default=None, help="micropython executable")
    ap.add_argument("--link", default=None, help="also make this symlink to the pty")
    ap.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                    help="environment variable for the interpreter; repeatable")
    args = ap.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    board = EmulatedBoard(args.flash_dir, micropython=args.micropython, micropypath_extra=args.extra,
                          heap=args.heap, env=env)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *a: done.set())
    board.start()
    try:
        if args.link:
            if os.path.islink(args.link):
                os.unlink(args.link)
            os.symlink(board.port, args.link)
        print(board.port, flush=True)
        while not done.wait(0.5):
            if not board.running:
                return 1
    finally:
        board.stop()
        if args.link and os.path.islink(args.link):
            os.unlink(args.link)
    return 0


if __name__ == "__main__":
    sys.exit(main())
