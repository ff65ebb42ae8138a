"""How the simulator builds and inspects the nodes of each protocol."""
from nowmesh.bundle import core

core.load()     # explicit: this runs the firmware's mesh core (`mesh`) on CPython
from mesh import crypto, frames, wire  # noqa: E402

_TYPE_MASK = 0x7F


def routed_packet_key(opened):
    """(ftype, sender, boot, ctr, payload) of an opened frame -> the routed
    packet it carries (same on every hop), or None. For the simulator's loop
    detection: each end-to-end attempt and each re-flood is a distinct packet."""
    ftype, payload = opened[0], opened[4]
    if ftype != wire.T_DATA or len(payload) < frames.DATA_HEAD:
        return None
    return frames.packet_key(payload)


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


class SharedDecoder:
    """One decoded message per transmitted payload, shared by its receivers.

    The core decodes a frame's payload after authenticating it; every
    receiver of one transmission decodes the very same bytes. Frame types
    whose decoded form the core only reads (readings, hellos, pulls) are
    decoded once; routed data is not cached (forwarding edits its message).
    Keyed on the exact payload bytes and type, so nothing changes but time.
    """

    CACHED = frozenset((wire.T_READINGS, frames.T_HELLO, frames.T_PULL))

    def __init__(self, limit=4096):
        self._decoded = {}
        self._limit = limit

    def wrap(self, decode):
        cache, limit, cached = self._decoded, self._limit, self.CACHED

        def shared_decode(ftype, payload):
            if ftype not in cached:
                return decode(ftype, payload)
            key = (ftype, bytes(payload))
            hit = cache.get(key)
            if hit is None:
                try:
                    hit = decode(ftype, payload)
                except wire.FrameError as exc:
                    hit = exc
                if len(cache) >= limit:
                    cache.clear()
                cache[key] = hit
            if isinstance(hit, wire.FrameError):
                raise wire.FrameError(hit.reason)
            return hit
        return shared_decode


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
        keys = CachingKeys(key)
        keys.decoder = SharedDecoder()    # one per simulation, like the keys
        return keys

    def make_node(self, mac, name, keys, boot, seed, now_ms, options):
        from mesh.config import NodeConfig
        from mesh.node import Node
        settings = {"id": mac, "name": name, "key": keys.network_key}
        settings.update(options or {})
        node = Node(NodeConfig.from_dict(settings), boot, seed, now_ms, keys=keys)
        decoder = getattr(keys, "decoder", None)
        if decoder is not None:
            node.policy.decode = decoder.wrap(node.policy.decode)
        return node

    def is_control(self, frame):
        return len(frame) > 1 and (frame[1] & _TYPE_MASK) in self.CONTROL_TYPES

    def loop_key(self, keys, frame):
        try:
            return routed_packet_key(keys.open(frame))
        except wire.FrameError:
            return None
