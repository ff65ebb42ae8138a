"""How the simulator builds and inspects the nodes of each protocol."""
import nowmesh.corepath  # noqa: F401
from mesh import crypto, wire

_TYPE_MASK = 0x7F


class CachingKeys(crypto.Keys):
    """Keys that remember recently opened frames.

    In a simulation every receiver of one transmission opens the very same
    bytes with the very same key; verifying the tag once per transmission
    instead of once per receiver changes no result and saves most of the
    simulator's time. Boards use the plain Keys.
    """

    def __init__(self, network_key, limit=4096):
        super().__init__(network_key)
        self._opened = {}
        self._limit = limit

    def open(self, frame):
        frame = bytes(frame)
        hit = self._opened.get(frame)
        if hit is None:
            try:
                hit = crypto.open_frame(self, frame)
            except wire.FrameError as exc:
                hit = exc
            if len(self._opened) >= self._limit:
                self._opened.clear()
            self._opened[frame] = hit
        if isinstance(hit, wire.FrameError):
            raise wire.FrameError(hit.reason)
        return hit


class BaselineSpec:
    def __init__(self, name, node_class):
        self.name = name
        self.node_class = node_class

    def make_keys(self, key):
        return CachingKeys(key)

    def make_node(self, mac, name, keys, boot, seed, now_ms, options):
        return self.node_class(mac, name, keys, boot, seed, now_ms, options)

    def is_control(self, frame):
        return False                 # every baseline frame carries a reading or a request

    def loop_key(self, keys, frame):
        return None                  # baselines only broadcast


class NowmeshSpec:
    name = "nowmesh"
    CONTROL_TYPES = frozenset(range(4, 16)) | {wire.T_BEACON}

    def make_keys(self, key):
        return CachingKeys(key)

    def make_node(self, mac, name, keys, boot, seed, now_ms, options):
        from mesh.config import NodeConfig
        from mesh.node import Node
        settings = {"id": mac, "name": name, "key": keys.network_key}
        settings.update(options or {})
        return Node(NodeConfig.from_dict(settings), boot, seed, now_ms, keys=keys)

    def is_control(self, frame):
        return len(frame) > 1 and (frame[1] & _TYPE_MASK) in self.CONTROL_TYPES

    def loop_key(self, keys, frame):
        from mesh import node as core_node
        finder = getattr(core_node, "routed_packet_key", None)
        if finder is None:
            return None
        try:
            return finder(keys.open(frame))
        except wire.FrameError:
            return None
