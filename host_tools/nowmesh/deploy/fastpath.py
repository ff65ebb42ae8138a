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

from nowmesh.boards import BOARD_FILE, board_file_bytes
from nowmesh.console.protocol import answer_problem, format_command, parse_line
from nowmesh.deploy import build
from nowmesh.deploy.config import admin_fields, config_bytes, mac_admin_id, node_config

ANSWER_S = 1.0                 # overall; a running node answers within its 50 ms console poll
NOT_NOWMESH = (b">>> ", b"Traceback", b"raw REPL", b"\x04")


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
    repl.write("".join(format_command(90 + i, name, args) for i, (name, args) in enumerate(commands))
               .encode())
    answers = {}
    deadline = time.monotonic() + ANSWER_S      # overall: a chatty device must not keep us here
    while len(answers) < len(commands):
        raw = repl.read_until(b"\n", max(0.0, deadline - time.monotonic()))
        if raw is None or any(marker in raw for marker in NOT_NOWMESH):
            return None
        line = parse_line(raw.decode("utf-8", "replace"))
        if line.kind in ("text", "garbage") and b'"cmd":' in raw:
            return None                 # our own command echoed: a REPL is reading, not nowmesh
        if line.kind == "reply" and line.data["re"] in range(90, 90 + len(commands)):
            name = commands[line.data["re"] - 90][0]
            if not line.data["ok"] or answer_problem(name, line):
                return None             # e.g. an older nowmesh without files_digest: the full deploy
            answers[line.data["re"] - 90] = line.data.get("data")
    return {"hello": answers[0], "status": answers[1], "config": answers[2], "files": answers[3]}


def up_to_date(repl, options, key, profile, managed_files, operator_key):
    """-> a deploy result if the board already has everything, else None."""
    paths = list(managed_files) + list(build.PACKAGES)
    found = ask(repl, paths)
    if found is None or not isinstance(found["config"], dict):
        return None
    files = found["files"]
    compiler = build.Compiler(files["mpy"] & 0xFF, (files["mpy"] >> 8) & 3, files["mpy"] >> 10)
    tree = build.firmware_tree(compiler, options.firmware_dir)
    shown = dict(found["config"])
    shown.pop("key", None)                    # shown masked; ours goes in, the digest checks it
    shown.pop("admin_key", None)              # likewise
    node_id = (found["hello"] or {}).get("id")
    if not isinstance(node_id, str):
        return None
    config = node_config(shown, key, options.name, options.channel, options.board,
                         admin_fields(operator_key, mac_admin_id(node_id)))
    running = found["status"] or {}
    if "name" not in config or (running.get("name"), running.get("channel")) != \
            (config["name"], config["channel"]):
        return None
    tree["nowmesh.json"] = config_bytes(config)
    if profile:
        tree[BOARD_FILE] = board_file_bytes(profile)
    if tree_digest(tree) != files["digest"] or files["files"] != len(tree):
        return None
    hello = found["hello"]
    return {"files_sent": 0, "file_bytes_sent": 0, "files_committed": 0,
            "files_unchanged": len(tree), "files_removed": 0, "restarted": False,
            "mpy": compiler.bytecode, "arch": compiler.arch, "name": hello.get("name"),
            "id": hello.get("id"), "channel": running.get("channel"), "fw": hello.get("fw"),
            "board": hello.get("board")}
