"""The one MQTT schema of nowmesh (docs/mqtt.md), without I/O.

Pure functions: a node's reading and what the bridge knows of the node go
in, (topic, payload, retain) tuples come out; MQTT command topics come in,
console commands (or a refusal) come out. One copy for both bridges: the
board gateway imports it as meshport.mqtt_schema, the host bridge loads this
same file as nowmesh.mqtt.schema. So the mapping is data (QUANTITIES, META,
ALLOWED_UNITS, UNIT_ALIASES, SETTABLE) and the code only plain dicts, lists
and json: it runs under MicroPython too (tests/mqtt).

Home Assistant facts (checked against home-assistant/core,
homeassistant/components/sensor/const.py DEVICE_CLASS_UNITS and
DEVICE_CLASS_STATE_CLASSES, and the MQTT integration's docs, "Device
discovery payload"): a device-based discovery config is one retained JSON
object on <prefix>/device/<object id>/config whose `dev` and `o` (origin)
mappings are required, with one entry per entity under `cmps`, each with its
platform `p` and a `unique_id`; a unit outside the device class's allowed
set makes Home Assistant log a warning, so such a quantity goes out without
a device class.
"""
import json

ORIGIN = "nowmesh"
DEFAULT_BASE = "nowmesh"
DEFAULT_PREFIX = "homeassistant"
DEFAULT_INTERVAL_S = 30         # the firmware's default interval_s, until a node's own is seen
OFFLINE_AFTER_INTERVALS = 3     # unheard by the whole mesh for 3 intervals: offline
ONLINE, OFFLINE = "online", "offline"

_PRESSURE = ("Pa", "hPa", "kPa", "bar", "cbar", "mbar", "mmHg", "inHg", "psi")
# Units Home Assistant accepts per sensor device class (a subset: the classes
# the QUANTITIES and META tables use), from DEVICE_CLASS_UNITS.
ALLOWED_UNITS = {
    "temperature": ("°C", "°F", "K"),
    "humidity": ("%",),
    "moisture": ("%",),
    "battery": ("%",),
    "illuminance": ("lx",),
    "pressure": _PRESSURE,
    "atmospheric_pressure": _PRESSURE,
    "voltage": ("V", "mV"),
    "current": ("A", "mA"),
    "power": ("W", "kW"),
    "carbon_dioxide": ("ppm",),
    "signal_strength": ("dB", "dBm"),
    "duration": ("d", "h", "min", "s", "ms"),
    "data_size": ("bit", "kbit", "Mbit", "Gbit", "B", "kB", "MB", "GB", "KiB", "MiB", "GiB"),
    "distance": ("mm", "cm", "m", "km", "in", "ft", "yd", "mi"),
    "timestamp": (None,),
}
# How sensors and drivers spell units -> Home Assistant's spelling.
UNIT_ALIASES = {"C": "°C", "degC": "°C", "F": "°F", "degF": "°F", "lux": "lx", "Lux": "lx",
                "%RH": "%", "pct": "%", "bytes": "B", "sec": "s", "v": "V", "mv": "mV"}

# Quantity name in a reading -> (device class, state class, diagnostic, entity name).
# A quantity not listed still appears: as a plain sensor named after itself.
QUANTITIES = {
    "temp": ("temperature", "measurement", False, "Temperature"),
    "temperature": ("temperature", "measurement", False, "Temperature"),
    "temp_mcu": ("temperature", "measurement", True, "Chip temperature"),
    "rh": ("humidity", "measurement", False, "Humidity"),
    "humidity": ("humidity", "measurement", False, "Humidity"),
    "pressure": ("atmospheric_pressure", "measurement", False, "Pressure"),
    "lux": ("illuminance", "measurement", False, "Illuminance"),
    "illuminance": ("illuminance", "measurement", False, "Illuminance"),
    "voltage": ("voltage", "measurement", False, "Voltage"),
    "vbat": ("voltage", "measurement", True, "Battery voltage"),
    "battery": ("battery", "measurement", False, "Battery"),
    "co2": ("carbon_dioxide", "measurement", False, "CO2"),
    "moisture": ("moisture", "measurement", False, "Moisture"),
    "uptime": ("duration", "measurement", True, "Uptime"),
    "heap": ("data_size", "measurement", True, "Free heap"),
}
# Diagnostic entities from the bridge's view of the node (state fields, not
# reading values): (state key, device class, state class, unit, name).
META = (
    ("rssi", "signal_strength", "measurement", "dBm", "Link RSSI"),
    ("hops", None, "measurement", None, "Hops"),
    ("time", "timestamp", None, None, "Last seen"),
)

# Config keys a `set` command may change, and why the others may not.
SETTABLE = ("name", "interval_s", "stats_s", "beacon_ms", "hop_limit")
NOT_SETTABLE = {
    "key": "the network key never travels over MQTT",
    "channel": "a node on another channel leaves the mesh; change it with nowmesh deploy",
    "id": "the id is the board's MAC",
    "encrypt": "encryption is not switched off remotely",
    "wifi": "Wi-Fi and broker credentials never travel over MQTT; set them with nowmesh deploy",
    "mqtt": "Wi-Fi and broker credentials never travel over MQTT; set them with nowmesh deploy",
    "mqtt_commands": "commands are enabled on the gateway itself (nowmesh deploy --allow-commands)",
}
ENABLE_HINT = "start it with --allow-commands"       # the host bridge's
GATEWAY_HINT = "deploy the gateway with --allow-commands"
COMMANDS = ("set", "ping", "reboot", "command")    # command: an app's mesh.on_command


# -- names and topics ---------------------------------------------------------------

def node_key(mac):
    """'24:0a:c4:12:34:56' -> '240ac4123456': the node's part of every topic and id."""
    return mac.replace(":", "").lower()


def object_id(mac):
    return "nowmesh_" + node_key(mac)


def state_topic(base, mac):
    return "%s/%s/state" % (base, node_key(mac))


def availability_topic(base, mac):
    return "%s/%s/availability" % (base, node_key(mac))


def response_topic(base, key):
    return "%s/%s/response" % (base, key)


def bridge_topic(base):
    return base + "/bridge/state"


def command_filters(base):
    return ["%s/+/%s" % (base, cmd) for cmd in COMMANDS]


def inbound_filters(base, prefix):
    """What a bridge subscribes to: commands, Home Assistant's status, and the
    bridge state (another carrier's last will, see inbound)."""
    return command_filters(base) + [status_topic(prefix), bridge_topic(base)]


def inbound(base, prefix, topic, payload):
    """What a message on one of inbound_filters() is, for either bridge:
    "command" (parse_command's), "homeassistant" (Home Assistant started:
    send discovery again), "carrier_left" or None (nothing to do).

    Several bridges and gateways may carry one mesh (no primary), all on one
    <base>/bridge/state. When one dies its last will says `offline` there,
    which would make every node unavailable in Home Assistant while the
    others still carry the mesh: "carrier_left" tells a carrier to say
    `online` again."""
    if topic == bridge_topic(base):
        return "carrier_left" if payload == OFFLINE.encode() else None
    if topic == status_topic(prefix):
        return "homeassistant" if payload.strip() == ONLINE.encode() else None
    return "command"


def status_topic(prefix):
    """Home Assistant announces itself here ('online' after it starts)."""
    return prefix + "/status"


def check_topic_part(what, text):
    """A base topic or discovery prefix: non-empty, no wildcards, no empty levels."""
    if not isinstance(text, str) or not text or len(text) > 100:
        raise ValueError("%s must be 1-100 characters" % what)
    for bad in ("+", "#", "\x00"):
        if bad in text:
            raise ValueError("%s must not contain %r (MQTT wildcards)" % (what, bad))
    if "" in text.split("/"):
        raise ValueError("%s must not start or end with '/' or contain '//'" % what)
    return text


# -- state and availability ----------------------------------------------------------

def state_message(base, mac, name, seq, values, when_iso, hops=None, rssi=None):
    """The node's latest reading, retained: every quantity under "values"."""
    payload = {"id": mac, "name": name, "seq": seq, "time": when_iso, "hops": hops, "rssi": rssi,
               "values": {}}
    for item in values or ():
        if isinstance(item, (list, tuple)) and len(item) == 3 and isinstance(item[0], str):
            payload["values"][item[0]] = item[1]
    return state_topic(base, mac), json.dumps(payload), True


def availability_message(base, mac, online):
    return availability_topic(base, mac), ONLINE if online else OFFLINE, True


def bridge_message(base, online):
    return bridge_topic(base), ONLINE if online else OFFLINE, True


def iso_utc(unix_s):
    """Unix seconds -> '2026-12-04T21:30:05Z' (what a timestamp sensor takes)."""
    days, rest = divmod(int(unix_s), 86400)
    y, m, d = _civil(days)
    return "%04d-%02d-%02dT%02d:%02d:%02dZ" % (y, m, d, rest // 3600, rest // 60 % 60, rest % 60)


def _civil(days):
    # Days since 1970-01-01 -> (year, month, day); H. Hinnant's algorithm, no time module.
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (1 if m <= 2 else 0), m, d


# -- Home Assistant discovery -----------------------------------------------------------

def unit_for_ha(unit):
    if unit in (None, ""):
        return None
    return UNIT_ALIASES.get(unit, unit)


def quantity_component(mac, quantity, unit, value):
    """One sensor entry of `cmps` for a reading quantity (table-driven)."""
    device_class, state_class, diagnostic, title = QUANTITIES.get(quantity, (None, "measurement", False, quantity))
    unit = unit_for_ha(unit)
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if device_class is not None and unit not in ALLOWED_UNITS.get(device_class, ()):
        device_class = None           # HA would warn about the unit: publish it as a plain sensor
    comp = {"p": "sensor", "name": title, "unique_id": "%s_%s" % (object_id(mac), _slug(quantity)),
            "value_template": "{{ value_json['values'][%s] }}" % json.dumps(quantity)}
    if device_class:
        comp["device_class"] = device_class
    if numeric and state_class:
        comp["state_class"] = state_class
    if unit is not None and numeric:
        comp["unit_of_measurement"] = unit
    if diagnostic:
        comp["entity_category"] = "diagnostic"
    return comp


def meta_components(mac):
    comps = {}
    for key, device_class, state_class, unit, title in META:
        comp = {"p": "sensor", "name": title, "unique_id": "%s_%s" % (object_id(mac), key),
                "value_template": "{{ value_json[%s] }}" % json.dumps(key),
                "entity_category": "diagnostic"}
        for field, value in (("device_class", device_class), ("state_class", state_class),
                             ("unit_of_measurement", unit)):
            if value is not None:
                comp[field] = value
        comps[key] = comp
    return comps


def _slug(text):
    out = []
    for ch in text.lower():
        out.append(ch if ("a" <= ch <= "z" or "0" <= ch <= "9") else "_")
    return "".join(out) or "_"


def origin(version):
    return {"name": ORIGIN, "sw": version}


def discovery_message(prefix, base, node, values, bridge_id, version):
    """The retained device-based discovery config of one mesh node.

    `node`: {"id" (MAC), "name", "board", "fw"}; `values`: the latest
    reading's [(quantity, value, unit)]; `bridge_id`: the bridge device's
    identifier (via_device)."""
    topic, parts, retain = discovery_parts(prefix, base, node, values, bridge_id, version)
    return topic, "".join(parts), retain


def discovery_parts(prefix, base, node, values, bridge_id, version):
    """discovery_message with the JSON as a list of short strings (one per
    component), joined by the caller: a board gateway writes them to the
    socket one by one, because a 2.3 KB string needs one free block that
    size, and the emulated gateway's fragmented heap often had none."""
    mac = node["id"]
    dev = {"ids": [mac], "name": node.get("name") or mac, "mf": ORIGIN, "via_device": bridge_id}
    if node.get("board"):
        dev["mdl"] = node["board"]
    if node.get("fw"):
        dev["sw"] = node["fw"]
    parts = ['{"dev": ' + json.dumps(dev), ', "o": ' + json.dumps(origin(version)),
             ', "state_topic": ' + json.dumps(state_topic(base, mac)),
             ', "availability": ' + json.dumps([{"topic": bridge_topic(base)},
                                                {"topic": availability_topic(base, mac)}]),
             ', "availability_mode": "all", "qos": 1, "cmps": {']
    sep = ""
    for key, comp in _components(mac, values):
        parts.append(sep + json.dumps(key) + ": " + json.dumps(comp))
        sep = ", "
    parts.append("}}")
    return discovery_topic(prefix, object_id(mac)), parts, True


def _components(mac, values):
    # (key, component) of a node, one at a time: the diagnostics, then one per
    # quantity (a quantity named twice is sent once: its first)
    for key, comp in meta_components(mac).items():
        yield key, comp
    seen = []
    for item in values or ():
        if isinstance(item, (list, tuple)) and len(item) == 3 and isinstance(item[0], str):
            key = "q_" + _slug(item[0])
            if key not in seen:
                seen.append(key)
                yield key, quantity_component(mac, item[0], item[2], item[1])


def bridge_discovery_message(prefix, base, bridge_id, name, version):
    """The bridge as a device of its own (the nodes' via_device), with one
    connectivity entity on the bridge state topic (its last will)."""
    comp = {"p": "binary_sensor", "name": "Connection", "unique_id": bridge_id + "_connection",
            "device_class": "connectivity", "entity_category": "diagnostic",
            "state_topic": bridge_topic(base), "payload_on": ONLINE, "payload_off": OFFLINE}
    config = {"dev": {"ids": [bridge_id], "name": name, "mf": ORIGIN, "sw": version},
              "o": origin(version), "cmps": {"connection": comp}, "qos": 1}
    return discovery_topic(prefix, bridge_id), json.dumps(config), True


def discovery_topic(prefix, obj_id):
    return "%s/device/%s/config" % (prefix, obj_id)


# -- mesh-aware availability ---------------------------------------------------------------

class Availability:
    """Which nodes the mesh still hears. A node is offline once no node of the
    mesh has passed on a new reading of it for OFFLINE_AFTER_INTERVALS times
    its reading interval, which is learnt from the gaps between its readings
    (median of the last few; seq gaps count lost readings)."""

    SAMPLES = 5

    def __init__(self, default_interval_s=DEFAULT_INTERVAL_S):
        self.default_interval_s = default_interval_s
        self.nodes = {}               # mac -> {"seq", "heard", "gaps": [...], "online": bool or None}

    def heard(self, mac, seq, when):
        entry = self.nodes.get(mac)
        if entry is None:
            entry = self.nodes[mac] = {"seq": None, "heard": None, "gaps": [], "online": None}
        if entry["seq"] is not None and isinstance(seq, int) and seq > entry["seq"] and when > entry["heard"]:
            entry["gaps"] = (entry["gaps"] + [(when - entry["heard"]) / (seq - entry["seq"])])[-self.SAMPLES:]
        if entry["heard"] is None or when >= entry["heard"]:
            entry["seq"], entry["heard"] = seq, when

    def interval_s(self, mac):
        gaps = sorted(self.nodes[mac]["gaps"])
        return gaps[len(gaps) // 2] if gaps else self.default_interval_s

    def changes(self, now):
        """[(mac, online)] for every node whose availability changed (or is new)."""
        out = []
        for mac, entry in self.nodes.items():
            online = now - entry["heard"] <= OFFLINE_AFTER_INTERVALS * self.interval_s(mac)
            if online != entry["online"]:
                entry["online"] = online
                out.append((mac, online))
        return out

    def current(self):
        return [(mac, e["online"]) for mac, e in self.nodes.items() if e["online"] is not None]


# -- commands from MQTT -------------------------------------------------------------------

class Refused(Exception):
    """A command that is not run; the message is the reply's error."""


def resolve_node(key, nodes):
    """A command topic's <node> -> the node's MAC. `nodes`: (mac, name) pairs
    of the nodes the bridge knows; <node> is the MAC without colons, or the name."""
    for mac, name in nodes:
        if key == node_key(mac) or (name and key == name):
            return mac
    raise Refused("unknown node %r (topics name nodes by MAC without colons)" % key)


def parse_command(base, topic, payload, allowed, check_setting, enable_hint=ENABLE_HINT):
    """A message on <base>/<node>/<cmd> -> (node key, cmd, [(console command, args)]).

    Raises Refused (with the reason) when commands are not enabled, the
    payload is not what the command takes, or a config key is unknown, not
    settable over MQTT, or its value invalid (`check_setting(field, value)`
    raises ValueError with the reason)."""
    parts = topic.split("/")
    if len(parts) < 3 or "/".join(parts[:-2]) != base or parts[-1] not in COMMANDS:
        raise Refused("not a command topic")
    key, cmd = parts[-2], parts[-1]
    if not allowed:
        raise Refused("commands are disabled on this bridge (%s)" % enable_hint)
    steps = _PAYLOAD_STEPS.get(cmd)
    if steps is None:
        return key, cmd, [(cmd, None)]
    try:
        fields = json.loads(payload.decode("utf-8") if isinstance(payload, bytes) else payload)
    except (ValueError, UnicodeError):
        fields = None
    if not isinstance(fields, dict) or not fields:
        raise Refused("%s takes a JSON object, such as %s" % (cmd, steps[0]))
    return key, cmd, steps[1](fields, check_setting)


def _set_steps(fields, check_setting):
    steps = []
    for field in sorted(fields):
        if field in NOT_SETTABLE:
            raise Refused("%s: not settable over MQTT (%s)" % (field, NOT_SETTABLE[field]))
        if field not in SETTABLE:
            raise Refused("%s: unknown config key (settable: %s)" % (field, ", ".join(SETTABLE)))
        try:
            check_setting(field, fields[field])
        except ValueError as exc:
            raise Refused("%s: %s" % (field, exc))
        steps.append(("config_set", {"field": field, "value": fields[field]}))
    return steps


def _app_steps(fields, _check_setting):
    # an app's mesh.on_command (docs/app-api.md): a name and a list of strings
    name, args = fields.get("name"), fields.get("args", [])
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        raise Refused("command: 'name' must be the app command's name (1-32 characters)")
    if not isinstance(args, list) or len(args) > 8 or \
            [a for a in args if not isinstance(a, str) or len(a) > 64]:
        raise Refused("command: 'args' must be a list of at most 8 strings of at most 64 characters")
    return [("app", {"name": name, "args": args})]


# commands with a JSON payload: (an example of it, its steps)
_PAYLOAD_STEPS = {"set": ('{"interval_s": 10}', _set_steps),
                  "command": ('{"name": "pump", "args": ["on"]}', _app_steps)}


def response_message(base, key, cmd, ok, data=None, error=None, field=None):
    body = {"cmd": cmd, "ok": ok}
    if field is not None:
        body["field"] = field
    if ok:
        body["data"] = data
    else:
        body["error"] = error
    return response_topic(base, key), json.dumps(body), False
