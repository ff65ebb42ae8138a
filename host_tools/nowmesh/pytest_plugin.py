"""pytest plugin: live emulated meshes for your own firmware tests.

Registered through the `pytest11` entry point, so installing nowmesh
(`pip install -e .`) makes these fixtures available in any pytest run:

- `make_emulated_mesh(topology="line", nodes=3, **options)`: start a mesh
  (function scope); every mesh it made is stopped when the test ends, also
  when it fails. `make_emulated_mesh_module` is the same, kept for a module.
- `emulated_mesh`: a started mesh; `@pytest.mark.nowmesh_mesh(nodes=4, ...)`
  passes options (default: 3 nodes in a line).

Each is an `EmulatedMesh`: `console(name)`, `events(name, seconds, kind)`,
`wait_for_event`, `wait_for_readings(at, from_, timeout)`, `command(name, cmd,
**args)`, `kill`, `restart`, `cut`, `uncut`, `set_loss`, `port`, `mac`;
for a user app (`app="examples/greenhouse"`, docs/app-api.md): `set_sensor(name,
quantity, value)`, `actuator_log(name)`, `app_command(name, command, *args)`.
Options: `--nowmesh-heap` (heap per node). docs/testing-with-emulated-nodes.md.

Importing this module must stay cheap: pytest loads it in every run once
nowmesh is installed, so the emulator is imported only when a mesh starts.
"""
import json
import os
import time

import pytest

from nowmesh.console.connection import REMOTE_TIMEOUT_S

DEFAULT_INTERVAL_S = 3        # seconds between readings: quick convergence in tests
RESENDABLE = ("hello", "status", "neighbours", "routes", "readings", "config_get", "ping")


class MeshTimeout(AssertionError):
    """A wait_for_* helper gave up; the message says what was missing."""


class EmulatedMesh:
    """A running emulated mesh (nowmesh.emulation.mesh.Emulation) with test helpers.

    Usable on its own as a context manager:

        with EmulatedMesh("line", nodes=3) as mesh:
            mesh.wait_for_readings(at="n1")
    """

    def __init__(self, topology="line", nodes=3, interval_s=DEFAULT_INTERVAL_S, **options):
        from nowmesh.emulation.mesh import Emulation
        self.emulation = Emulation(topology, nodes=nodes, interval_s=interval_s, **options)
        self._consoles = {}

    # -- lifecycle ---------------------------------------------------------------
    def start(self):
        self.emulation.start()
        return self

    def stop(self):
        for name in list(self._consoles):
            self._close_console(name)
        self.emulation.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- nodes -------------------------------------------------------------------
    @property
    def nodes(self):
        return self.emulation.nodes

    @property
    def names(self):
        return [node.name for node in self.emulation.nodes]

    @property
    def state_dir(self):
        return self.emulation.state_dir

    def node(self, name):
        return self.emulation.node(name)

    def port(self, name):
        """The node's serial-port path (a pty), for mpremote, pyserial, ...; None while off."""
        return self.node(name).port

    def mac(self, name):
        return self.node(name).mac.hex(":")

    def running(self, name):
        node = self.node(name)
        return bool(node.board and node.board.running)

    def live_names(self):
        return [node.name for node in self.nodes if self.running(node.name)]

    def name_of(self, mac):
        """The node name for a MAC string; the MAC itself if no node has it."""
        for node in self.nodes:
            if node.mac.hex(":") == mac:
                return node.name
        return mac

    # -- power and air -----------------------------------------------------------
    def kill(self, name):
        """Power the node off: its process ends, its port goes away."""
        self._close_console(name)
        self.emulation.kill(name)

    def restart(self, name, power_cuts=()):
        """Power the node on again (a fresh boot on the same flash); new port path.
        `power_cuts`: OTA steps before which its power goes, one per boot
        (Emulation.restart, docs/ota.md)."""
        self._close_console(name)
        return self.emulation.restart(name, power_cuts)

    def cut(self, name, on=True):
        """Take the node off the air (it runs on, hearing and heard by nobody)."""
        self._medium(lambda medium: medium.cut(self.node(name).mac, on))

    def uncut(self, name):
        self.cut(name, on=False)

    def move(self, name, x_m, y_m):
        """Carry the node to (x, y) metres (topologies with positions); links follow."""
        self._medium(lambda medium: medium.move(self.node(name).mac, x_m, y_m))

    def partition(self, groups):
        """Split the air: each list of names hears only itself; unlisted nodes form one more group."""
        group_of = {self.node(n).mac: number for number, names in enumerate(groups, start=1) for n in names}
        self._medium(lambda medium: medium.partition(group_of))

    def heal(self):
        """Undo partition(): every node can hear every node in range again."""
        self._medium(lambda medium: medium.partition({}))

    def set_loss(self, probability):
        """Extra per-frame loss probability on every link, from now on."""
        self._medium(lambda medium: medium.set_loss(probability))

    def set_ap_channel(self, channel):
        """The emulated access point moves to `channel` (joined stations lose it, then rejoin there)."""
        self.emulation.set_ap_channel(channel)

    def medium_status(self):
        return self._medium(lambda medium: medium.status())

    def _medium(self, call):
        from nowmesh.emulation.control import MediumControl
        with MediumControl(self.emulation.medium.address) as medium:
            return call(medium)

    # -- consoles ------------------------------------------------------------------
    def console(self, name):
        """The node's open ConsoleClient (one per node, reused; closed on kill,
        restart and teardown). Don't close it yourself."""
        client = self._consoles.get(name)
        if client is None:
            port = self.port(name)
            if port is None:
                raise AssertionError("node %s is off (killed); restart it first" % name)
            from nowmesh.console import ConsoleClient
            client = self._consoles[name] = ConsoleClient(port)
        return client

    def _close_console(self, name):
        client = self._consoles.pop(name, None)
        if client is not None:
            client.close()

    def events(self, name, seconds, kind=None):
        """Console events (dicts such as {"ev": "reading", ...}) the node prints
        over the next `seconds`, after any it printed since its console was last
        read; only those whose "ev" is `kind` if given."""
        found = []
        for line in self.console(name).lines(seconds):
            if line.kind == "event" and (kind is None or line.data.get("ev") == kind):
                found.append(line.data)
        return found

    def wait_for_event(self, name, kind, timeout=30.0, where=None):
        """The first `kind` event from the node for which where(event) is true."""
        for line in self.console(name).lines(timeout):
            if line.kind == "event" and line.data.get("ev") == kind and (where is None or where(line.data)):
                return line.data
        raise MeshTimeout("no %r event from %s within %gs" % (kind, name, timeout))

    def command(self, name, cmd, timeout=REMOTE_TIMEOUT_S, on=None, **args):
        """Run a console command on node `name` (through it on node `on`, if
        given) and return its reply data; ConsoleError if the node refuses.
        A node name as `node=` (ping, send) or `on=` is turned into its MAC."""
        if "node" in args and args["node"] in self.names:
            args["node"] = self.mac(args["node"])
        target = self.mac(on) if on in self.names else on
        from nowmesh.console import ConsoleError
        try:
            return self.console(name).command(cmd, args or None, node=target, timeout=timeout)
        except ConsoleError as exc:
            # An emulated node now and then leaves one console line unanswered
            # (seen on the first command after its port opens); a command that
            # changes nothing is safe to ask again, once.
            if cmd not in RESENDABLE or not str(exc).startswith("no answer"):
                raise
        return self.console(name).command(cmd, args or None, node=target, timeout=timeout)

    def wait_for_readings(self, at="n1", from_=None, timeout=60.0, max_age_s=None):
        """Wait until node `at` holds a reading from every node in `from_`
        (default: every other node that is running); return {name: reading}.

        `max_age_s` counts only readings heard that recently (after a restart,
        to skip what the node held from before). Raises MeshTimeout."""
        want = set(from_ if from_ is not None else [n for n in self.live_names() if n != at])
        deadline = time.monotonic() + timeout
        have = {}
        while True:
            try:
                readings = self.command(at, "readings", timeout=max(1.0, min(5.0, deadline - time.monotonic())))
            except Exception:             # noqa: BLE001 -- booting, or busy; ask again
                readings = []
            have = {self.name_of(r["id"]): r for r in readings or ()
                    if max_age_s is None or (r.get("age_s") is not None and r["age_s"] <= max_age_s)}
            if want <= set(have):
                return {name: have[name] for name in want}
            if time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        raise MeshTimeout("after %gs %s has no reading from %s (it has: %s)"
                          % (timeout, at, ", ".join(sorted(want - set(have))),
                             ", ".join(sorted(n for n in have if n != at)) or "none"))

    # -- the emulated bench: sensors in, actuators out ---------------------------
    def set_sensor(self, name, quantity, value):
        """From now on node `name`'s emulated sensors read `value` for
        `quantity`: "temp" (AHT20/DHT22), "humidity", "temp_mcu" (the chip's
        own), "adc<pin>" (raw 0-65535); None gives it back to the simulation."""
        path = os.path.join(self.emulation.sim_dir(name), "sensors.json")
        try:
            with open(path, encoding="utf-8") as f:
                values = json.load(f)
        except (OSError, ValueError):
            values = {}
        if value is None:
            values.pop(quantity, None)
        else:
            values[quantity] = value
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(values, f)
        os.replace(tmp, path)         # the board reads either the old file or the new one

    def actuator_log(self, name):
        """Every change of node `name`'s output pins (machine.Pin): [{"t": unix
        seconds, "pin": id, "value": 0 or 1}], oldest first."""
        path = os.path.join(self.emulation.sim_dir(name), "pins.log")
        try:
            with open(path, encoding="utf-8") as f:
                lines = f.read().splitlines()
        except OSError:
            return []
        return [json.loads(line) for line in lines if line.endswith("}")]

    def release(self, name):
        """Close this test's console on node `name`, so that another program
        (the nowmesh CLI, mpremote) can open its port; console() opens it again."""
        self._close_console(name)

    def app_command(self, name, command, *args, on=None):
        """Run the app's `command` (mesh.on_command) on node `name` -> its result."""
        target = self.mac(on) if on in self.names else on
        return self.console(name).command("app", {"name": command, "args": list(args)}, node=target)

    def wait_for_convergence(self, timeout=60.0):
        """Every running node holds a reading from every other running node."""
        deadline = time.monotonic() + timeout
        for name in self.live_names():
            self.wait_for_readings(at=name, timeout=max(1.0, deadline - time.monotonic()))


# -- pytest hooks and fixtures ---------------------------------------------------

def pytest_addoption(parser):
    group = parser.getgroup("nowmesh", "nowmesh emulated meshes")
    group.addoption("--nowmesh-heap", default=None, metavar="SIZE",
                    help="micropython heap per emulated node, such as 256K (default: nowmesh's)")


def pytest_configure(config):
    config.addinivalue_line("markers", "nowmesh_mesh(**options): options for the emulated_mesh fixture "
                                       "(topology, nodes, interval_s, loss, ...)")


def _factory(request, tmp_path_factory):
    meshes = []
    heap = request.config.getoption("nowmesh_heap", None)

    def make(topology="line", nodes=3, **options):
        if heap and "heap" not in options:
            options["heap"] = heap
        options.setdefault("state_dir", str(tmp_path_factory.mktemp("nowmesh-mesh")))
        mesh = EmulatedMesh(topology, nodes, **options)
        meshes.append(mesh)       # before start(): a half-started mesh is stopped too
        return mesh.start()

    return make, meshes


def _stop_all(meshes):
    errors = []
    for mesh in reversed(meshes):
        try:
            mesh.stop()
        except Exception as exc:          # noqa: BLE001 -- stop the others first
            errors.append(exc)
    if errors:
        raise errors[0]


@pytest.fixture
def make_emulated_mesh(request, tmp_path_factory):
    """make_emulated_mesh(topology="line", nodes=3, **options) -> a started EmulatedMesh.

    Options are nowmesh.emulation.mesh.Emulation's (seed, interval_s, loss,
    environment, board, heap, key, capture, app). Stopped after the test."""
    make, meshes = _factory(request, tmp_path_factory)
    try:
        yield make
    finally:
        _stop_all(meshes)


@pytest.fixture(scope="module")
def make_emulated_mesh_module(request, tmp_path_factory):
    """As make_emulated_mesh, but its meshes live until the module's last test."""
    make, meshes = _factory(request, tmp_path_factory)
    try:
        yield make
    finally:
        _stop_all(meshes)


@pytest.fixture
def emulated_mesh(request, make_emulated_mesh):
    """A started mesh: 3 nodes in a line unless @pytest.mark.nowmesh_mesh(...) says otherwise."""
    marker = request.node.get_closest_marker("nowmesh_mesh")
    options = dict(marker.kwargs) if marker else {}
    return make_emulated_mesh(**options)
