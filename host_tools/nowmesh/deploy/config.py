"""Which network key file a deploy uses, and what the board's config says.

The key is made once, on the first deploy, and kept in a local project file
(default ./nowmesh-key.json, mode 0600) so every node deployed from this
project joins the same mesh (nowmesh.bundle.node_files writes it). It is
never printed; error messages name the file, not its contents.
"""
import json
import os

# Written and read by the bundle (one place for key files and node configs);
# named here too, as deploy's library API.
from nowmesh.bundle.node_files import (KEY_BYTES, KEY_FILE, check_config, config_bytes,  # noqa: F401
                                       load_or_create_key, node_config)

DEFAULT_KEY_FILE = KEY_FILE


def key_file_for(explicit, port=None, state_dir=None):
    """(path, why): the key file a deploy uses. An explicit --key-file wins;
    a node of a running emulation gets that emulation's key (else a deploy
    would move it to another network and out of its mesh); otherwise the
    project's ./nowmesh-key.json."""
    if explicit:
        return explicit, "given"
    if state_dir is None and port is not None:
        from nowmesh.emulation_registry import emulation_of_port
        state_dir = emulation_of_port(port)
    if state_dir is not None:
        candidate = os.path.join(state_dir, DEFAULT_KEY_FILE)
        if os.path.isfile(candidate):
            return candidate, "the emulation's"
    return DEFAULT_KEY_FILE, "the project's"


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
