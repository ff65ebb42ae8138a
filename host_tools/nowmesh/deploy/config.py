"""The network key file and the node config a deploy writes (nowmesh.json).

The key is made once, on the first deploy, and kept in a local project file
(default ./nowmesh-key.json, mode 0600) so every node deployed from this
project joins the same mesh. It is never printed; error messages name the
file, not its contents.
"""
import binascii
import json
import os
import secrets

from nowmesh.errors import InputError

DEFAULT_KEY_FILE = "nowmesh-key.json"
KEY_BYTES = 16


def key_file_for(explicit, port=None, state_dir=None):
    """(path, why): the key file a deploy uses. An explicit --key-file wins;
    a node of a running emulation gets that emulation's key (else a deploy
    would move it to another network and out of its mesh); otherwise the
    project's ./nowmesh-key.json."""
    if explicit:
        return explicit, "given"
    if state_dir is None and port is not None:
        from nowmesh.emulation.registry import emulation_of_port
        state_dir = emulation_of_port(port)
    if state_dir is not None:
        candidate = os.path.join(state_dir, DEFAULT_KEY_FILE)
        if os.path.isfile(candidate):
            return candidate, "the emulation's"
    return DEFAULT_KEY_FILE, "the project's"


def load_or_create_key(path):
    """-> the key as hex. Creates the file (0600, atomically) if missing."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return _create_key(path)
    except OSError as exc:
        raise InputError(path, None, "cannot read the key file: %s" % exc.strerror) from None
    try:
        key = json.loads(text)["key"]
        binascii.unhexlify(key)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InputError(path, "key", "not a nowmesh key file (expected {\"key\": \"<32 or 64 hex "
                                      "digits>\"}); restore it from a backup or move it away to "
                                      "make a new key (nodes deployed with the old key will "
                                      "not hear new ones)") from None
    if len(key) not in (32, 64):
        raise InputError(path, "key", "must be 32 or 64 hex digits")
    return key.lower()


def _create_key(path):
    key = secrets.token_bytes(KEY_BYTES).hex()
    tmp = "%s.%d.tmp" % (path, os.getpid())
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"key": key, "note": "nowmesh network key: keep it secret; every node "
                                           "deployed from this project uses it"}, f)
        os.link(tmp, path)             # fails if another deploy created it meanwhile: use theirs
    except FileExistsError:
        return load_or_create_key(path)
    except OSError as exc:
        raise InputError(path, None, "cannot create the key file: %s" % exc.strerror) from None
    finally:
        try:
            os.remove(tmp)
        except OSError:
            pass
    return key


def parse_existing(text):
    """The board's current config as a dict ({} if missing or corrupt)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def default_name(mac_hex):
    """The firmware's own default name: "n-" + the MAC's last three bytes."""
    return "n-" + mac_hex[-6:]


def node_config(existing, key, name=None, channel=None, board=None):
    """The config to write: the board's settings (interval, sensors, ...
    set with config-set survive), with our key and the requested name,
    channel and board."""
    config = dict(existing)
    config["key"] = key
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
    import nowmesh.corepath  # noqa: F401  (firmware/ on sys.path)
    from mesh.config import ConfigError
    from meshport import settings
    try:
        settings.split(config, b"\x02\x00\x00\x00\x00\x01")
    except ConfigError as exc:
        raise InputError("command line", exc.field, exc.message) from None


def config_bytes(config):
    """Bytes to put in nowmesh.json: one canonical form, so the same config
    always hashes the same (a file the firmware rewrote after `config-set`
    is written once more in this form)."""
    return json.dumps(config, sort_keys=True).encode()
