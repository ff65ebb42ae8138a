"""What makes a board one node of one mesh, on its filesystem: the node's
config (nowmesh.json, in one canonical form) and its board profile. The key
files on the host are nowmesh.bundle.keys."""
import json

from nowmesh import boards
from nowmesh.errors import InputError

CONFIG = "nowmesh.json"


def node_config(existing, key, name=None, channel=None, board=None, admin=None, gateway=None):
    """The config to write: the board's settings (interval, sensors, ...
    set with config-set survive), with our key, the node's admin key
    (keys.admin_fields) and the requested name, channel and board;
    `gateway`: {"wifi": {"ssid", "password"}, "mqtt": URL} makes it a gateway."""
    config = dict(existing)
    config.update(gateway or {})
    config["key"] = key
    config.update(admin or {})
    if name is not None:
        config["name"] = name
    if channel is not None:
        config["channel"] = channel
    config.setdefault("channel", 1)
    if board is not None:
        config["board"] = board
    return config


def check_config(config):
    """Validate with the firmware's own rules (meshport.settings)."""
    from nowmesh.bundle import core
    core.load()
    from mesh.config import ConfigError
    from meshport import settings
    try:
        settings.split(config, b"\x02\x00\x00\x00\x00\x01")
    except ConfigError as exc:
        raise InputError("command line", exc.field, exc.message) from None


def gateway_fields(ssid=None, password=None, mqtt=None, allow_commands=False):
    """The config fields of `deploy --wifi SSID --wifi-password PW --mqtt URL
    [--allow-commands]` ({} when none is given); the URL is checked as the
    host bridge checks it. A gateway deployed without --allow-commands
    refuses MQTT commands, even if an earlier deploy allowed them."""
    if ssid is None and mqtt is None:
        if password is not None:
            raise InputError("command line", "--wifi-password", "only with --wifi")
        if allow_commands:
            raise InputError("command line", "--allow-commands", "only with --wifi and --mqtt (a gateway)")
        return {}
    if ssid is None or mqtt is None:
        raise InputError("command line", "--wifi" if ssid is None else "--mqtt",
                         "a gateway needs both --wifi SSID and --mqtt URL")
    from nowmesh.mqtt.options import parse_broker_url
    parse_broker_url(mqtt)
    return {"wifi": {"ssid": ssid, "password": password or ""}, "mqtt": mqtt, "mqtt_commands": bool(allow_commands)}


def config_bytes(config):
    """Bytes to put in nowmesh.json: one canonical form, so the same config
    always hashes the same (a file the firmware rewrote after `config-set`
    is written once more in this form)."""
    return json.dumps(config, sort_keys=True).encode()


def node_files(config, profile=None):
    """{board path: bytes}: the node's config (unless None: the board keeps
    its own), and its board profile if given."""
    files = {} if config is None else {CONFIG: config_bytes(config)}
    if profile is not None:
        files[boards.BOARD_FILE] = boards.board_file_bytes(profile)
    return files
