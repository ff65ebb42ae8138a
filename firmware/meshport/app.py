# The node's main loop: feed the mesh core, send what it returns, sleep until
# the next deadline or the next frame, and serve the console.
import gc
import json
import os

import machine
from mesh.node import Node
from mesh.wire import MAX_FRAME, MAX_FRAME_V2, parse_id

from . import FIRMWARE_VERSION, settings, store
from .clock import Clock
from .console import PROTO, Console
from .led import Led
from .radio import BROADCAST, Radio
from .sensors import Sensors

_POLL_MS = 50                 # console latency bound while the radio is idle
_REQUEST_TIMEOUT_MS = 10000
_OOM_IN_A_ROW = 3             # more MemoryErrors than this in a row: the heap is really full
_DEFAULT_SENSORS = [{"kind": "internal_temp"}]


def _hex(b):
    return ":".join(["%02x" % x for x in b])


def _tidy(value):
    # Readings travel as float32: print 6 significant digits, not 18.889999389648438.
    return float("%.6g" % value) if isinstance(value, float) else value


def _values_json(values):
    return [[n, _tidy(v), u] for n, v, u in values]


def _commands():
    # The console's command handlers (meshport.commands) and the answers to
    # requests from the mesh (meshport.remote). main() imports both at boot,
    # before the mesh state fills the heap: imported on the first command
    # instead, a node whose heap had fragmented (minutes of readings and
    # hellos) could not find 1.3 KB in one piece for their code and answered
    # no remote command again (MemoryError at import, every time).
    from . import commands
    return commands


def _remote():
    from . import remote
    return remote


def _radio_json(data):
    """JSON that came over the radio -> its value, or None. A payload may be
    any bytes: bad UTF-8, or nesting deeper than the parser's recursion limit."""
    try:
        return json.loads(data)
    except (ValueError, RuntimeError, TypeError):   # RuntimeError: recursion depth
        return None


def _json_safe(value):
    if isinstance(value, (bytes, bytearray)):
        return _hex(value) if len(value) == 6 else value.hex()
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


class App:
    def __init__(self, console=None):
        # console: the USB console by default; tests pass a scripted one.
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
        self.led = Led(self.board.get("led"))
        self.sensors = Sensors(self.port["sensors"] or self.board.get("sensors") or _DEFAULT_SENSORS,
                               self.board, self._sensor_report)
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
        self.oom_in_a_row = 0         # loop steps that ended in MemoryError, consecutively
        self._current_id = None       # console id of the command being run
        self.next_publish = self.clock.now() + 1000
        self.next_stats = self.clock.now() + self.port["stats_s"] * 1000
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
        return {"ev": "hello", "proto": PROTO, "fw": FIRMWARE_VERSION, "name": self.node.name,
                "id": _hex(self.node.id), "board": self.board.get("name")}

    def uptime_s(self):
        return self.clock.now() // 1000

    def node_heard_ms(self, origin):
        return self.heard.get(origin)

    def name_of(self, node_id):
        if node_id == self.node.id:
            return self.node.name
        return self.names.get(node_id)

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
            gc.collect()              # so the published heap figure is live data, not garbage
            self.send_all(self.node.publish(self.sensors.read(self.uptime_s()), now))
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
        self.led.show(len(self.node.readings) > 1)

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
        return max(0, min(wait, _POLL_MS))

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

    def _on_reading(self, event):
        origin = event[1]
        self.heard[origin] = self.clock.now()
        self.console.event("reading", id=_hex(origin), name=self.name_of(origin), seq=event[3],
                           values=_values_json(event[5]))

    def _own_reading_event(self):
        # The stream shows the whole mesh: this node's own readings too.
        r = self.node.readings[self.node.id]
        self.console.event("reading", id=_hex(r.origin), name=self.node.name, seq=r.seq, local=True,
                           values=_values_json(r.values))

    def _on_neighbour(self, event):
        self.console.event("neighbour", id=_hex(event[1]), state=event[2])

    def _on_request(self, event):
        sender, req_id, payload = event[1], event[2], event[3]
        answer = _remote().answer(self, sender, payload[:1], payload[1:])
        body = b"R" + json.dumps(answer).encode()
        try:
            frames = self.node.reply(sender, req_id, body, self.clock.now())
        except ValueError:            # more fragments than a routed packet may have
            body = b"R" + json.dumps({"ok": False, "error": "answer too large for the mesh"}).encode()
            frames = self.node.reply(sender, req_id, body, self.clock.now())
        self.send_all(frames)
        if self.reboot_requested and self.reboot_at is None:
            # A remote `reboot`: its answer is on its way. Reset once the
            # requester's end-to-end retries are over (each is a duplicate
            # here, dropped); reset at once and a retry would find a fresh
            # duplicate table after the boot and reboot the node again.
            self.reboot_at = self.clock.now() + 3 * self.node.config.e2e_timeout_ms + 1000

    def _on_reply(self, event):
        req_id, sender, payload, hops = event[1], event[2], event[3], event[4]
        entry = self.pending.pop(req_id, None)
        if entry is None:
            return
        cmd_id, sent_ms = entry[0], entry[1]
        rtt = self.clock.now() - sent_ms
        if payload == b"pong":
            self.console.send({"re": cmd_id, "ok": True,
                               "data": {"node": _hex(sender), "rtt_ms": rtt, "hops": hops}})
            return
        answer = _radio_json(payload[1:])
        if not isinstance(answer, dict):
            answer = {"ok": False, "error": "garbled reply"}
        answer["re"] = cmd_id
        answer["node"] = _hex(sender)
        data = answer.get("data")
        name = data.get("name") if isinstance(data, dict) else None
        if isinstance(name, str) and name:
            self.names[sender] = name
        self.console.send(answer)

    # ---------------------------------------------------------------- commands
    def _command(self, cmd):
        commands = _commands()
        cmd_id = self._current_id = cmd.get("id")
        try:
            if cmd.get("node") is not None:
                result = self._forward_command(cmd)
            else:
                result = commands.run(self, cmd["cmd"], cmd.get("args") or {})
        except commands.CommandError as e:
            self.console.send({"re": cmd_id, "ok": False, "error": str(e)})
            return
        if result is commands.PENDING:
            return
        self.console.send({"re": cmd_id, "ok": True, "data": result})
        if self.reboot_requested:
            machine.reset()

    def _forward_command(self, cmd):
        commands = _commands()
        name, args = cmd["cmd"], cmd.get("args") or {}
        if name not in commands.REMOTE_OK and name not in commands.ADMIN:
            raise commands.CommandError("%s cannot run on a remote node" % name)
        auth = args.get("auth") if isinstance(args, dict) else None
        if auth is None:
            # sent as asked: an admin command without a token is refused
            # by the target, which says why
            body = b"C" + json.dumps({"cmd": name, "args": args}).encode()
        else:
            try:
                body = b"A" + bytes.fromhex(auth)
            except (ValueError, TypeError):
                raise commands.CommandError("'auth' must be the hex token nowmesh signs with the operator key")
        return self.start_request({"node": cmd["node"]}, body)

    def start_request(self, args, payload):
        commands = _commands()
        target = self.resolve(args.get("node"))
        try:
            req_id, frames = self.node.request(target, payload, self.clock.now())
        except ValueError as e:       # too many requests in flight, or to ourselves
            raise commands.CommandError(str(e))
        self.pending[req_id] = [self._current_id, self.clock.now()]
        self.send_all(frames)
        return commands.PENDING

    def resolve(self, ref):
        commands = _commands()
        if not isinstance(ref, str):
            raise commands.CommandError("name the node ('node': name or aa:bb:cc:dd:ee:ff)")
        if len(ref) == 17 and ref.count(":") == 5:
            try:
                return parse_id(ref)
            except ValueError:
                pass
        for node_id, name in self.names.items():
            if name == ref:
                return node_id
        for n in commands.neighbour_entries(self.node):
            if getattr(n, "name", None) == ref:
                return n.id
        raise commands.CommandError("unknown node %r (use its id)" % ref)

    def _expire_requests(self, now):
        for req_id in list(self.pending):
            cmd_id, sent = self.pending[req_id][0], self.pending[req_id][1]
            if now - sent > _REQUEST_TIMEOUT_MS:
                del self.pending[req_id]
                self.console.send({"re": cmd_id, "ok": False, "error": "timeout"})


_EVENT_HANDLERS = {
    "reading": App._on_reading,
    "neighbour": App._on_neighbour,
    "request": App._on_request,
    "reply": App._on_reply,
}


def main():
    # Collect between the big steps of the boot. The GC runs only when an
    # allocation fails; left to that, the garbage of every import lies
    # between the code and tables that stay, and one late collection turns
    # it into holes: measured on the emulated board, 88 KB free in pieces
    # of at most 2.9 KB, too small for a driver's code (its import failed),
    # against 41 KB in one piece when collected here.
    gc.collect()
    _commands()
    _remote()
    gc.collect()
    app = App()
    gc.collect()
    wdt = machine.WDT(timeout=30000)
    while True:
        app.guarded_step()
        wdt.feed()
