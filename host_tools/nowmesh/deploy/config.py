"""Which key files a deploy uses, and what the board's config says.

The network key is made once, on the first deploy, and kept in a local
project file (default ./nowmesh-key.json, mode 0600) so every node deployed
from this project joins the same mesh. The operator key
(./nowmesh-operator-key.json, 0600, made beside it) stays on the laptop: each
node gets only its own admin key derived from it (mesh/admin.py), which
`nowmesh reboot/config-set --node` signs against. Both are written and read
by nowmesh.bundle.keys, node configs by nowmesh.bundle.node_files (named here
too, as deploy's library API). Keys are never printed; error messages name
the file, not its contents.
"""
import json
import os

from nowmesh.bundle.keys import (KEY_BYTES, KEY_FILE, OPERATOR_KEY_BYTES, OPERATOR_KEY_FILE,  # noqa: F401
                                 admin_fields, load_operator_key, load_or_create_key,
                                 load_or_create_operator_key, mac_admin_id)
from nowmesh.bundle.node_files import check_config, config_bytes, node_config  # noqa: F401

DEFAULT_KEY_FILE = KEY_FILE


def key_file_for(explicit, port=None, state_dir=None):
    """(path, why): the key file a deploy uses. An explicit --key-file wins;
    a node of a running emulation gets that emulation's key (else a deploy
    would move it to another network and out of its mesh); otherwise the
    project's ./nowmesh-key.json."""
    if explicit:
        return explicit, "given"
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
