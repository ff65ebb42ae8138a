# Node configuration: validated once, then plain attributes.
# Field table rather than per-field code: (name, default, checker).
from .wire import ID_LEN, parse_id

_REQUIRED = object()


class ConfigError(Exception):
    """A config field is missing or invalid. `.field` names it."""

    def __init__(self, field, message):
        super().__init__("%s: %s" % (field, message))
        self.field = field
        self.message = message


def _is_int(v):
    # bool is an int subclass on CPython but not on MicroPython: refuse it on both.
    return isinstance(v, int) and not isinstance(v, bool)


def _check_int(v, lo, hi):
    if not _is_int(v) or v < lo or v > hi:
        raise ValueError("must be an integer %d..%d" % (lo, hi))
    return v


def _check_id(v):
    if isinstance(v, str):
        v = parse_id(v)
    if not isinstance(v, (bytes, bytearray)) or len(v) != ID_LEN:
        raise ValueError("must be 6 bytes or 'aa:bb:cc:dd:ee:ff'")
    v = bytes(v)
    if v == b"\xff" * ID_LEN:
        raise ValueError("broadcast address is not a node id")
    return v


def _check_name(v):
    if not isinstance(v, str) or not 1 <= len(v) <= 16:
        raise ValueError("must be 1-16 characters")
    for c in v:
        if not " " <= c <= "~":
            raise ValueError("must be printable ascii")
    return v


def _unhex(text):
    out = bytearray(len(text) // 2)
    digits = "0123456789abcdef"
    low = text.lower()
    for i in range(len(out)):
        hi = digits.find(low[2 * i])
        lo = digits.find(low[2 * i + 1])
        if hi < 0 or lo < 0:
            raise ValueError("must be hex")
        out[i] = hi * 16 + lo
    return bytes(out)


def _check_key(v):
    if isinstance(v, str):
        if len(v) not in (32, 64):
            raise ValueError("hex key must be 32 or 64 hex digits")
        v = _unhex(v)
    if not isinstance(v, (bytes, bytearray)) or len(v) not in (16, 32):
        raise ValueError("must be 16 or 32 bytes (or 32/64 hex digits)")
    return bytes(v)


def _check_bool(v):
    if not isinstance(v, bool):
        raise ValueError("must be true or false")
    return v


# One flat tuple, four items per field: name, default, then lo, hi for an
# integer range, or a check function and None. Flat, not a tuple per field
# and a closure per range: the table costs ~1 KB of heap instead of ~6 KB.
_FIELDS = (
    "id", _REQUIRED, _check_id, None,
    "name", _REQUIRED, _check_name, None,
    "key", _REQUIRED, _check_key, None,
    "channel", 1, 1, 14,
    "encrypt", True, _check_bool, None,
    "hop_limit", 16, 1, 255,
    "readings_max", 128, 1, 4096,
    "neighbours_max", 32, 1, 1024,
    # the longest hello interval (Trickle Imax; hellos back off to it while
    # the neighbourhood is stable, see mesh/hello.py)
    "beacon_ms", 60000, 100, 3600000,
    # neighbour probed, then declared down, after this long unheard; 0 = 3.5 * beacon_ms
    "neighbour_timeout_ms", 0, 0, 3600000,
    # senders tracked by the replay window (see replay.py on eviction)
    "replay_max", 64, 1, 4096,
    "replay_window", 64, 1, 1024,
    # relays wait a random 0..relay_jitter_ms to spread rebroadcasts
    "relay_jitter_ms", 50, 0, 60000,
    "dup_cache_max", 128, 1, 4096,
    "dup_ttl_ms", 120000, 1, 86400000,
    # undrained events beyond this are dropped (oldest first) and counted
    "events_max", 64, 1, 4096,
    # pending relayed T_DATA frames beyond this are dropped and counted
    "relay_queue_max", 16, 1, 1024,
    # the largest frame this node's radio takes (espnow.MAX_DATA_LEN: 250, or
    # 1470 on ESP-NOW v2); set by the port, advertised in hellos
    "max_frame", 250, 250, 1470,
    # --- mesh protocol (mesh.py); see docs/protocol.md "Timers and bounds"
    # hellos: Trickle interval from hello_min_ms doubling up to beacon_ms (reset by news)
    "hello_min_ms", 1000, 50, 3600000,
    # a busy neighbour silent for 8 of its usual gaps is down, but never sooner than this
    "neighbour_min_timeout_ms", 3000, 100, 3600000,
    # relays collect readings this long (jittered 50-100 %) and send them in one frame
    "batch_ms", 600, 0, 10000,
    # after boot, relay every new reading this long (relay sets still forming)
    "startup_flood_ms", 15000, 0, 3600000,
    # one more full sync with the strongest neighbour when the start-up flood ends
    "settle_sync", False, _check_bool, None,
    # a pending relayed reading heard this many times from others is not sent (0 = never)
    "relay_suppress", 0, 0, 255,
    # ignored: relays are decided by the coverage condition (mesh/relays.py),
    # not picked per two-hop neighbour; kept so configs that set it still load
    "relay_coverage", 1, 1, 8,
    # a reading this late (past its origin's usual interval) is pulled from neighbours
    "pull_grace_ms", 1500, 100, 600000,
    # at most one full-table sync per this long (boot, new neighbour, healed partition)
    "sync_holdoff_ms", 5000, 0, 3600000,
    # origins unheard this long are reported ('stale', id), then forgotten
    "stale_ms", 60000, 1000, 86400000,
    "forget_ms", 600000, 1000, 86400000,
    # end-to-end: a request unanswered this long is sent again (3 attempts)
    "e2e_timeout_ms", 2000, 100, 600000,
    # partial fragmented messages kept, and for how long
    "frag_buffers", 4, 1, 64,
    "frag_timeout_ms", 5000, 100, 600000,
)


def _names():
    return [_FIELDS[i] for i in range(0, len(_FIELDS), 4)]


class NodeConfig:
    """Validated node settings. Build with NodeConfig.from_dict(d) or NodeConfig(**fields)."""

    def __init__(self, **fields):
        self._load(fields)

    @classmethod
    def from_dict(cls, d):
        if not isinstance(d, dict):
            raise ConfigError("config", "must be a dict")
        for k in d:
            if not isinstance(k, str):
                raise ConfigError(repr(k), "unknown field")
        return cls(**d)

    def _load(self, d):
        known = _names()
        for k in d:
            if k not in known:
                raise ConfigError(str(k), "unknown field")
        for i in range(0, len(_FIELDS), 4):
            field, default, lo, hi = _FIELDS[i:i + 4]
            if field not in d:
                if default is _REQUIRED:
                    raise ConfigError(field, "is required")
                setattr(self, field, default)
                continue
            try:
                v = d[field]
                setattr(self, field, lo(v) if hi is None else _check_int(v, lo, hi))
            except (ValueError, TypeError) as e:
                raise ConfigError(field, str(e.args[0]) if e.args else "invalid")
        if not self.neighbour_timeout_ms:
            self.neighbour_timeout_ms = self.beacon_ms * 7 // 2

    def to_dict(self):
        out = {}
        for field in _names():
            out[field] = getattr(self, field)
        out["id"] = ":".join(["%02x" % b for b in self.id])
        out["key"] = "".join(["%02x" % b for b in self.key])
        return out

    def __repr__(self):
        # Never print the key.
        return "NodeConfig(id=%s, name=%r, channel=%d)" % (
            ":".join(["%02x" % b for b in self.id]), self.name, self.channel)
