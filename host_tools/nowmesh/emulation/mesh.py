"""A live emulated mesh: a radio medium plus one emulated board per node.

Each node is a real `micropython` process running the unmodified
firmware/main.py from its own directory under the state dir (its "flash"),
with the emulation-only modules (espnow, network, machine, esp32, ...) on its
MICROPYPATH, and a pty path as its USB serial port. The medium carries frames
between nodes with the simulator's radio model, in real time.

    with Emulation("line", nodes=5, state_dir="/tmp/mesh") as emu:
        port = emu.nodes[0].port      # open it with mpremote, pyserial, nowmesh console
"""
import json
import os
import shutil
import tempfile
import time

from nowmesh import boards
from nowmesh.bundle import (CONFIG, OPERATOR_KEY_FILE, PACKAGES, Compiler, admin_fields, board_files,
                            load_or_create_operator_key, node_files, write_key_file)
from nowmesh.bundle.app_files import app_files
from nowmesh.bundle.keys import EMULATION
from nowmesh.emulation import registry as emulation_registry
from nowmesh.emulation.medium.server import MediumServer
from nowmesh.emulation.board.pty_board import EmulatedBoard
from nowmesh.emulation.device_paths import HARDWARE_DIR, RADIO_DIR
from nowmesh.errors import InputError
from nowmesh.radio.identity import TEST_KEY, node_mac
from nowmesh.radio.model import ENVIRONMENTS
from nowmesh.radio.topology import make_topology

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATION_PATH = [RADIO_DIR, HARDWARE_DIR]
DEFAULT_KEY = TEST_KEY.hex()                 # the simulator's key; emulations are for testing
# The emulation's network key, in the format of `nowmesh deploy`'s key file, so a
# deploy to an emulated node keeps it in its mesh (nowmesh.deploy.config).
KEY_FILE = "nowmesh-key.json"
# The operator key of the emulated mesh (nowmesh.bundle.keys: made on the
# first start, kept with the state dir); each node holds its own admin key.
# A board gives MicroPython about 110 KB on a 32-bit ESP32. The host's
# interpreter is 64-bit: pointers and object headers are twice as large, so
# the same program needs roughly twice the heap (docs/emulated-node.md).
# Measured (docs/heap.md, bench live20_heap): at 110K the firmware does not
# get through its imports; at 192K-200K nodes of a 20-node mesh run but some
# fail a 1 KB allocation within a minute (fragmentation); at 256K 70-90 KB
# stay free at the peak. Since 5 December (evening) every node also carries
# the OTA part (dissemination, page store, installer hooks), channel
# following and the app API's hooks: at 256K a 5-node line answered remote
# commands out of memory (tests/query/test_oneshot.py), so the default is
# 320K. That is the 64-bit host's need, not a board's: the 32-bit budget is
# docs/heap.md's, and it is the figure to watch (not re-measured since).
DEFAULT_HEAP = "320K"
# With a user app (app=...): the app API's code and objects take ~18 KB more
# on this 64-bit interpreter (about 9-11 KB on a 32-bit board, docs/app-api.md),
# and the user's own code doubles too. At 256K a 3-node mesh running the
# test app had ~27 KB free in pieces too small for a `readings` answer
# (low_memory); 64 KB more restores the firmware's own margin.
# With an access point (ap=...) any node may be made a gateway: its Wi-Fi,
# MQTT and discovery code take ~41 KB here (~22 KB on a 32-bit board,
# docs/mqtt.md); at 256K a gateway booted with ~15-19 KB free and never got
# Home Assistant's discovery out (low_memory at every step).
APP_HEAP = "384K"           # 64K over DEFAULT_HEAP, as before


def heap_for_flash(fs_dir):
    """The heap a node gets at this boot when none was asked for: APP_HEAP
    when its flash holds a user app (app.py, app.mpy or app/) or Wi-Fi credentials (a
    gateway), else DEFAULT_HEAP. Read at every boot, so `nowmesh deploy --app`
    or `--wifi` to a running emulated board is followed by the heap the
    firmware needs once the board restarts (docs/emulated-node.md)."""
    if any(os.path.exists(os.path.join(fs_dir, name)) for name in ("app.py", "app.mpy", "app")):
        return APP_HEAP
    try:
        with open(os.path.join(fs_dir, "nowmesh.json")) as f:
            config = json.load(f)
    except (OSError, ValueError):
        return DEFAULT_HEAP         # the firmware reports a corrupt config itself
    return APP_HEAP if isinstance(config, dict) and config.get("wifi") else DEFAULT_HEAP
DEFAULT_SENSORS = [{"kind": "internal_temp"}, {"kind": "aht20"}]


def parse_ap(text):
    """'SSID:PASSWORD:CHANNEL' -> (ssid, password, channel); an empty password is an open AP."""
    head, _, channel = text.rpartition(":")
    ssid, sep, password = head.partition(":")
    if not sep or not ssid or not channel.isdigit() or not 1 <= int(channel) <= 14:
        raise InputError("command line", "--ap",
                         "expected SSID:PASSWORD:CHANNEL with a channel 1-14, got %r" % text)
    return ssid, password, int(channel)


def parse_heap_bytes(heap):
    """"256K" / "1M" / 262144 -> bytes."""
    from nowmesh.emulation.board.pty_board import parse_heap
    return parse_heap(heap)


class EmulatedNode:
    """One node of a running emulation: name, MAC, flash dir and its board."""

    def __init__(self, index, name, fs_dir):
        self.index = index
        self.name = name
        self.mac = node_mac(index)
        self.fs_dir = fs_dir
        self.board = None

    @property
    def port(self):
        return self.board.port if self.board else None

    @property
    def pid(self):
        return self.board.pid if self.board else None

    def describe(self):
        return {"name": self.name, "mac": self.mac.hex(":"), "port": self.port, "pid": self.pid,
                "dir": self.fs_dir, "running": bool(self.board and self.board.running)}


class Emulation:
    def __init__(self, topology="line", nodes=3, seed=1, state_dir=None, board="esp32-devkitc",
                 heap=None, interval_s=10, loss=0.0, environment="indoor", key=DEFAULT_KEY,
                 capture=None, flash_images=None, taps=None, espnow_max_data_len=None, ap=None, app=None,
                 firmware=None):
        self.topology = make_topology(topology, nodes, seed) if isinstance(topology, str) else topology
        self.seed = seed
        self.own_state_dir = state_dir is None
        self.state_dir = os.path.abspath(state_dir or tempfile.mkdtemp(prefix="nowmesh-emu-"))
        self.board_profile = boards.load_board(board)
        # espnow.MAX_DATA_LEN per node: the board profile's firmware gives it
        # (1470 on ESP-IDF >= 5.4 builds); an int or {node: int} selects 250/1470
        self.espnow_max_data_len = espnow_max_data_len
        # the one emulated access point every node's station can join (SSID:PASSWORD:CHANNEL)
        self.ap = parse_ap(ap) if ap else None
        # None: each node's heap follows what its flash holds (heap_for_flash)
        self.heap = heap or (APP_HEAP if app or ap else None)
        self.app = app                    # the user's app every node runs (nowmesh.bundle.app_files)
        self.firmware = firmware          # another firmware tree (a baseline in bench/app_bench.py)
        self.interval_s = interval_s
        self.key = key
        self.loss = loss
        self.exponent = ENVIRONMENTS[environment]
        self.medium = None
        self.capture_path = capture       # record every frame on air here (nowmesh decode reads it)
        self._capture = None
        self.nodes = [EmulatedNode(i, name, os.path.join(self.state_dir, name))
                      for i, name in enumerate(self.topology.names)]
        # node -> callable(bytes): everything that node's board prints, from its
        # power-on on (EmulatedBoard's tap), e.g. to time events a console
        # opened later would miss
        self.taps = dict(taps or {})
        # node -> flash file it boots from, instead of a folder we fill (docs/images.md)
        self.flash_images = dict(flash_images or {})
        for name in self.flash_images:
            self.node(name)

    # -- lifecycle -------------------------------------------------------------
    def start(self):
        os.makedirs(self.state_dir, exist_ok=True)
        write_key_file(os.path.join(self.state_dir, KEY_FILE), self.key, EMULATION)
        self.operator_key = load_or_create_operator_key(os.path.join(self.state_dir, OPERATOR_KEY_FILE))
        self.medium = MediumServer(self.topology, seed=self.seed, loss=self.loss, exponent=self.exponent)
        if self.capture_path:
            from nowmesh.emulation.capture import FrameCapture
            self._capture = FrameCapture(self.capture_path)
            self.medium.air.capture = self._capture
        self.medium.start_thread()
        try:
            for node in self.nodes:
                self._prepare_flash(node)
                self.start_node(node)
        except BaseException:
            self.stop()
            raise
        self.write_nodes_file()
        # Listed for `nowmesh ports` while running (nowmesh.emulation.registry).
        self._registration = emulation_registry.register(self.state_dir)
        return self

    def stop(self):
        emulation_registry.unregister(getattr(self, "_registration", None))
        self._registration = None
        for node in self.nodes:
            if node.board is not None:
                node.board.stop()
        if self.medium is not None:
            self.medium.stop()
            self.medium = None
        if self._capture is not None:
            self._capture.close()
            self._capture = None
        if self.own_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- nodes -----------------------------------------------------------------
    def node(self, name):
        for node in self.nodes:
            if node.name == name:
                return node
        raise InputError("command line", "node", 'no node "%s" in this emulation' % name)

    def start_node(self, node, power_cuts=()):
        os.makedirs(self.sim_dir(node.name), exist_ok=True)
        env = {"NOWMESH_MAC": node.mac.hex(":"),
               "NOWMESH_SIM_DIR": self.sim_dir(node.name),
               "NOWMESH_MEDIUM": "%s:%d" % tuple(self.medium.address),
               "NOWMESH_CHIP": self.board_profile["chip"],
               "NOWMESH_ESPNOW_MAX_DATA_LEN": str(self.max_data_len(node.name)),
               "NOWMESH_FLASH_SIZE": str(int(self.board_profile["flash_size"][:-2]) << 20)}
        if power_cuts:      # emulation only: the power goes before these flash changes (docs/ota.md)
            env["NOWMESH_POWERCUT"] = ",".join(power_cuts)
        if self.ap:
            env["NOWMESH_AP"] = "%s:%s:%d" % self.ap
            env["NOWMESH_AP_FILE"] = self.ap_file()
        extra = EMULATION_PATH
        if node.name in self.flash_images:      # power-on from flash: unpack its filesystem first
            from nowmesh.emulation.rom import flashboot
            boot = flashboot.prepare(self.flash_images[node.name], node.fs_dir, self.board_profile)
            env.update(boot.env)
            extra = extra + boot.extra
        heap = self.heap or (lambda: heap_for_flash(node.fs_dir))
        node.board = EmulatedBoard(node.fs_dir, micropypath_extra=extra, heap=heap, env=env,
                                   tap=self.taps.get(node.name))
        node.board.start()
        node.powered_on_at = time.monotonic()      # boot-to-first-reading figures (bench/live.py)

    def ap_file(self):
        """The access point as it is now: SSID:PASSWORD:CHANNEL, read by every
        node's station (_nowmesh_wifi.access_point) in place of NOWMESH_AP
        once it exists, so the AP can change channel while the mesh runs."""
        return os.path.join(self.state_dir, "ap")

    def set_ap_channel(self, channel):
        """The access point moves to `channel` (as a router's auto channel does)."""
        if not self.ap:
            raise InputError("command line", "--ap", "this emulation has no access point")
        if not isinstance(channel, int) or not 1 <= channel <= 14:
            raise InputError("command line", "channel", "must be 1-14, got %r" % (channel,))
        self.ap = (self.ap[0], self.ap[1], channel)
        tmp = self.ap_file() + ".tmp"
        with open(tmp, "w") as f:
            f.write("%s:%s:%d" % self.ap)
        os.replace(tmp, self.ap_file())      # a station never reads half a line

    def sim_dir(self, name):
        """The host's side of a node's bench, off its flash: sensor values a
        test sets (sensors.json) and its output pins' log (pins.log)."""
        return os.path.join(self.state_dir, "sim", name)

    def max_data_len(self, name):
        chosen = self.espnow_max_data_len
        if isinstance(chosen, dict):
            chosen = chosen.get(name)
        if chosen is None:
            return boards.espnow_max_data_len(self.board_profile)
        if chosen not in (boards.ESPNOW_V1_MAX_DATA_LEN, boards.ESPNOW_V2_MAX_DATA_LEN):
            raise InputError("command line", "espnow-max-data-len", "must be 250 or 1470, got %r" % chosen)
        return chosen

    def kill(self, name):
        """Power a node off: its process ends and its port goes away."""
        node = self.node(name)
        if node.board is not None:
            node.board.stop()
            node.board = None
        self.write_nodes_file()

    def restart(self, name, power_cuts=()):
        """Power a node on again (a fresh boot: new boot counter, same flash).
        `power_cuts`: steps of an OTA install or boot (the names
        meshport/ota_stage.py gives its cut hook, e.g. "rename main.py") before
        which the power goes, one per boot, in order: the board's supervisor
        kills the interpreter there and powers it on again (resets["power"])."""
        node = self.node(name)
        if node.board is not None:
            node.board.stop()
        self.start_node(node, power_cuts)
        self.write_nodes_file()
        return node

    def write_nodes_file(self):
        path = os.path.join(self.state_dir, "nodes.json")
        data = {"medium": "%s:%d" % tuple(self.medium.address) if self.medium else None,
                "nodes": [node.describe() for node in self.nodes]}
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=2)
        os.replace(tmp, path)

    # -- flash contents --------------------------------------------------------
    def _board_files(self):
        """The bundle's firmware files, compiled once per emulation: {board path: bytes}."""
        if getattr(self, "_firmware", None) is None:
            compiler = Compiler.native()
            self._firmware = board_files(compiler, self.firmware)
            if self.app:
                self._firmware.update(app_files(self.app, compiler))
        return self._firmware

    def _prepare_flash(self, node):
        """Install the firmware (always fresh) and write a config if none exists.

        Packages go in compiled with mpy-cross, as a deploy puts them on a
        board: compiling source at import time would not fit a board's heap.
        """
        if node.name in self.flash_images:
            return                              # its filesystem comes from its flash file
        os.makedirs(node.fs_dir, exist_ok=True)
        for package in PACKAGES:
            shutil.rmtree(os.path.join(node.fs_dir, package), ignore_errors=True)
        files = dict(self._board_files())
        files.update(node_files(self._settings(node), self.board_profile))
        for path, data in files.items():
            target = os.path.join(node.fs_dir, path)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(target, "wb") as out:
                out.write(data)

    def _settings(self, node):
        """The node's config to write, or None to keep the one it has (a
        deploy or config-set wrote it); one from before operator keys gets
        its admin key."""
        path = os.path.join(node.fs_dir, CONFIG)
        if not os.path.exists(path):
            settings = {"name": node.name, "key": self.key, "interval_s": self.interval_s,
                        "sensors": DEFAULT_SENSORS, "channel": self.topology.channels[node.index]}
        else:
            settings = _read_settings(path)
            if settings is None or "admin_key" in settings:
                return None
        settings.update(admin_fields(self.operator_key, node.mac.hex(":")))
        return settings


def _read_settings(path):
    """A node's nowmesh.json as a dict; None if corrupt (the firmware reports
    that and runs on its safe defaults)."""
    try:
        with open(path, encoding="utf-8") as f:
            settings = json.load(f)
    except ValueError:
        return None
    return settings if isinstance(settings, dict) else None
