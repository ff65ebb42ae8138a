"""The host bridge: the whole mesh, as one board on a serial port sees it, on MQTT.

Three parts, each owned elsewhere, joined here:
- the board: `nowmesh.monitor.link.MonitorLink` reads its console and polls
  it, and rides out unplugging and resets; `MonitorSession` folds what it says
  into the mesh model (`MeshState`: nodes, hops, RSSI, latest readings);
- the schema: `nowmesh.mqtt.schema` turns readings and nodes into topics
  and payloads (pure functions, shared with the coming board gateway);
- the broker: paho-mqtt's client and its network thread (reconnects with
  back-off by itself; last will on the bridge state topic).

Readings go through the on-disk `Outbox` (published in order, deleted when
the broker acknowledges them), so a broker outage or a bridge restart loses
none. Everything else (discovery, availability, the bridge's state) is
current state, published retained and again on every (re)connect.

One thread owns the bridge's state: paho's callbacks only queue what
happened (`_events`), and `step()` handles it with the board's records.
"""
import json
import queue
import sys
import time
import uuid

import paho.mqtt.client as mqtt

from nowmesh import __version__
from nowmesh.deploy.config import load_operator_key, operator_key_file_for
from nowmesh.errors import InputError, ToolError
from nowmesh.monitor.session import MonitorSession
from nowmesh.mqtt import schema
from nowmesh.mqtt.options import check_setting
from nowmesh.query.admin import signed_args
from nowmesh.query.session import LOST

SIGNED = ("config_set", "reboot")   # run on another node only with an operator token
STATUS_TRIES = 2            # the target's status (for its token) is asked again once if the mesh lost it
WINDOW = 50                 # messages published and not yet acknowledged
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 8
KEEPALIVE_S = 15


class Bridge:
    def __init__(self, link, broker, outbox, base=schema.DEFAULT_BASE, prefix=schema.DEFAULT_PREFIX,
                 allow_commands=False, log=None, operator_key_file=None):
        self.link = link
        self.broker = broker
        self.outbox = outbox
        self.base, self.prefix = base, prefix
        self.allow_commands = allow_commands
        self.operator_key_file = operator_key_file   # signs set/reboot for nodes other than the board
        self.log = log or (lambda event, **fields: None)
        self.session = MonitorSession(link, on_record=self._record)
        self.model = self.session.model
        self.availability = schema.Availability()
        self.connected = False
        self._unreachable = False      # said so since the last connection
        self.stats = {"queued": 0, "published": 0, "acked": 0, "connects": 0, "dropped": 0}
        self._events = queue.Queue()
        self._inflight = {}            # paho mid -> outbox row id
        self._sent_upto = 0            # highest row id published on this connection
        self._queued_seq = {}          # mac -> seq of the node's reading last queued
        self._discovery = {}           # mac -> discovery payload last published
        self._info = {}                # mac -> {"board", "fw"} from the node's hello
        self._asked_hello = set()
        self._commands = []            # [(console cmd, node, args, topic key, mqtt cmd, field)]
        self._to_sign = []             # [(the same), tries]: waiting for the target's status (boot, admin_seq)
        self.client = self._make_client()

    # -- lifecycle --------------------------------------------------------------------------
    def start(self):
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=KEEPALIVE_S)
        self.client.loop_start()       # paho's network thread: connects, reconnects with back-off
        self.link.start()
        self.log("start", broker=str(self.broker), port=self.link.url, base=self.base, prefix=self.prefix,
                 queued=self.outbox.count(), commands=self.allow_commands)
        return self

    def run(self, seconds=None):
        end = None if seconds is None else time.monotonic() + seconds
        while end is None or time.monotonic() < end:
            self.step()

    def step(self, wait=0.1):
        # rows waiting that are not in flight yet: go round again at once
        backlog = self.connected and len(self._inflight) < min(WINDOW, self.outbox.count())
        self.session.drain(wait=0.0 if backlog else wait)
        self._handle_mqtt_events()
        self._update_availability(time.time())
        self._flush()

    def stop(self):
        if self.connected:
            topic, payload, retain = schema.bridge_message(self.base, False)
            try:
                self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(2.0)
            except (RuntimeError, ValueError):
                pass                   # the connection went as we stopped: the last will says it
        self.client.disconnect()
        self.client.loop_stop()
        self.session.close()           # stops the link; what it still had is queued
        self._flush()
        self.log("stop", waiting=self.outbox.count(), **self.stats)
        self.outbox.close()

    # -- MQTT client (paho's thread only queues) ----------------------------------------------
    def _make_client(self):
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                             client_id="nowmesh-bridge-" + uuid.uuid4().hex[:8])
        if self.broker.username:
            client.username_pw_set(self.broker.username, self.broker.password)
        if self.broker.tls:
            client.tls_set()
        topic, payload, retain = schema.bridge_message(self.base, False)
        client.will_set(topic, payload, qos=1, retain=retain)
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.max_inflight_messages_set(WINDOW)
        client.on_connect = lambda c, u, flags, rc, props: self._events.put(("connect", rc))
        client.on_disconnect = lambda c, u, flags, rc, props: self._events.put(("disconnect", rc))
        client.on_publish = lambda c, u, mid, rc, props: self._events.put(("puback", mid))
        client.on_message = lambda c, u, msg: self._events.put(("message", (msg.topic, msg.payload)))
        client.on_subscribe = lambda c, u, mid, codes, props: self._events.put(("suback", codes))
        client.on_connect_fail = lambda c, u: self._events.put(("connect_fail", None))
        return client

    def _handle_mqtt_events(self):
        while True:
            try:
                kind, value = self._events.get_nowait()
            except queue.Empty:
                return
            _MQTT_EVENTS[kind](self, value)

    def _on_connect(self, rc):
        if rc.is_failure:
            self.log("mqtt", state="refused", broker=str(self.broker), reason=str(rc))
            return
        self.connected = True
        self._unreachable = False
        self.stats["connects"] += 1
        self._inflight.clear()
        self._sent_upto = 0            # what was in flight when the last connection broke goes again
        self.log("mqtt", state="connected", broker=str(self.broker), queued=self.outbox.count())
        # QoS 0: a command or an HA announcement is acted on now or not at all (a command
        # queued in a broker for minutes and run later would surprise whoever sent it)
        self.client.subscribe([(t, 0) for t in schema.inbound_filters(self.base, self.prefix)])
        self._publish(schema.bridge_message(self.base, True))
        self._announce()

    def _on_connect_fail(self, _none):
        # no connection (refused, unreachable, or a TLS certificate not trusted): paho tries
        # again with back-off; said once per outage, not at every try
        if not self._unreachable:
            self._unreachable = True
            self.log("mqtt", state="unreachable", broker=str(self.broker),
                     detail="no TCP connection%s; trying again every %d-%d s" % (
                         " or TLS handshake (is the broker's certificate trusted?)" if self.broker.tls else "",
                         RECONNECT_MIN_S, RECONNECT_MAX_S))

    def _on_disconnect(self, rc):
        if self.connected:
            self.log("mqtt", state="disconnected", broker=str(self.broker), reason=str(rc),
                     retry_in_s="%d-%d" % (RECONNECT_MIN_S, RECONNECT_MAX_S))
        self.connected = False
        self._inflight.clear()

    def _on_puback(self, mid):
        row = self._inflight.pop(mid, None)
        if row is not None:
            self.outbox.done(row)
            self.stats["acked"] += 1

    def _on_suback(self, codes):
        refused = [str(code) for code in codes if code.is_failure]
        if refused:
            self.log("mqtt", state="subscribe refused", reasons=refused,
                     effect="commands and homeassistant/status are not heard")

    def _on_message(self, message):
        topic, payload = message
        kind = schema.inbound(self.base, self.prefix, topic, payload)
        if kind == "carrier_left":
            # another bridge or gateway of this mesh left (its will): we still carry it
            self._publish(schema.bridge_message(self.base, True))
            self.log("mqtt", state="another carrier left", action="bridge state online again")
        elif kind == "homeassistant":
            self.log("homeassistant", state="online", action="discovery sent again")
            self._discovery.clear()
            self._announce()
        elif kind == "command":
            self._command(topic, payload)

    def _publish(self, message, qos=1):
        if self.connected:
            topic, payload, retain = message
            self.client.publish(topic, payload, qos=qos, retain=retain)

    # -- board records -> readings, nodes -------------------------------------------------------
    def _record(self, rec):
        ev, cmd = rec.get("ev"), rec.get("cmd")
        if ev == "reading":
            self._reading_changed(rec.get("id"))
        elif ev in ("poll", "reply") and rec.get("ok") and cmd == "readings":
            for item in rec.get("data") or ():
                if isinstance(item, dict):
                    self._reading_changed(item.get("id"))
        elif ev == "hello" or (ev in ("poll", "reply") and cmd == "hello" and rec.get("ok")):
            self._hello(rec.get("data") if ev != "hello" else rec, rec.get("node"))
        elif ev == "reply" and cmd == "hello":
            # lost in the mesh (a timeout): asked again with the node's next reading,
            # else its device would stay named by its MAC, without board or firmware
            self._asked_hello.discard(rec.get("node"))
        if ev == "reply":
            self._command_reply(rec)
        elif ev == "link":
            self.log("board", state=rec.get("state"), port=rec.get("port"), detail=rec.get("detail"))

    def _reading_changed(self, mac):
        reading = self.model.readings.get(mac) if isinstance(mac, str) else None
        if reading is None or reading["seq"] == self._queued_seq.get(mac):
            return
        self._queued_seq[mac] = reading["seq"]
        heard = reading["heard"] if reading["heard"] is not None else time.time()
        self.availability.heard(mac, reading["seq"], heard)
        node = self.model.nodes.get(mac) or {}
        message = schema.state_message(self.base, mac, node.get("name"), reading["seq"], reading["values"],
                                       schema.iso_utc(heard), node.get("hops"), node.get("rssi"))
        dropped = self.outbox.put(*message)
        if dropped:
            self.stats["dropped"] += dropped
            self.log("queue", state="full", dropped=dropped, oldest_gone=True, limit=self.outbox.max_rows)
        self.stats["queued"] += 1
        self._discover(mac)
        if mac != self.model.local_id and mac not in self._asked_hello and self.model.local_id:
            self._asked_hello.add(mac)         # board and firmware version, once, through the mesh
            self.link.request("hello", None, mac)

    def _hello(self, data, node):
        if not isinstance(data, dict) or not data.get("id"):
            return
        self._info[data["id"]] = {"board": data.get("board"), "fw": data.get("fw")}
        self.model.node(data["id"], data.get("name"))
        if node is None:
            self._publish(self._bridge_discovery())
        self._discover(data["id"])

    # -- discovery and availability -----------------------------------------------------------------
    def bridge_id(self):
        return "nowmesh_bridge_" + schema.node_key(self.model.local_id or "unknown")

    def _bridge_discovery(self):
        return schema.bridge_discovery_message(self.prefix, self.base, self.bridge_id(),
                                               "nowmesh bridge (%s)" % self.link.url, __version__)

    def _discover(self, mac):
        reading = self.model.readings.get(mac)
        if reading is None or not self.connected:
            return
        entry = self.model.nodes.get(mac) or {}
        node = dict(self._info.get(mac) or {}, id=mac, name=entry.get("name"))
        message = schema.discovery_message(self.prefix, self.base, node, reading["values"], self.bridge_id(),
                                           __version__)
        if self._discovery.get(mac) != message[1]:
            self._discovery[mac] = message[1]
            self._publish(message)
            self.log("discovery", node=node["name"] or mac, id=mac,
                     entities=len(json.loads(message[1])["cmps"]))

    def _announce(self):
        """Everything a subscriber (Home Assistant) needs, after a (re)connect."""
        self._publish(self._bridge_discovery())
        for mac in list(self.model.readings):
            self._discover(mac)
        for mac, online in self.availability.current():
            self._publish(schema.availability_message(self.base, mac, online))

    def _update_availability(self, now):
        for mac, online in self.availability.changes(now):
            self._publish(schema.availability_message(self.base, mac, online))
            self.log("availability", node=self.model.name_of(mac), id=mac,
                     state=schema.ONLINE if online else schema.OFFLINE,
                     interval_s=round(self.availability.interval_s(mac), 1))

    def _flush(self):
        if not self.connected or len(self._inflight) >= WINDOW:
            return
        for row_id, topic, payload, retain in self.outbox.waiting(self._sent_upto, WINDOW - len(self._inflight)):
            info = self.client.publish(topic, payload, qos=1, retain=retain)
            if info.rc != mqtt.MQTT_ERR_SUCCESS:
                return                     # the connection just broke: the row stays for the next one
            self._inflight[info.mid] = row_id
            self._sent_upto = row_id
            self.stats["published"] += 1

    # -- commands ---------------------------------------------------------------------------------------
    def _command(self, topic, payload):
        key = topic.split("/")[-2] if topic.count("/") >= 2 else ""
        try:
            key, cmd, steps = schema.parse_command(self.base, topic, payload, self.allow_commands, check_setting)
            mac = self._resolve(key)
        except schema.Refused as exc:
            cmd = topic.rsplit("/", 1)[-1]
            self._publish(schema.response_message(self.base, key, cmd, False, error=str(exc)), qos=0)
            self.log("command", node=key, cmd=cmd, ok=False, error=str(exc))
            return
        node = None if mac == self.model.local_id else mac
        for console_cmd, args in steps:
            if console_cmd == "ping":
                args, node = {"node": mac}, None
            pending = (console_cmd, node, args, key, cmd, (args or {}).get("field"))
            if node is not None and console_cmd in SIGNED:
                # through the mesh these need the operator's token, made from the target's status
                self._to_sign.append([pending, 1])
                self.link.request("status", None, node)
                continue
            self._send_command(pending)

    def _send_command(self, pending):
        console_cmd, node, args, key, cmd, _field = pending
        self._commands.append(pending)
        self.link.request(console_cmd, args, node)
        self.log("command", node=key, cmd=cmd, sent=console_cmd, args=_shown(args))

    def _sign(self, pending, rec):
        console_cmd, node, args, key, cmd, field = pending
        try:
            if not rec.get("ok") or not isinstance(rec.get("data"), dict):
                raise ToolError("no status from the node: %s" % (rec.get("error") or "no answer"))
            path, _why = operator_key_file_for(self.operator_key_file, port=self.link.url)
            signed = signed_args(rec["data"], node, self.model.name_of(node), console_cmd, args,
                                 load_operator_key(path))
        except (ToolError, InputError) as exc:
            self._publish(schema.response_message(self.base, key, cmd, False, error=str(exc), field=field), qos=0)
            self.log("command", node=key, cmd=cmd, ok=False, error=str(exc))
            return
        self._send_command((console_cmd, node, signed, key, cmd, field))

    def _resolve(self, key):
        return schema.resolve_node(key, ((mac, entry.get("name")) for mac, entry in self.model.nodes.items()))

    def _command_reply(self, rec):
        if rec.get("cmd") == "status":
            for i, (pending, tries) in enumerate(self._to_sign):
                if pending[1] == rec.get("node"):
                    if not rec.get("ok") and rec.get("error") in LOST and tries < STATUS_TRIES:
                        # a mesh request is one try (docs/app-api.md): a lost
                        # status must not fail the user's command
                        self._to_sign[i][1] += 1
                        self.link.request("status", None, pending[1])
                        return
                    del self._to_sign[i]
                    self._sign(pending, rec)
                    return
        want = (rec.get("cmd"), rec.get("node"), rec.get("args") or None)
        for i, (console_cmd, node, args, key, cmd, field) in enumerate(self._commands):
            if (console_cmd, node, args or None) == want:
                del self._commands[i]
                self._publish(schema.response_message(self.base, key, cmd, bool(rec.get("ok")), rec.get("data"),
                                                      rec.get("error"), field), qos=0)
                self.log("command", node=key, cmd=cmd, ok=bool(rec.get("ok")), error=rec.get("error"))
                return


_MQTT_EVENTS = {"connect": Bridge._on_connect, "disconnect": Bridge._on_disconnect,
                "puback": Bridge._on_puback, "message": Bridge._on_message,
                "suback": Bridge._on_suback, "connect_fail": Bridge._on_connect_fail}


def _shown(args):
    """Command args for the log: never the operator's token."""
    return {k: v for k, v in args.items() if k != "auth"} if isinstance(args, dict) else args


def json_logger(out=None):
    def log(event, **fields):
        fields = dict(fields, ev=event, t=round(time.time(), 3))
        (out or sys.stdout).write(json.dumps(fields, sort_keys=True, default=str) + "\n")
        (out or sys.stdout).flush()
    return log


def text_logger(out=None):
    def log(event, **fields):
        text = " ".join("%s=%s" % (k, v) for k, v in sorted(fields.items()) if v is not None)
        (out or sys.stderr).write("%s %s %s\n" % (time.strftime("%H:%M:%S"), event, text))
        (out or sys.stderr).flush()
    return log
