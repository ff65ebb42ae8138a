# The node's main loop: feed the mesh core, send what it returns, sleep until
# the next deadline or the next frame, and serve the console. With a user
# app on the flash, the same steps run as an asyncio task beside the app's
# (meshport.userapp); without one, asyncio is not even imported.
import gc
import os

import machine
from mesh import channels
from mesh.node import Node
from mesh.wire import MAX_FRAME, MAX_FRAME_V2

from . import FIRMWARE_VERSION, settings, store
from .clock import Clock
from .console import PROTO, Console
from .led import Led
from .port_requests import Requests, load_commands, load_remote
from .port_requests import hex_id as _hex
from .radio import BROADCAST, Radio
from .sensors import Sensors

_POLL_MS = 50                 # console latency bound while the radio is idle
_MIN_PUBLISH_GAP_MS = 1000    # the app's publish() sends at once, but not more often than this
_OOM_IN_A_ROW = 3             # more MemoryErrors than this in a row: the heap is really full
_DEFAULT_SENSORS = [{"kind": "internal_temp"}]
_APP_FILES = ("app.mpy", "app.py", "app/__init__.mpy", "app/__init__.py")   # the user's app (docs/app-api.md)


def _tidy(value):
    # Readings travel as float32: print 6 significant digits, not 18.889999389648438.
    return float("%.6g" % value) if isinstance(value, float) else value


def _values_json(values):
    return [[n, _tidy(v), u] for n, v, u in values]


def _userapp():
    # The user app's runner and its `mesh` object: imported at boot, and
    # only when the flash holds an app (a node without one pays nothing).
    for path in _APP_FILES:
        try:
            os.stat(path)
        except OSError:
            continue
        from . import userapp
        return userapp, userapp.load()
    return None


def _ota(app):
    # Over-the-mesh updates (docs/ota.md): imported at boot, and only on a
    # node that holds the operator's LMS key (deploy installs it); a node
    # without one takes no part and keeps the code's heap. A gateway takes
    # part too (docs/ota.md "Board memory": at the emulation's 256K heap its
    # MQTT client left no room; at APP_HEAP it has).
    if not app.port["ota_key"]:
        return None
    gc.collect()
    from . import ota_port
    return ota_port.attach(app.node, app.port["ota_key"], app.clock.now(), console=app.console)


def _gateway():
    # The gateway's code (docs/mqtt.md): imported at boot before the mesh
    # state fills the heap, and only when the config names both an access
    # point and a broker, so other nodes keep that heap. Imported later (in
    # App, after the node's tables) the gateway node's heap fragmented until
    # Home Assistant's discovery found no room. A config that cannot be read
    # is App's to report; this only decides whether to import.
    try:
        raw = store.read_json(settings.PATH)
    except ValueError:
        return None
    if not (isinstance(raw, dict) and raw.get("wifi") and raw.get("mqtt")):
        return None
    from . import gateway
    return gateway


def _json_safe(value):
    if isinstance(value, (bytes, bytearray)):
        return _hex(value) if len(value) == 6 else value.hex()
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


class App(Requests):
    def __init__(self, console=None, userapp=None, gateway=None):
        # console: the USB console by default; tests pass a scripted one.
        # userapp: (meshport.userapp, what its load() imported) when the flash holds an app (_userapp()).
        # gateway: meshport.gateway when the config makes this node one (_gateway()).
        self.clock = Clock()
        self.console = console or Console()
        self.radio = Radio()
        mac = self.radio.mac
        self.raw_settings, self.port, core, problem = settings.load(mac)
        # a fact of the firmware, not a setting; never more than the core speaks
        core.max_frame = max(MAX_FRAME, min(MAX_FRAME_V2, self.radio.max_data_len))
        self.radio.set_channel(core.channel)
        self.board = self._load_board()
        self.node = Node(core, store.next_boot_counter(), os.urandom(16), self.clock.now())
        # the mesh follows a gateway's access point channel (mesh/channels.py)
        self.channels = channels.attach(self.node, self.clock.now(),
                                        max(channels.QUIET_MS, 2000 * int(self.port["interval_s"])))
        self.led = Led(self.board.get("led"))
        self.sensors = Sensors(self.port["sensors"] or self.board.get("sensors") or _DEFAULT_SENSORS,
                               self.board, self._sensor_report, self.app_sensor_values)
        self.pending = {}             # req_id -> [console id, sent ms, remote?]
        self.heard = {}               # origin -> ms its latest reading arrived
        self.names = {}               # node id -> name, as far as we know
        self.reboot_requested = False
        self.reboot_at = None         # ms: a remote reboot waits out the requester's retries
        # operator authorisation (mesh/admin.py): our own key, and the last
        # token sequence number accepted this boot (a used token is dead)
        admin_key = self.port["admin_key"]
        self.admin_key = bytes.fromhex(admin_key) if admin_key else None
        self.admin_seq = 0
        self.ota = _ota(self)         # None without an ota_key
        self.oom_in_a_row = 0         # loop steps that ended in MemoryError, consecutively
        self._current_id = None       # console id of the command being run
        self.next_publish = self.clock.now() + 1000
        self.last_publish = self.next_publish - _MIN_PUBLISH_GAP_MS
        self.next_stats = self.clock.now() + self.port["stats_s"] * 1000
        self.user = userapp[0].start(self, userapp[1]) if userapp else None     # docs/app-api.md
        self.gateway = gateway.start(self) if gateway else None     # None unless wifi and mqtt are set
        self.console.send(self.hello())
        if problem:
            self.console.event("config_error", error=problem)

    # ---------------------------------------------------------------- helpers
    @staticmethod
    def _load_board():
        try:
            return store.read_json("board.json") or {}
        except ValueError:
            return {}

    def hello(self):
        return {"ev": "hello", "proto": PROTO, "fw": self.fw(), "name": self.node.name,
                "id": _hex(self.node.id), "board": self.board.get("name"),
                # what it holds of an update: [version, bundle, pages held, total, install state] (docs/ota.md)
                "ota": self.ota and self.ota.status() + [self.ota.board.status()]}

    def fw(self):
        # the bundle id an OTA installed, else the version of the tree deploy wrote (docs/ota.md)
        return (self.ota and self.ota.board.fw()) or FIRMWARE_VERSION

    def uptime_s(self):
        return self.clock.now() // 1000

    def node_heard_ms(self, origin):
        return self.heard.get(origin)

    def name_of(self, node_id):
        if node_id == self.node.id:
            return self.node.name
        return self.names.get(node_id)

    def app_sensor_values(self, name):
        """A config entry {"kind": "app", "name": name}: the app's sensor by that name."""
        if self.user is None:
            raise LookupError("no app on this node")
        return self.user.mesh.sensor_values(name)

    def _sensor_report(self, kind, error):
        self.console.event("sensor", kind=kind, ok=error is None, error=error)

    # ---------------------------------------------------------------- sending
    def send_all(self, frames):
        # send_done may itself return frames (a retry on another route):
        # bounded so a misbehaving policy cannot spin the loop forever.
        for _ in range(8):
            if not frames:
                return
            more = []
            for mac, frame in frames:
                ok = self.radio.send(mac, frame)
                if mac != BROADCAST:
                    more.extend(self.node.send_done(mac, ok, self.clock.now()))
            frames = more

    # ---------------------------------------------------------------- the loop
    def step(self):
        now = self.clock.now()
        if self.reboot_at is not None and now >= self.reboot_at:
            machine.reset()
        if now >= self.next_publish:
            self.next_publish = now + int(self.port["interval_s"] * 1000)
            self.last_publish = now
            gc.collect()              # so the published heap figure is live data, not garbage
            self.send_all(self._publish(now))
            self._own_reading_event()
            self.led.show(True)
        if now >= self.next_stats:
            self.next_stats = now + int(self.port["stats_s"] * 1000)
            self._stats_event()
        self._expire_requests(now)
        for cmd in self.console.commands():
            self._command(cmd)
        got = self.radio.recv(self._wait_ms(now))
        if got:
            mac, frame, rssi = got
            self.send_all(self.node.receive(frame, mac, rssi, self.clock.now()))
        now = self.clock.now()
        deadline = self.node.next_deadline()
        if deadline is not None and deadline <= now:
            self.send_all(self.node.tick(now))
        self._events()
        if self.ota is not None and self.ota.board.step(now, self.node) == "reset":
            machine.reset()           # into the new bundle, or a trial that did not confirm
        if self.gateway is not None:
            self.gateway.step()
        self.led.show(len(self.node.readings) > 1)

    def _publish(self, now):
        values = self.sensors.read(self.uptime_s())
        if self.user is not None:
            app_values = self.user.mesh.values()
            try:
                return self.node.publish(app_values + values, now)
            except MemoryError:
                raise
            except Exception as e:    # the app's values do not encode or fit: sent without them
                self.user.failed_callback("publish", e)
        return self.node.publish(values, now)

    def publish_soon(self):
        """Publish at the next turn (the app changed its values), at most once a second."""
        self.next_publish = min(self.next_publish, self.last_publish + _MIN_PUBLISH_GAP_MS)

    def guarded_step(self):
        """step(), riding out a MemoryError: on a near-full heap a burst of
        frames or a large reply can fail one allocation (often fragmentation).
        Dropping that work and collecting beats a reboot, which would lose every
        reading held; a heap that stays full still ends in main.py's crash path."""
        try:
            self.step()
            self.oom_in_a_row = 0
        except MemoryError:
            self.oom_in_a_row += 1
            if self.oom_in_a_row > _OOM_IN_A_ROW:
                raise
            gc.collect()
            self.node.count("out_of_memory")
            self.console.event("low_memory", heap_free=gc.mem_free(), in_a_row=self.oom_in_a_row)

    def _wait_ms(self, now):
        wait = min(self.next_publish, self.next_stats) - now
        deadline = self.node.next_deadline()
        if deadline is not None:
            wait = min(wait, deadline - now)
        wait = max(0, min(wait, _POLL_MS))
        return wait if self.user is None else self.user.due_in_ms(wait)

    def _stats_event(self):
        s = self.node.stats
        gc.collect()
        self.console.event("stats", uptime_s=self.uptime_s(), heap_free=gc.mem_free(),
                           heap_alloc=gc.mem_alloc(),
                           rx=s["rx"], tx=s["tx"], rejected=s["rejected"],
                           readings=self.node.others_held())

    # ---------------------------------------------------------------- events
    def _events(self):
        for event in self.node.pop_events():
            handler = _EVENT_HANDLERS.get(event[0])
            if handler is not None:
                self._handle(handler, event)
            elif event[0] != "rejected":  # rejections are counted in stats
                self.console.event(event[0], args=_json_safe(list(event[1:])))

    def _handle(self, handler, event):
        # Events carry what came over the radio. Every field is validated
        # where it is used; should one still slip through, it costs this
        # event, reported, and never ends main.py (a full heap still does:
        # guarded_step decides about MemoryError).
        try:
            handler(self, event)
        except MemoryError:
            raise
        except Exception as e:
            self.node.count("app_error")
            self.console.event("app_error", event=event[0], error=repr(e))

    def _on_channel(self, event):
        try:
            self.radio.set_channel(event[1])
        except OSError:             # a joined station holds the AP's channel
            pass
        self.console.event("channel", channel=event[1], why=event[2])

    def _on_reading(self, event):
        origin = event[1]
        self.heard[origin] = self.clock.now()
        values = _values_json(event[5])
        self.console.event("reading", id=_hex(origin), name=self.name_of(origin), seq=event[3], values=values)
        self._reading_hooks(origin, event[3], values)

    def _reading_hooks(self, origin, seq, values):
        if self.gateway is not None:
            self.gateway.on_reading(origin, seq, values)
        if self.user is not None:
            self.user.on_reading(origin, seq, values)

    def _own_reading_event(self):
        # The stream shows the whole mesh: this node's own readings too.
        r = self.node.readings[self.node.id]
        values = _values_json(r.values)
        self.console.event("reading", id=_hex(r.origin), name=self.node.name, seq=r.seq, local=True, values=values)
        self._reading_hooks(r.origin, r.seq, values)

    def _on_neighbour(self, event):
        self.console.event("neighbour", id=_hex(event[1]), state=event[2])

_EVENT_HANDLERS = {
    "reading": App._on_reading,
    "neighbour": App._on_neighbour,
    "request": App._on_request,
    "reply": App._on_reply,
    "channel": App._on_channel,
}


def main():
    # Collect between the big steps of the boot. The GC runs only when an
    # allocation fails; left to that, the garbage of every import lies
    # between the code and tables that stay, and one late collection turns
    # it into holes: measured on the emulated board, 88 KB free in pieces
    # of at most 2.9 KB, too small for a driver's code (its import failed),
    # against 41 KB in one piece when collected here.
    gc.collect()
    load_commands()               # the console's and the mesh's handlers (meshport.port_requests)
    load_remote()
    gc.collect()
    runner = _userapp()
    gateway = _gateway()
    gc.collect()
    app = App(userapp=runner, gateway=gateway)
    gc.collect()
    wdt = machine.WDT(timeout=30000)
    if app.user is not None and app.user.main is not None:
        app.user.run(wdt)             # these steps as an asyncio task, the app beside them
    while True:
        app.guarded_step()
        wdt.feed()
