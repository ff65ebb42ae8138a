"""What makes a board one node of one mesh, written in one place: the network
key file on the host (made once per project, or per emulation), and on the
board the node's config (nowmesh.json) and its board profile.

The key file is JSON {"key": hex, "note": ...}, mode 0600, written atomically;
it is never printed and error messages name the file, not its contents.
"""
import binascii
import json
import os
import secrets

from nowmesh import boards
from nowmesh.errors import InputError

CONFIG = "nowmesh.json"
KEY_FILE = "nowmesh-key.json"
KEY_BYTES = 16
PROJECT_NOTE = "nowmesh network key: keep it secret; every node deployed from this project uses it"


def write_key_file(path, key, note, replace=True):
    """Write the key file (0600, atomically). replace=False never overwrites:
    FileExistsError if another process made it first."""
    tmp = "%s.%d.tmp" % (path, os.getpid())
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump({"key": key, "note": note}, out)
        if replace:
            os.replace(tmp, path)
        else:
            os.link(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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
    try:
        write_key_file(path, key, PROJECT_NOTE, replace=False)
    except FileExistsError:             # another deploy created it meanwhile: use theirs
        return load_or_create_key(path)
    except OSError as exc:
        raise InputError(path, None, "cannot create the key file: %s" % exc.strerror) from None
    return key


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
    from nowmesh.bundle import core
    core.load()
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


def node_files(config, profile=None):
    """{board path: bytes}: the node's config (unless None: the board keeps
    its own), and its board profile if given."""
    files = {} if config is None else {CONFIG: config_bytes(config)}
    if profile is not None:
        files[boards.BOARD_FILE] = boards.board_file_bytes(profile)
    return files
