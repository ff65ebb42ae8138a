"""The key files and the node config a deploy writes (nowmesh.json).

The network key is made once, on the first deploy, and kept in a local
project file (default ./nowmesh-key.json, mode 0600) so every node deployed
from this project joins the same mesh. The operator key
(./nowmesh-operator-key.json, 0600, made beside it) stays on the laptop: each
node gets only its own admin key derived from it (mesh/admin.py), which
`nowmesh reboot/config-set --node` signs against. Keys are never printed;
error messages name the file, not its contents.
"""
import binascii
import json
import os
import secrets

from nowmesh.errors import InputError

DEFAULT_KEY_FILE = "nowmesh-key.json"
KEY_BYTES = 16
OPERATOR_KEY_FILE = "nowmesh-operator-key.json"
OPERATOR_KEY_BYTES = 32
_NETWORK = ("key", KEY_BYTES, (32, 64), "nowmesh network key: keep it secret; every node deployed "
                                        "from this project uses it")
_OPERATOR = ("operator_key", OPERATOR_KEY_BYTES, (64,),
             "nowmesh operator key: keep it secret and on this computer; it authorises reboot "
             "and config-set on every node deployed from this project (nodes hold only keys "
             "derived from it)")


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
    return _project_or_emulation(DEFAULT_KEY_FILE, port, state_dir)


def operator_key_file_for(explicit, port=None, state_dir=None):
    """(path, why): the operator key file, found like the network key's."""
    if explicit:
        return explicit, "given"
    return _project_or_emulation(OPERATOR_KEY_FILE, port, state_dir)


def operator_key_file_beside(key_file):
    """The operator key file that goes with this network key file: same folder."""
    return os.path.join(os.path.dirname(key_file), OPERATOR_KEY_FILE)


def _project_or_emulation(filename, port, state_dir):
    if state_dir is None and port is not None:
        from nowmesh.emulation.registry import emulation_of_port
        state_dir = emulation_of_port(port)
    if state_dir is not None:
        candidate = os.path.join(state_dir, filename)
        if os.path.isfile(candidate):
            return candidate, "the emulation's"
    return filename, "the project's"


def load_or_create_key(path):
    """-> the network key as hex. Creates the file (0600, atomically) if missing."""
    return _load_or_create(path, _NETWORK)


def load_or_create_operator_key(path):
    """-> the operator's master key as hex. Creates the file (0600) if missing."""
    return _load_or_create(path, _OPERATOR)


def load_operator_key(path):
    """-> the operator's master key as hex; InputError if there is none yet."""
    if not os.path.exists(path):
        raise InputError(path, None, "no operator key file: `nowmesh deploy` makes it and installs "
                                     "each node's admin key (give another with --operator-key)")
    return _load_or_create(path, _OPERATOR)


def mac_admin_id(mac_hex):
    """A deployed node's admin id: its MAC as aa:bb:cc:dd:ee:ff (any hex form in)."""
    digits = mac_hex.replace(":", "").lower()
    return ":".join(digits[i:i + 2] for i in range(0, 12, 2))


def admin_fields(operator_key, admin_id):
    """The node form of the operator key for the node labelled admin_id (its
    MAC, or image:<name>): the settings a deploy, an image or the emulator
    writes into its nowmesh.json."""
    import nowmesh.corepath  # noqa: F401  (firmware/ on sys.path)
    from mesh.admin import node_admin_key
    return {"admin_key": node_admin_key(bytes.fromhex(operator_key), admin_id).hex(),
            "admin_id": admin_id}


def _load_or_create(path, kind):
    field, _nbytes, lengths, _note = kind
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return _create_key(path, kind)
    except OSError as exc:
        raise InputError(path, None, "cannot read the key file: %s" % exc.strerror) from None
    try:
        key = json.loads(text)[field]
        binascii.unhexlify(key)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InputError(path, field, "not a nowmesh key file (expected {\"%s\": \"<%s hex "
                                      "digits>\"}); restore it from a backup or move it away to "
                                      "make a new key (nodes deployed with the old key will "
                                      "not accept it)" % (field, " or ".join(map(str, lengths)))) from None
    if len(key) not in lengths:
        raise InputError(path, field, "must be %s hex digits" % " or ".join(map(str, lengths)))
    return key.lower()


def _create_key(path, kind):
    field, nbytes, _lengths, note = kind
    key = secrets.token_bytes(nbytes).hex()
    tmp = "%s.%d.tmp" % (path, os.getpid())
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({field: key, "note": note}, f)
        os.link(tmp, path)             # fails if another deploy created it meanwhile: use theirs
    except FileExistsError:
        return _load_or_create(path, kind)
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


def node_config(existing, key, name=None, channel=None, board=None, admin=None):
    """The config to write: the board's settings (interval, sensors, ...
    set with config-set survive), with our key, the node's admin key
    (admin_fields) and the requested name, channel and board."""
    config = dict(existing)
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
