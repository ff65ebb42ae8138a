"""Update every node of the mesh over the radio, through the node on PORT.

Builds the bundle from the firmware tree (the same files and bundle id that
`nowmesh deploy` copies), signs its manifest with the operator key
(./nowmesh-operator-key.json, or the emulation's, or --operator-key FILE;
the signature counter nowmesh-ota-state.json lives beside it), hands it to
the node on PORT, and follows every node the mesh knows. Two-phase by
default: once every node holds the whole verified bundle, each gets the
operator's signed go (`ota_install`) and installs it; with --now each node
installs as soon as it holds it. A new bundle confirms itself when it hears
the mesh within --confirm-s; one that does not within 3 boots rolls back.
Progress goes to stderr; --json prints one object with each node's result.
Exit 0 when every node runs the new bundle, 1 naming each node that does
not (rolled back, refused, still holding, no answer) and why, 2 for bad input.

Examples:
  nowmesh ota /dev/ttyUSB0
  nowmesh ota /dev/ttyUSB0 --now --json
  nowmesh ota /dev/ttyUSB0 --node greenhouse-3 --node greenhouse-4
  nowmesh ota /dev/ttyUSB0 --firmware-dir ./firmware --timeout 600 --json
"""
import contextlib
import json
import os
import sys
import time

from nowmesh.console import ConsoleError
from nowmesh.deploy.config import load_operator_key, operator_key_file_for
from nowmesh.errors import InputError
from nowmesh.query import MeshSession


def add_arguments(p):
    p.add_argument("port", help="serial port path or pyserial URL of a node of the mesh")
    p.add_argument("--firmware-dir", metavar="DIR", default=None,
                   help="firmware tree to build the bundle from (default: the installed nowmesh's)")
    p.add_argument("--operator-key", metavar="FILE", default=None,
                   help="operator key file (default: ./nowmesh-operator-key.json, or the emulation's)")
    p.add_argument("--timeout", type=float, default=300.0, metavar="S",
                   help="seconds to wait for every node to run the bundle (default 300)")
    p.add_argument("--now", action="store_true",
                   help="each node installs as soon as it holds the bundle (default: all hold, then all switch)")
    p.add_argument("--confirm-s", type=int, default=60, metavar="S",
                   help="a new bundle must hear a neighbour within S seconds of booting (5-3600, default 60)")
    p.add_argument("--node", action="append", metavar="NAME", default=None,
                   help="update only this node (name or MAC; repeat for more; default every node the "
                        "mesh knows): the others still carry the bundle, and with --now install it too")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--baud", type=int, default=115200)


def _progress(text):
    print(text, file=sys.stderr, flush=True)


def _signed_bundle(session, args):
    from nowmesh.bundle import Compiler
    from nowmesh.ota.manifest import build_signed
    if args.firmware_dir is not None and not os.path.isdir(args.firmware_dir):
        raise InputError("command line", "--firmware-dir", "%s is not a folder" % args.firmware_dir)
    key_path, _why = operator_key_file_for(args.operator_key, port=args.port)
    operator_key = load_operator_key(key_path)
    mpy = session.command("files_digest", {"paths": []})["mpy"]     # the board's .mpy version
    compiler = Compiler(mpy & 0xFF, (mpy >> 8) & 3, mpy >> 10)
    version = int(time.time())
    signed, image, bundle = build_signed(compiler, operator_key, key_path,
                                         root=args.firmware_dir, version=version,
                                         activate="now" if args.now else None, confirm_s=args.confirm_s)
    return version, signed, image, bundle, operator_key


def _targets(session, picked):
    """{node id: name} of the nodes to follow: every node the mesh knows, or
    those --node names (InputError for a name the mesh does not know)."""
    from nowmesh.ota.push import known_names
    known = known_names(session)
    if not picked:
        return known
    out = {}
    for want in picked:
        found = [i for i, name in known.items() if want in (name, i)]
        if not found:
            raise InputError("command line", "--node", "%r is not a node this mesh knows (%s)" % (
                want, ", ".join(sorted(n or i for i, n in known.items()))))
        out[found[0]] = known[found[0]]
    return out


def _known_now(session):
    """The nodes the node on the port knows after the hand-over (a mesh that
    just booted is still being learnt when the command starts); {} if it is
    already restarting into the bundle (--now)."""
    from nowmesh.errors import ToolError
    from nowmesh.ota.push import known_names
    try:
        return known_names(session)
    except (ToolError, ConsoleError):
        return {}


@contextlib.contextmanager
def _open(args, tries=3):
    """A session to the node on the port; again (2 s later) if the node
    restarted while it opened: an update restarts nodes (install, trial)."""
    from nowmesh.errors import ToolError
    for attempt in range(tries):
        try:
            session = MeshSession(args.port, baudrate=args.baud).__enter__()
            break
        except ToolError as exc:
            if "restarted" not in str(exc) or attempt == tries - 1:
                raise
            time.sleep(2.0)
    try:
        yield session
    finally:
        session.__exit__(None, None, None)


def run(args):
    from nowmesh.bundle.build import OTA_PAGE_SIZE
    from nowmesh.ota.push import OtaFailed, activate_with, follow, offer
    if args.timeout <= 0:
        raise InputError("command line", "--timeout", "must be a positive number of seconds")
    if not 5 <= args.confirm_s <= 3600:
        raise InputError("command line", "--confirm-s", "must be 5..3600 seconds")
    failed = None
    with _open(args) as session:
        # the targets before the hand-over: with --now the node on the port
        # installs and restarts, and then knows only itself for a while
        targets = _targets(session, args.node)
        version, signed, image, bundle, operator_key = _signed_bundle(session, args)
        _progress("bundle %s version %d: %d bytes, %d pages" % (
            bundle, version, len(image), -(-len(image) // OTA_PAGE_SIZE)))
        try:
            offer(session, signed, image, OTA_PAGE_SIZE, _progress)
        except ConsoleError as exc:
            # said like any other outcome (a script reading --json gets its object)
            failed = OtaFailed("%s did not take the bundle: %s" % (session.local_name or args.port, exc))
        if not args.node and failed is None:
            targets.update(_known_now(session))
    results = []
    if failed is None:
        activate = None if args.now else activate_with(operator_key, version)
        try:
            results = follow(lambda: _open(args), version, bundle,
                             args.timeout, _progress, activate, nodes=targets)
        except OtaFailed as exc:
            results, failed = exc.results, exc
    out = {"bundle": bundle, "version": version, "ok": failed is None, "nodes": results}
    if failed is not None:
        out["error"] = str(failed)
    if args.json:
        print(json.dumps(out))
    else:
        for r in results:
            print("%-12s %s  %s" % (r["name"] or "?", r["id"], "ok" if r["ok"] else r["reason"]))
    if failed is not None:
        print("nowmesh ota: %s" % failed, file=sys.stderr)
        return 1
    return 0
