"""One-shot queries of a nowmesh mesh through the node on PORT.

--node NAME (a node name or its id aa:bb:cc:dd:ee:ff) runs the command on
another node through the mesh (status, neighbors, routes, config-get,
config-set, reboot), names the target (ping, trace, send) or picks one
node's reading (readings). config-set and reboot on another node are signed
with the operator key (./nowmesh-operator-key.json, or the emulation's, or
--operator-key FILE), which `nowmesh deploy` made and installed. --json
prints one JSON object (shapes in docs/host-tools.md). Exit 0 on success,
1 when the node or mesh fails, 2 for bad input.

Examples:
  nowmesh nodes /dev/ttyUSB0
  nowmesh nodes /dev/ttyUSB0 --json
  nowmesh ping /dev/ttyUSB0 --node barn --json
  nowmesh trace /dev/ttyUSB0 --node barn
  nowmesh config-set /dev/ttyUSB0 --node barn interval_s 60
  nowmesh reboot /dev/ttyUSB0 --node barn
  nowmesh command /dev/ttyUSB0 --node barn pump on   # the app's handler (docs/app-api.md)

`command` runs a handler of the user's app (mesh.on_command); on another
node it is signed with the operator key when there is one, and the target
runs it signed, or unsigned if the app marked the command open.
"""
import json
import os
import sys

from nowmesh.deploy.config import load_operator_key, operator_key_file_for
from nowmesh.errors import InputError
from nowmesh.query import MeshSession, fetch_list, known_nodes, ping, resolve, text, trace
from nowmesh.query.admin import authorised
from nowmesh.query.nodes import add_fw, name_of

# Entries per reply: a node builds each reply in its small heap.
READINGS_PAGE, ROUTES_PAGE = 4, 8
# Commands that need --node, and those that cannot take it.
TARGET_REQUIRED = ("ping", "trace", "send")
LOCAL_ONLY = ("nodes",)


def _json_value(word):
    try:
        return json.loads(word)
    except ValueError:
        return word                 # a bare word is a string: `config-set name barn`


_OPERATOR_KEY = ("--operator-key", {"metavar": "FILE", "help": "operator key file for --node (default: "
                                    "./nowmesh-operator-key.json, or the emulation's for its nodes)"})
# Extra arguments per command: (name, argparse options).
EXTRA_ARGUMENTS = {
    "send": [("text", {"help": "the message (one argument: quote it)"})],
    # An option, not an optional positional: argparse would give an optional
    # positional to PORT's chunk when --node comes between them.
    "config-get": [("--field", {"help": "one field (default: the whole config)"})],
    "config-set": [("field", {"help": "the config field, such as interval_s or name"}),
                   ("value", {"type": _json_value, "help": "its new value as JSON (60, \"barn\", null to remove); "
                                                           "a bare word is a string"}), _OPERATOR_KEY],
    "reboot": [_OPERATOR_KEY],
    "command": [("name", {"help": "the app's command (mesh.on_command)"}),
                ("args", {"nargs": "*", "help": "its arguments, as strings"}), _OPERATOR_KEY],
}


def add_arguments(p):
    name = p.prog.split()[-1]
    p.add_argument("port", help="serial port path or pyserial URL of a node of the mesh")
    p.add_argument("--node", metavar="NAME", required=name in TARGET_REQUIRED,
                   help="a node's name or id (aa:bb:cc:dd:ee:ff)")
    for arg, options in EXTRA_ARGUMENTS.get(name, ()):   # positional ones follow PORT
        p.add_argument(arg, **options)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--baud", type=int, default=115200)


def _where(session, target):
    node_id = target or session.local_id
    return {"node": name_of(session, node_id) or node_id, "id": node_id}


def _checked(session, target):
    """A remote target must run this nowmesh too (its hello says so)."""
    if target is not None:
        session.remote_hello(target)
    return target


def _nodes(session, target, args):
    nodes = add_fw(session, known_nodes(session))        # fw: what each node runs (docs/ota.md)
    return {"node": session.local_name, "id": session.local_id, "nodes": nodes}, True


def _status(session, target, args):
    return session.command("status", node=_checked(session, target)), True


def _listing(command, key, page=None):
    def run(session, target, args):
        node = _checked(session, target)
        data = fetch_list(session, command, node, page) if page else session.command(command, node=node)
        for entry in data:          # a remote node knows few names; the session may know more
            entry["name"] = entry.get("name") or session.names.get(entry.get("id"))
        return dict(_where(session, target), **{key: data}), True
    return run


def _readings(session, target, args):
    data = fetch_list(session, "readings", page=READINGS_PAGE)
    if target is not None:
        data = [r for r in data if r["id"] == target]
    return dict(_where(session, None), readings=data), True


def _ping(session, target, args):
    doc = ping(session, target)
    return doc, doc["ok"]


def _trace(session, target, args):
    known_nodes(session)            # names for every hop
    doc = trace(session, target)
    return doc, doc["ok"]


def _send(session, target, args):
    session.command("send", {"node": target, "data": args.text})
    return dict(_where(session, target), ok=True), True


def _config_get(session, target, args):
    data = session.command("config_get", {"field": args.field} if args.field else None,
                           node=_checked(session, target))
    return dict(_where(session, target), config=data), True


def _signed(session, target, args, command, command_args):
    """command_args, with the operator's token when the command goes to another node."""
    if target is None:
        return command_args         # the node on PORT: the USB line is the operator's
    path, _why = operator_key_file_for(args.operator_key, port=args.port)
    return authorised(session, target, command, command_args, load_operator_key(path))


def _config_set(session, target, args):
    target = _checked(session, target)
    data = session.command("config_set", _signed(session, target, args, "config_set",
                                                 {"field": args.field, "value": args.value}), node=target)
    return dict(_where(session, target), field=args.field, value=args.value,
                saved=data.get("saved"), reboot_needed=data.get("reboot_needed")), True


def _reboot(session, target, args):
    target = _checked(session, target)
    session.command("reboot", _signed(session, target, args, "reboot", {}) or None, node=target)
    return dict(_where(session, target), rebooting=True), True


def _app_command(session, target, args):
    target = _checked(session, target)
    command_args = {"name": args.name, "args": list(args.args)}
    if target is not None:
        path, _why = operator_key_file_for(args.operator_key, port=args.port)
        if args.operator_key or os.path.exists(path):    # without a key: open commands only
            command_args = authorised(session, target, "app", command_args, load_operator_key(path))
    data = session.command("app", command_args, node=target)
    return dict(_where(session, target), command=args.name, args=list(args.args), result=data), True


# command -> (runner, text formatter)
COMMANDS = {
    "status": (_status, text.status_text),
    "nodes": (_nodes, text.nodes_text),
    "neighbors": (_listing("neighbours", "neighbours"), text.neighbours_text),
    "routes": (_listing("routes", "routes", ROUTES_PAGE), text.routes_text),
    "readings": (_readings, text.readings_text),
    "ping": (_ping, text.ping_text),
    "trace": (_trace, text.trace_text),
    "send": (_send, text.send_text),
    "config-get": (_config_get, text.config_text),
    "config-set": (_config_set, text.config_set_text),
    "reboot": (_reboot, text.reboot_text),
    "command": (_app_command, text.app_command_text),
}


def warn_restarts(session):
    for note in (session.restart_note(), session.garbage_note()):
        if note:
            print(note, file=sys.stderr)


def run(args):
    runner, formatter = COMMANDS[args.command]
    if args.node is not None and args.command in LOCAL_ONLY:
        raise InputError("command line", "--node", "%s lists what the node on PORT knows; "
                                                    "connect to the other node's port instead" % args.command)
    with MeshSession(args.port, args.baud) as session:
        target = resolve(session, args.node)
        if target is None and args.command in TARGET_REQUIRED:
            raise InputError("command line", "--node", "%s needs another node than the one on PORT"
                             % args.command)
        doc, ok = runner(session, target, args)
    print(json.dumps(doc, sort_keys=True) if args.json else formatter(doc), flush=True)
    warn_restarts(session)
    return 0 if ok else 1
