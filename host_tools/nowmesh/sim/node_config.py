"""`--node-config FILE`: mesh-core settings for every simulated nowmesh node.

The file is the JSON a board's config would hold, minus what the simulator
assigns per node (`id`, `name`, `key`, `channel`). It is validated by the
core's own NodeConfig, so an error names the same field a board would.
"""
from nowmesh.bundle import core

core.load()     # explicit: this runs the firmware's mesh core (`mesh`) on CPython
from mesh.config import ConfigError, NodeConfig  # noqa: E402

from nowmesh.errors import InputError
from nowmesh.radio.topology import load_json_file

PER_NODE = ("id", "name", "key", "channel")
_PROBE = {"id": b"\x02\x00\x00\x00\x00\x01", "name": "probe", "key": bytes(16)}


def load_node_config(path):
    data = load_json_file(path)
    if not isinstance(data, dict):
        raise InputError(path, None, "must be a JSON object of node settings")
    for field in PER_NODE:
        if field in data:
            raise InputError(path, field, "is set per node by the simulator; remove it")
    try:
        NodeConfig.from_dict(dict(_PROBE, **data))
    except ConfigError as exc:
        raise InputError(path, exc.field, exc.message) from None
    return data
