"""The unchanged re-deploy without stopping the node.

A node running nowmesh answers console commands while the mesh runs. Four
pipelined commands (hello, status, config_get, files_digest) tell whether the
board already holds exactly the tree and config a deploy would write, and
runs with that name and channel (a `config-set` not yet applied by a reboot
is a difference): the board
hashes its files itself (firmware/meshport/fsdigest.py), the host computes the
same digest over what it would send. Equal: nothing is sent, main.py keeps
running, the mesh loses nothing. Anything else (a REPL, another firmware, an
older nowmesh without files_digest, a difference): None, and the deploy goes
through the raw REPL.
"""
import hashlib
import time

from nowmesh.bundle import Compiler, admin_fields, mac_admin_id, node_config, node_files
from nowmesh.console.client import ConsoleClient
from nowmesh.console.connection import Output, Prompt, Reply

ANSWER_S = 1.0                 # overall; a running node answers within its 50 ms console poll
NOT_NOWMESH = ("Traceback", "\x04")     # besides the REPL's own signs (Output.from_repl)


def tree_digest(tree):
    """The digest fsdigest.digest computes on the board, over {path: bytes}."""
    total = hashlib.sha256()
    for path in sorted(tree):
        total.update(path.encode() + b"\n" + hashlib.sha256(tree[path]).hexdigest().encode() + b"\n")
    return total.hexdigest()


def ask(repl, paths):
    """-> {"hello", "status", "config", "files"} from a running nowmesh node, or None."""
    commands = (("hello", None), ("status", None), ("config_get", None),
                ("files_digest", {"paths": paths}))
    repl.discard_input()
    console = ConsoleClient(repl.url, port=repl)
    now = time.monotonic()
    # overall: a chatty device must not keep us here
    requests = [console.connection.request(name, args, now=now, timeout=ANSWER_S) for name, args in commands]
    console.flush()
    answers = {}
    while len(answers) < len(requests):
        for event in console.read_some():
            if isinstance(event, Prompt) or isinstance(event, Output) and _not_nowmesh(event):
                return None
            if isinstance(event, Reply) and event.request in requests:
                if not event.ok:
                    return None             # no answer, or e.g. an older nowmesh without files_digest
                answers[requests.index(event.request)] = event.data
    return {"hello": answers[0], "status": answers[1], "config": answers[2], "files": answers[3]}


def _not_nowmesh(output):
    """A REPL talking, a traceback, or our own command echoed: not a running nowmesh."""
    return output.from_repl or output.echoed_command or any(sign in output.text for sign in NOT_NOWMESH)


def up_to_date(repl, options, key, profile, operator_key):
    """-> a deploy result if the board already has everything, else None."""
    paths = options.managed_files(profile) + options.owned_dirs()
    found = ask(repl, paths)
    if found is None or not isinstance(found["config"], dict):
        return None
    files = found["files"]
    compiler = Compiler(files["mpy"] & 0xFF, (files["mpy"] >> 8) & 3, files["mpy"] >> 10)
    tree = options.local_files(compiler)
    shown = dict(found["config"])
    shown.pop("key", None)                    # shown masked; ours goes in, the digest checks it
    shown.pop("admin_key", None)              # likewise
    node_id = (found["hello"] or {}).get("id")
    if not isinstance(node_id, str):
        return None
    if options.gateway:
        return None                           # Wi-Fi/MQTT settings are masked too: write them
    config = node_config(shown, key, options.name, options.channel, options.board,
                         admin_fields(operator_key, mac_admin_id(node_id)))
    running = found["status"] or {}
    if "name" not in config or (running.get("name"), running.get("channel")) != \
            (config["name"], config["channel"]):
        return None
    tree.update(node_files(config, profile))
    if tree_digest(tree) != files["digest"] or files["files"] != len(tree):
        return None
    hello = found["hello"]
    return {"files_sent": 0, "file_bytes_sent": 0, "files_committed": 0,
            "files_unchanged": len(tree), "files_removed": 0, "restarted": False,
            "mpy": compiler.bytecode, "arch": compiler.arch, "name": hello.get("name"),
            "id": hello.get("id"), "channel": running.get("channel"), "fw": hello.get("fw"),
            "board": hello.get("board")}
