"""Runtime control of a running `nowmesh emulate`: kill, restart, cut, move, partition, loss.

The emulate process serves `STATE_DIR/control.sock`, a unix socket speaking
JSON lines: one request object per line, one reply object per line.

    {"op": "kill", "node": "n2"}          -> {"ok": true, "data": {...}}
    {"op": "loss", "p": 0.2}              -> {"ok": true, "data": {"loss": 0.2}}
    {"op": "move", "node": "n2", "xy": [120, 40]}
    {"op": "partition", "groups": [["n1", "n2"]]}   (unlisted nodes form the other side)
    {"op": "heal"}
    {"op": "nope"}                        -> {"ok": false, "kind": "input", "error": "..."}

`kill`/`restart` power a node's process off/on (Emulation.kill/restart, and
nodes.json follows); `cut`/`uncut`/`move`/`partition`/`heal`/`loss` change the
air through `MediumControl`, the medium's own control client (its TCP
protocol, nowmesh.emulation.medium.protocol): each call waits for the
medium's REPLY, so when it returns the change is in force for every later frame.
`ScenarioPlayer` applies a scenario file's events through the same
`Controller` in real time. docs/testing-with-emulated-nodes.md shows both.
"""
import json
import os
import socket
import sys
import threading
import time

from nowmesh.emulation.medium import protocol
from nowmesh.errors import InputError, ToolError
from nowmesh.radio.topology import unknown_node_message

SOCKET_NAME = "control.sock"
OPS = ("kill", "restart", "cut", "uncut", "move", "partition", "heal", "loss", "status")
LIVE_ACTIONS = ("kill", "revive", "reboot", "move", "partition", "heal", "loss")
MAX_UNIX_PATH = 100               # sun_path is 108 bytes on Linux, 104 on macOS


# -- the medium's control client --


class MediumError(Exception):
    """The medium refused a control command or closed the connection."""


class MediumControl:
    def __init__(self, address, timeout_s=5.0):
        self.sock = socket.create_connection(tuple(address), timeout=timeout_s)
        self.decoder = protocol.Decoder()
        self.pending = []

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def cut(self, mac, on=True):
        return self._call(protocol.cut(mac, on))

    def kill(self, mac):
        return self._call(protocol.kill(mac))

    def set_loss(self, probability):
        return self._call(protocol.set_loss(probability))

    def move(self, mac, x_m, y_m):
        return self._call(protocol.move(mac, x_m, y_m))

    def partition(self, groups):
        """{mac: group 1..255}; unlisted nodes are group 0; {} heals."""
        return self._call(protocol.partition(groups))

    def inject(self, src, dst, frame):
        """Put frame on the air as if src sent it to dst (broadcast: ff:..:ff)."""
        return self._call(protocol.inject(src, dst, frame))

    def status(self):
        return json.loads(self._call(protocol.status()))

    def _call(self, message):
        self.sock.sendall(message)
        while True:
            while self.pending:
                kind, body = self.pending.pop(0)
                if kind == protocol.REPLY:
                    ok, text = protocol.parse(kind, body)
                    if not ok:
                        raise MediumError(text)
                    return text
                if kind == protocol.ERROR:
                    raise MediumError(protocol.parse(kind, body)[0])
            data = self.sock.recv(65536)
            if not data:
                raise MediumError("the medium closed the connection")
            self.pending.extend(self.decoder.feed(data))


# -- the emulation's control socket --


def socket_path(state_dir):
    return os.path.join(os.path.abspath(state_dir), SOCKET_NAME)


class Controller:
    """The operations, against an Emulation; one lock serialises them."""

    def __init__(self, emu):
        self.emu = emu
        self.lock = threading.Lock()

    def node(self, name):
        for node in self.emu.nodes:
            if name in (node.name, node.mac.hex(":")):
                return node
        names = self.emu.topology.names
        listed = ", ".join(names) if len(names) <= 12 else "%s ... %s" % (", ".join(names[:3]), names[-1])
        raise InputError("command line", None, "%s (this emulation has %s)"
                         % (unknown_node_message(str(name), names), listed))

    def apply(self, op, node=None, p=None, xy=None, groups=None):
        if op not in OPS:
            raise InputError("command line", None, 'unknown operation "%s"; expected one of: %s'
                             % (op, ", ".join(OPS)))
        with self.lock:
            if op == "status":
                return self.status()
            if op == "loss":
                return self.set_loss(p)
            if op in ("partition", "heal"):
                return self.partition(groups if op == "partition" else [])
            target = self.node(node)
            if op == "move":
                return self.move(target, xy)
            if op == "kill":
                self.emu.kill(target.name)
            elif op == "restart":
                self.emu.restart(target.name)
            else:
                self._medium(lambda medium: medium.cut(target.mac, op == "cut"))
            return self._describe(target, self._medium_status())

    def set_loss(self, p):
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p < 1.0:
            raise InputError("command line", None, "loss must be a number from 0 up to (not including) 1, got %r" % (p,))
        self._medium(lambda medium: medium.set_loss(float(p)))
        return {"loss": float(p)}

    def move(self, target, xy):
        if (not isinstance(xy, (list, tuple)) or len(xy) != 2
                or not all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in xy)):
            raise InputError("command line", None, "move needs a position X,Y in metres, got %r" % (xy,))
        if self.emu.topology.positions is None:
            raise InputError("command line", None, "move needs a topology with positions; this one is "
                             "a link table (links have no distance to change)")
        self._medium(lambda medium: medium.move(target.mac, float(xy[0]), float(xy[1])))
        return self._describe(target, self._medium_status())

    def partition(self, groups):
        """Split the air into groups of named nodes (plus one of everyone unlisted); [] heals."""
        if not isinstance(groups, list) or not all(isinstance(g, list) and g for g in groups):
            raise InputError("command line", None, "partition needs groups of node names, such as [[\"n1\", \"n2\"]]")
        group_of = {}
        for number, names in enumerate(groups, start=1):
            for name in names:
                mac = self.node(name).mac
                if mac in group_of:
                    raise InputError("command line", None, "node %s is in two groups" % name)
                group_of[mac] = number
        self._medium(lambda medium: medium.partition(group_of))
        medium = self._medium_status()
        return {"groups": self._groups(medium)}

    @staticmethod
    def _groups(medium):
        groups = {}
        for entry in medium.get("nodes", ()):
            groups.setdefault(entry.get("group", 0), []).append(entry["name"])
        return [groups[g] for g in sorted(groups)]

    def status(self):
        medium = self._medium_status()
        return {"state_dir": self.emu.state_dir, "medium": "%s:%d" % tuple(self.emu.medium.address),
                "loss": medium.get("loss"), "counters": medium.get("counters"),
                "nodes": [self._describe(node, medium) for node in self.emu.nodes]}

    def _describe(self, node, medium):
        info = node.describe()
        for entry in medium.get("nodes", ()):
            if entry["mac"] == info["mac"]:
                info["cut"] = entry["cut"]
                info["group"] = entry.get("group", 0)
                info["position"] = entry.get("position")
        return info

    def _medium_status(self):
        return self._medium(lambda medium: medium.status())

    def _medium(self, call):
        if self.emu.medium is None:
            raise ToolError("the emulation is stopping")
        try:
            with MediumControl(self.emu.medium.address) as medium:
                return call(medium)
        except (OSError, MediumError) as exc:
            raise ToolError("the medium did not accept the command: %s" % exc) from None


# -- the socket: server in the emulate process, client in `nowmesh emulate kill` --

class ControlServer:
    """Serve a Controller on STATE_DIR/control.sock from a daemon thread."""

    def __init__(self, controller, state_dir):
        self.controller = controller
        self.path = socket_path(state_dir)
        if len(self.path) > MAX_UNIX_PATH:
            raise InputError("command line", "--state-dir", "path too long for a unix socket (%d characters; "
                             "keep it under %d): %s" % (len(self.path), MAX_UNIX_PATH - len(SOCKET_NAME), state_dir))
        self._claim_path()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(4)
        self.listener.settimeout(0.2)     # lets the accept loop notice stop()
        self._stopping = False
        self._thread = threading.Thread(target=self._serve, name="nowmesh-control", daemon=True)

    def _claim_path(self):
        if not os.path.exists(self.path):
            return
        try:
            probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            probe.settimeout(1)
            probe.connect(self.path)
        except OSError:
            os.unlink(self.path)          # left behind by an emulation that died
            return
        finally:
            probe.close()
        raise ToolError("an emulation is already running in %s (stop it first)" % os.path.dirname(self.path))

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        """Idempotent: stop serving, remove the socket file."""
        if self._stopping:
            return
        self._stopping = True
        if self._thread.is_alive():
            self._thread.join(10)
        self.listener.close()
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass

    def _serve(self):
        while not self._stopping:
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                self._handle(conn)

    def _handle(self, conn):
        conn.settimeout(30)
        stream = conn.makefile("rwb")
        try:
            for raw in stream:
                stream.write(json.dumps(self._answer(raw)).encode() + b"\n")
                stream.flush()
        except OSError:
            pass
        finally:
            stream.close()

    def _answer(self, raw):
        try:
            request = json.loads(raw.decode("utf-8"))
            if not isinstance(request, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            return {"ok": False, "kind": "input", "error": "bad request line: %s" % exc}
        try:
            return {"ok": True, "data": self.controller.apply(
                request.get("op"), request.get("node"), request.get("p"),
                xy=request.get("xy"), groups=request.get("groups"))}
        except InputError as exc:
            return {"ok": False, "kind": "input", "error": exc.message}
        except Exception as exc:          # noqa: BLE001 -- reported to the client, the server lives on
            return {"ok": False, "kind": "tool", "error": str(exc) or type(exc).__name__}


def request(state_dir, op, node=None, p=None, timeout_s=30.0, **fields):
    """Send one operation to the emulation running in state_dir; its reply data.

    ToolError (exit 1) when none runs there, InputError (exit 2) for an
    unknown node or a bad value.
    """
    path = socket_path(state_dir)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout_s)
    try:
        sock.connect(path)
    except OSError:
        sock.close()
        raise ToolError("no emulation is running in %s (no %s there: start one with "
                        "`nowmesh emulate --state-dir %s`)" % (state_dir, SOCKET_NAME, state_dir)) from None
    with sock:
        message = dict(fields, op=op, node=node, p=p)
        sock.sendall(json.dumps(message).encode() + b"\n")
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = sock.recv(65536)
            if not chunk:
                raise ToolError("the emulation in %s closed the control connection" % state_dir)
            reply += chunk
    answer = json.loads(reply.decode("utf-8"))
    if answer.get("ok"):
        return answer.get("data")
    if answer.get("kind") == "input":
        raise InputError("command line", None, answer.get("error"))
    raise ToolError(answer.get("error") or "the emulation refused the command")


# -- scenario files, live -----------------------------------------------------------

def load_live_scenario(path, emu):
    """A scenario file resolved against the emulation's topology; InputError for
    actions live emulation cannot apply yet."""
    from nowmesh.radio.scenario import load_scenario_file
    scenario = load_scenario_file(path, emu.topology, emu.seed)
    for event in scenario:
        if event.action not in LIVE_ACTIONS:
            raise InputError(str(path), None, '"%s" (at %gs) is not supported live yet: nowmesh emulate '
                             'applies %s; run this scenario in `nowmesh sim`'
                             % (event.action, event.t_ms / 1000.0, ", ".join(LIVE_ACTIONS)))
    return scenario


class ScenarioPlayer:
    """Apply a scenario's events on the wall clock, from a daemon thread.

    Times count from start(); each applied event is printed as one line.
    """

    def __init__(self, controller, scenario, out=None):
        self.controller = controller
        self.events = list(scenario)
        self.out = out or sys.stdout
        self.applied = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._play, name="nowmesh-scenario", daemon=True)

    def start(self):
        self._started = time.monotonic()
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(30)

    def _play(self):
        for event in self.events:
            if self._stop.wait(max(0.0, self._started + event.t_ms / 1000.0 - time.monotonic())):
                return
            try:
                self._apply(event)
                self.applied.append(event)
            except Exception as exc:      # noqa: BLE001 -- a failed event must not stop the rest
                print("scenario: t=%gs %s failed: %s" % (event.t_ms / 1000.0, event.action, exc),
                      file=sys.stderr, flush=True)

    def _apply(self, event):
        names = self.controller.emu.topology.names
        params = event.params
        if event.action == "loss":
            self.controller.apply("loss", p=params["p"])
            what = "p=%g" % params["p"]
        elif event.action == "move":
            self.controller.apply("move", names[params["node"]], xy=[params["x"], params["y"]])
            what = "%s to %g,%g" % (names[params["node"]], params["x"], params["y"])
        elif event.action in ("partition", "heal"):
            groups = [[names[i] for i in group] for group in params.get("groups", [])]
            self.controller.apply(event.action, groups=groups)
            what = " | ".join(",".join(g) for g in groups)
        else:
            op = "kill" if event.action == "kill" else "restart"
            for index in event.params["nodes"]:
                if self._stop.is_set():
                    return
                self.controller.apply(op, names[index])
            what = " ".join(names[i] for i in event.params["nodes"]) or "(no node)"
        print("scenario: t=%gs %s %s" % (event.t_ms / 1000.0, event.action, what), file=self.out, flush=True)
