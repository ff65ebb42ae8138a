# The gateway: a node whose config has `wifi` and `mqtt` joins the access
# point as a station and publishes the whole mesh to an MQTT broker with the
# one schema (meshport.mqtt_schema, docs/mqtt.md), while staying a full mesh
# node. A plug-in of the app's loop: start(app) at boot, then step() every
# loop turn and on_reading() for every reading the node holds (its own too).
#
# Readings (states) go through the flash outbox: in order, and kept while the
# broker or the access point is away. Discovery and availability are current
# state: rebuilt from what the gateway knows when they are sent (Current), so
# neither the flash nor the heap holds a 2 KB discovery text per node, and
# all of it is sent again after every connect and when Home Assistant
# announces itself.
import gc
import time

from . import FIRMWARE_VERSION
from .commands import CommandError, hex_id
from .port_requests import HELLO_REQUEST as HELLO   # a read-only remote command (meshport.remote)

WIFI_RETRY_MS = 10000       # a join that did not succeed is tried again after this
AVAILABILITY_EVERY_MS = 1000
RETRY_SKIPPED_MS = 10000    # discovery configs skipped for want of heap are built again after this
MAX_NODES = 64              # nodes the gateway publishes (bounded like the core's tables)
# MicroPython's epoch is 2000 on the ESP32 before 1.23-ish ports, 1970 on unix
_EPOCH_OFFSET = 946684800 if time.gmtime(0)[0] == 2000 else 0
_CLOCK_SET_AFTER = 1700000000       # unix seconds: an earlier clock was never set


def start(app):
    """-> a running Gateway when the config has both wifi and mqtt, else None.
    Called at boot: the gateway's modules are imported then, not on first use
    (docs/heap.md)."""
    wifi, url = app.port.get("wifi"), app.port.get("mqtt")
    if not wifi or not url:
        return None
    import network
    from . import mqtt_schema
    from .gateway_link import Link, Parts
    from .gateway_outbox import Outbox
    gw = Gateway(app, network, mqtt_schema, Link, Outbox(), wifi, url)
    gw.parts_class = Parts
    if app.port.get("mqtt_commands"):   # the commands' code only where they are enabled (heap)
        from .gateway_commands import Commands
        gw.commands = Commands(gw)
    return gw


class Gateway:
    def __init__(self, app, network, schema, link_class, outbox, wifi, url):
        self.app = app
        self.schema = schema
        self.wlan = app.radio.wlan
        self._stat_got_ip = network.STAT_GOT_IP
        self.ssid, self.password = wifi["ssid"], wifi.get("password", "")
        self.base, self.prefix = schema.DEFAULT_BASE, schema.DEFAULT_PREFIX
        self.mac = hex_id(app.node.id)
        self.bridge_id = "nowmesh_bridge_" + schema.node_key(self.mac)
        self.availability = schema.Availability()
        self.nodes = {}             # mac text -> (name, values of its latest reading)
        self.info = {}              # mac text -> (name, board, fw) of its hello, () if unanswered
        self.commands = None        # gateway_commands.Commands, when deployed with --allow-commands
        self._asking = None         # the node whose hello is in flight (one at a time)
        self.current = Current(self)
        self.link = link_class(url, self.bridge_id, outbox, schema.bridge_topic(self.base),
                               subscribe=schema.inbound_filters(self.base, self.prefix),
                               on_message=self._on_message, current=self.current)
        self._join_at = 0
        self._joined = False
        self._target = None         # the AP's channel, while the mesh moves there
        self._next_availability = 0
        self._next_retry = 0
        self.joins = 0

    def status(self):
        """The gateway's part of `status`: where its Wi-Fi and broker link
        stand and what waits in the outbox (docs/mqtt.md)."""
        link = self.link
        return {"wifi": self._joined, "mqtt": link.connected(), "outbox": len(link.outbox),
                "published": link.published, "failures": link.failures, "backoff_ms": link.backoff_ms,
                "joins": self.joins, "dropped": link.outbox.dropped}

    # ------------------------------------------------------------ the loop
    def step(self):
        now = self.app.clock.now()
        if not self._wifi_up(now):
            return
        self.link.step()
        if now >= self._next_availability:
            self._next_availability = now + AVAILABILITY_EVERY_MS
            for mac, _online in self.availability.changes(now / 1000):
                self.current.want(("avail", mac))
        if now >= self._next_retry:
            self._next_retry = now + RETRY_SKIPPED_MS
            self.current.retry_skipped()
        if self.commands is not None:
            self.commands.step(now)

    def _wifi_up(self, now):
        channels = self.app.channels
        if self.wlan.isconnected():
            if not self._joined:
                self._joined = True
                self._check_channel()
            elif self._ap_moved():
                self._lost(now)         # the driver rejoined the AP on its new channel, without the mesh
                return False
            channels.pinned = True      # the radio is the AP's: no scan, no move
            return True
        if self._joined:                # the AP went, or moved to another channel
            self._lost(now)
        channels.pinned = False
        if self._target is not None:    # the mesh is moving to the AP's channel with us
            if channels.channel == self._target or now >= self._join_at:
                self._target = None
                self._connect()
            return False
        if now >= self._join_at:        # connect() returns at once; status() tells later
            self._join_at = now + WIFI_RETRY_MS
            ap = self._ap_channel()
            if ap is not None and ap != channels.channel:
                # Joining moves our radio to the AP's channel: take the mesh
                # along first (mesh/channels.py), then join.
                self._target = ap
                self._radio_to(channels.channel)
                self.app.send_all(channels.announce(ap, now))
                self.app.console.event("gateway_channel", ap_channel=ap, mesh_channel=channels.channel)
            else:
                self._connect()
        return False

    def _ap_moved(self):
        try:
            return self.wlan.config("channel") != self.app.channels.channel
        except (OSError, ValueError):
            return False

    def _lost(self, now):
        # The AP is gone from where we joined it (a router's auto channel
        # moved it, or it went away). MicroPython's driver rejoins by itself,
        # wherever the AP went, leaving the mesh behind: stop it, and join
        # again now the way the first join does (scan, take the mesh along).
        self._joined = False
        self.app.channels.pinned = False
        try:
            self.wlan.disconnect()
        except OSError:
            pass
        self._join_at = now
        self.app.console.event("gateway_wifi", state="lost", channel=self.app.channels.channel)

    def _radio_to(self, channel):
        # back where the mesh is, to tell it (after a scan or a lost AP the radio may be elsewhere)
        try:
            self.app.radio.set_channel(channel)
        except OSError:
            pass

    def _ap_channel(self):
        """The channel our access point is on (a scan), or None if not seen."""
        try:
            for entry in self.wlan.scan():
                if bytes(entry[0]) == self.ssid.encode():
                    return entry[2]
        except OSError:
            pass
        return None

    def _connect(self):
        self.joins += 1
        try:
            self.wlan.connect(self.ssid, self.password)
        except OSError:
            pass

    def _check_channel(self):
        # Joined: the radio is on the AP's channel. The mesh moved with us
        # unless the AP was not seen by the scan or changed channel since;
        # then nodes find us by their own scan (mesh/channels.py).
        try:
            ap = self.wlan.config("channel")
        except (OSError, ValueError):
            return
        self.app.channels.follow(ap)

    def on_reading(self, origin, seq, values):
        mac = hex_id(origin)
        if mac not in self.nodes and len(self.nodes) >= MAX_NODES:
            return
        info = self.info.get(mac)
        name = (info and info[0]) or self.app.name_of(origin) or mac
        old = self.nodes.get(mac)
        self.nodes[mac] = (name, values)
        self.availability.heard(mac, seq, self.app.clock.now() / 1000)
        if not info and mac != self.mac:
            self._ask_hello(mac)             # its board and firmware, for discovery
        hops, rssi = self.view(origin)
        self.link.outbox.put(*self.schema.state_message(self.base, mac, name, seq, values, _now_iso(self.schema),
                                                         hops, rssi))
        # A node's discovery waits for its hello (or for the hello to go
        # unanswered): sent before it, it would be built and sent twice, and
        # a discovery build is the gateway's largest allocation.
        if (info is not None or mac == self.mac) and \
                (old is None or old[0] != name or _shape(old[1]) != _shape(values)):
            self.current.want(("disc", mac))

    def _ask_hello(self, mac):
        # through the mesh, one node at a time; one not answering is asked
        # again with its next reading
        if self._asking is not None:
            return
        try:
            self.app.start_request({"node": mac}, HELLO, _Hello(self, mac))
        except CommandError:        # too many requests in flight: with a later reading
            return
        self._asking = mac

    def learn(self, mac, hello):
        """A node's hello reached us (None: it went unanswered): its name,
        board and firmware go into its discovery. Kept as a tuple of strings
        that equal ones already held share (19 nodes with one board and one
        firmware hold those once)."""
        if mac not in self.nodes:
            return
        if hello is None:
            info = self.info.get(mac) or ()      # (): sent without them; asked again with its next reading
        else:
            info = tuple(self._shared(hello.get(field)) for field in ("name", "board", "fw"))
        if self.info.get(mac) != info or mac not in self.info:
            self.info[mac] = info
            if info and info[0]:
                self.nodes[mac] = (info[0], self.nodes[mac][1])
            self.current.want(("disc", mac))

    def _shared(self, value):
        if not isinstance(value, str) or len(value) > 40:
            return None                 # from the radio: only short text is kept
        for info in self.info.values():
            if value in info:
                return info[info.index(value)]
        return value

    def view(self, origin):
        """(hops, rssi of the direct link) as this node sees `origin`."""
        node = self.app.node
        if origin == node.id:
            return 0, None
        hops = rssi = None
        for dst, _nh, _metric, est in node.route_list():
            if dst == origin:
                hops = est
        n = node.neighbours.get(origin)
        if n is not None and n.cost() < 255:
            rssi = n.rssi
            hops = hops or 1
        return hops, rssi

    # ------------------------------------------------------------ messages
    def message_for(self, key):
        """The current-state message a queued key stands for (None: gone)."""
        kind, arg = key
        s = self.schema
        if kind == "bridge":
            return s.bridge_discovery_message(self.prefix, self.base, self.bridge_id,
                                              "nowmesh gateway " + self.app.node.name, FIRMWARE_VERSION)
        if kind == "online":            # another carrier's will said offline: we still carry the mesh
            return s.bridge_message(self.base, True)
        if kind == "avail":
            entry = self.availability.nodes.get(arg)
            return None if entry is None else s.availability_message(self.base, arg, entry["online"] is not False)
        if kind == "disc":
            node = self.nodes.get(arg)
            if node is None:
                return None
            info = {"id": arg, "name": node[0]}
            if arg == self.mac:
                info["board"], info["fw"] = self.app.board.get("name"), FIRMWARE_VERSION
            elif self.info.get(arg):
                info["board"], info["fw"] = self.info[arg][1], self.info[arg][2]
            topic, parts, retain = s.discovery_parts(self.prefix, self.base, info, node[1], self.bridge_id,
                                                     FIRMWARE_VERSION)
            return topic, self.parts_class(parts), retain
        return arg                  # ("msg", (topic, payload, retain)): a one-off reply

    def on_connect(self):
        self.current.want(("bridge", None))
        for mac in self.nodes:
            if mac in self.info or mac == self.mac:     # the others' wait for their hello (on_reading)
                self.current.want(("disc", mac))
            self.current.want(("avail", mac))

    def _on_message(self, topic, payload):
        topic = topic.decode()
        kind = self.schema.inbound(self.base, self.prefix, topic, payload)
        if kind == "carrier_left":              # another carrier's will: we still carry the mesh
            self.current.want(("online", None))
        elif kind == "homeassistant":           # Home Assistant (re)started
            self.on_connect()
        elif kind == "command" and self.commands is not None:
            self.commands.on_message(topic, payload)
        elif kind == "command":         # refused, saying how to enable them
            try:
                self.schema.parse_command(self.base, topic, payload, False, None, self.schema.GATEWAY_HINT)
            except self.schema.Refused as refused:
                parts = topic.split("/")
                self.current.reply(self.schema.response_message(self.base, parts[-2], parts[-1], False,
                                                                error=str(refused)))



class _Hello:
    """The reply path's waiter (App.start_request) for a discovery hello."""

    def __init__(self, gateway, mac):
        self.gateway, self.mac = gateway, mac

    def done(self, answer):
        self.gateway._asking = None
        data = answer.get("data") if isinstance(answer, dict) and answer.get("ok") else None
        ok = isinstance(data, dict) and data.get("id") == self.mac
        self.gateway.learn(self.mac, data if ok else None)


class Current:
    """Keys of current-state messages waiting for the broker, each once, in
    order; the message is built when it is next to go (Link's source)."""
    MAX_REPLIES = 4

    def __init__(self, gateway):
        self.gateway = gateway
        self.keys = []
        self._msg = None
        self.skipped = 0            # messages not built for want of heap
        self.retry = []             # discovery keys skipped for want of heap

    def want(self, key):
        if key not in self.keys:
            self.keys.append(key)

    def reply(self, message):
        """Queue a one-off message (a command's answer) -> its key, or None
        when MAX_REPLIES already wait (a flood of commands is not answered)."""
        if sum(1 for k in self.keys if k[0] == "msg") < self.MAX_REPLIES:
            key = ("msg", message)
            self.keys.append(key)
            return key
        return None

    def on_connect(self):
        self.gateway.on_connect()

    def peek(self):
        while self._msg is None and self.keys:
            self._msg = self._build(self.keys[0])
            if self._msg is None:
                self.keys.pop(0)
        return self._msg

    def _build(self, key):
        # A discovery config is the largest text the node makes (~2.3 KB, in
        # pieces: Parts, and ~18 KB of short-lived allocations on the 64-bit
        # emulated board): built in one piece it failed on the emulated
        # gateway's heap with 22-26 KB free. Collect, build; on
        # failure collect and try once more, then skip it (counted; it goes
        # again on the next connect or Home Assistant's `online`) rather than
        # end the loop or stall the readings behind it.
        for _ in range(2):
            gc.collect()
            try:
                return self.gateway.message_for(key)
            except MemoryError:
                pass
        self.skipped += 1
        if key[0] == "disc" and key not in self.retry:
            self.retry.append(key)     # again on the next retry_skipped(), not only the next connect
        return None

    def retry_skipped(self):
        for key in self.retry:
            self.want(key)
        self.retry = []

    def done(self):
        if self.keys:
            self.keys.pop(0)
        self._msg = None


def _shape(values):
    # what the discovery config depends on: the quantities and their units
    return [(v[0], v[2]) for v in values or ()]


def _now_iso(schema):
    unix_s = time.time() + _EPOCH_OFFSET
    return schema.iso_utc(unix_s) if unix_s >= _CLOCK_SET_AFTER else None
