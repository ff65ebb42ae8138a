# The node's config file (nowmesh.json): name, network key, channel, publish
# interval, sensors. A missing or corrupt file never bricks a node: it falls
# back to safe defaults (a name from the MAC, the all-zero "setup" key, which
# keeps it apart from any configured mesh) and the problem is reported on the
# console. Writes are atomic (store.write_atomic).
from mesh.config import ConfigError, NodeConfig

from . import store

PATH = "nowmesh.json"
SETUP_KEY = "00" * 16


def _interval(v):
    if not isinstance(v, (int, float)) or not 1 <= v <= 86400:
        raise ValueError("must be a number of seconds from 1 to 86400")
    return v


def _sensors(v):
    if v is not None and not isinstance(v, list):
        raise ValueError("must be a list of sensor objects")
    for s in v or ():
        if not isinstance(s, dict) or not isinstance(s.get("kind"), str):
            raise ValueError("each sensor needs a 'kind'")
        if s["kind"] == "app" and not (isinstance(s.get("name"), str) and 1 <= len(s["name"]) <= 32):
            raise ValueError("an app sensor needs a 'name' of 1-32 characters (mesh.add_sensor(read, name=...))")
    return v


def _hex_key(digits):
    # a key of `digits` hex digits: the node's own operator key (admin_key,
    # mesh.admin.node_admin_key: 64) or the operator's LMS public key
    # (ota_key, mesh/lms.py, docs/ota.md: 112)
    def check(v):
        if v is not None:
            if not isinstance(v, str) or len(v) != digits:
                raise ValueError("must be %d hex digits" % digits)
            try:
                bytes.fromhex(v)
            except ValueError:
                raise ValueError("must be %d hex digits" % digits)
        return v
    return check


def _admin_id(v):
    if v is not None and (not isinstance(v, str) or not 1 <= len(v) <= 40):
        raise ValueError("must be a label of 1-40 characters")
    return v


def _board(v):
    if v is not None and not isinstance(v, str):
        raise ValueError("must be a board name")
    return v


def _wifi(v):
    # the access point a gateway joins (meshport.gateway*): {"ssid", "password"}
    if v is None:
        return v
    if not isinstance(v, dict) or not isinstance(v.get("ssid"), str) or not 1 <= len(v["ssid"]) <= 32:
        raise ValueError("must be {\"ssid\": 1-32 characters, \"password\": ...}")
    if not isinstance(v.get("password", ""), str) or len(v.get("password", "")) > 64:
        raise ValueError("password must be text of at most 64 characters")
    return v


def _mqtt(v):
    # the broker a gateway publishes to: mqtt://[user:pass@]host[:port]
    if v is not None and (not isinstance(v, str) or len(v) > 200
                          or not (v.startswith("mqtt://") or v.startswith("mqtts://"))
                          or len(v.split("://", 1)[1].split("@")[-1]) == 0):
        raise ValueError("must be mqtt://[user:pass@]host[:port] or mqtts://...")
    return v


def _flag(v):
    if v is not None and not isinstance(v, bool):
        raise ValueError("must be true or false")
    return v


# Port-only settings: (field, default, check). Everything else is the core's
# NodeConfig (name, key, channel, beacon_ms, ...), validated by the core.
PORT_FIELDS = (
    ("interval_s", 30, _interval),
    ("stats_s", 10, _interval),
    ("sensors", None, _sensors),
    ("board", None, _board),
    # operator authorisation (mesh/admin.py): none installed = no remote admin
    ("admin_key", None, _hex_key(64)),
    ("admin_id", None, _admin_id),
    # over-the-mesh updates (docs/ota.md): none installed = no OTA
    ("ota_key", None, _hex_key(112)),
    # a node with both is a gateway to an MQTT broker (docs/mqtt.md)
    ("wifi", None, _wifi),
    ("mqtt", None, _mqtt),
    # a gateway runs set/ping/reboot from MQTT only when this is true (deploy --allow-commands)
    ("mqtt_commands", False, _flag),
)
SECRET_FIELDS = ("key", "admin_key", "wifi", "mqtt")    # never shown by config_get (passwords)


def defaults(mac):
    return {"name": "n-" + "".join(["%02x" % b for b in mac[3:]]), "key": SETUP_KEY, "channel": 1}


def split(raw, mac):
    """Validate raw settings -> (port dict, NodeConfig). Raises ConfigError."""
    if not isinstance(raw, dict):
        raise ConfigError("config", "must be a JSON object")
    port = {}
    core = {}
    port_names = [f[0] for f in PORT_FIELDS]
    for key in raw:
        if key not in port_names:
            core[key] = raw[key]
    for field, default, check in PORT_FIELDS:
        try:
            port[field] = check(raw[field]) if field in raw else default
        except (ValueError, TypeError) as e:
            raise ConfigError(field, e.args[0] if e.args else "invalid")
    core["id"] = mac
    return port, NodeConfig.from_dict(core)


def check_field(field, value, mac=b"\x02\x00\x00\x00\x00\x01"):
    """Would `field` = `value` be a valid config (the node's own rules, for the
    MQTT bridges' `set`)? ValueError says why not."""
    raw = defaults(mac)
    raw[field] = value
    try:
        split(raw, mac)
    except ConfigError as e:
        raise ValueError(e.message)


def load(mac, path=PATH):
    """-> (raw dict, port dict, NodeConfig, problem or None). Never raises."""
    problem = None
    try:
        raw = store.read_json(path)
        if raw is None:
            raw, problem = defaults(mac), "no config file: using setup defaults"
        port, core = split(raw, mac)
    except (ValueError, ConfigError) as e:
        field = getattr(e, "field", None)
        problem = "config %s: %s" % (path, ("%s: %s" % (field, e.message)) if field else "corrupt")
        raw = defaults(mac)
        port, core = split(raw, mac)
    return raw, port, core, problem


def update(raw, mac, field, value, path=PATH):
    """Set one field, validate the whole config, then write it atomically."""
    new = dict(raw)
    if value is None:
        new.pop(field, None)
    else:
        new[field] = value
    if field == "id":
        raise ConfigError("id", "is the board's MAC and cannot be set")
    split(new, mac)
    store.write_json(path, new)
    return new
