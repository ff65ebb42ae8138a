"""A per-user list of running emulations, so `nowmesh ports` can show their nodes.

Each running `nowmesh.emulation.mesh.Emulation` writes one small file
`<pid>-<n>.json` = {"pid", "state_dir", "started"} into the registry folder
and removes it when it stops. One file per emulation means no locking and no
lost updates between processes. A process that died without cleaning up
leaves a file whose pid is gone; readers skip (and remove) such files.

The folder is $NOWMESH_RUNTIME_DIR, else $XDG_RUNTIME_DIR/nowmesh, else
<tmp>/nowmesh-<uid>: per user, so one user never lists another's emulations.
"""
import itertools
import json
import os
import tempfile
import time

_COUNTER = itertools.count(1)


def registry_dir():
    explicit = os.environ.get("NOWMESH_RUNTIME_DIR")
    if explicit:
        return explicit
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isdir(runtime):
        return os.path.join(runtime, "nowmesh")
    uid = os.getuid() if hasattr(os, "getuid") else "user"
    return os.path.join(tempfile.gettempdir(), "nowmesh-%s" % uid)


def register(state_dir):
    """Record a running emulation; returns the entry's path (for unregister).
    Never fails the emulation: a registry it cannot write only hides it from `ports`."""
    folder = registry_dir()
    path = os.path.join(folder, "%d-%d.json" % (os.getpid(), next(_COUNTER)))
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump({"pid": os.getpid(), "state_dir": os.path.abspath(state_dir),
                       "started": time.time()}, out)
        os.replace(tmp, path)
    except OSError:
        return None
    return path


def unregister(path):
    if path:
        try:
            os.remove(path)
        except OSError:
            pass


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:       # exists, owned by someone else
        return True
    except (OSError, TypeError, ValueError, OverflowError):
        return False
    return True


def running_emulations():
    """[{"pid", "state_dir", "started"}] of emulations whose process is alive."""
    folder = registry_dir()
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return []
    found = []
    for name in names:
        if not name.endswith(".json"):
            continue
        path = os.path.join(folder, name)
        entry = _read(path)
        if entry is None:
            continue
        if not pid_alive(entry.get("pid")):
            unregister(path)          # left behind by a process that was killed
            continue
        found.append(entry)
    return found


def _read(path):
    try:
        with open(path, encoding="utf-8") as f:
            entry = json.load(f)
    except (OSError, ValueError):
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("state_dir"), str):
        return None
    return entry


def read_nodes(state_dir):
    """The node entries of an emulation's DIR/nodes.json; [] if it is missing
    or not a nodes file (an emulation may be starting or stopping)."""
    try:
        with open(os.path.join(state_dir, "nodes.json"), encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, ValueError):
        return []
    nodes = data.get("nodes") if isinstance(data, dict) else None
    return [n for n in nodes if isinstance(n, dict)] if isinstance(nodes, list) else []


def emulation_of_port(port):
    """The state folder of the running emulation that has a node on `port`, or None."""
    try:
        wanted = os.path.realpath(port)
    except (TypeError, ValueError):
        return None
    for entry in running_emulations():
        for node in read_nodes(entry["state_dir"]):
            if node.get("port") and os.path.realpath(node["port"]) == wanted:
                return entry["state_dir"]
    return None
