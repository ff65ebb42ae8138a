# Compact store of the newest reading per origin: the encoded bytes as they
# travel (15 bytes + 5 per value, about 25 bytes for temp + rh), not Reading
# objects (a Reading with its list of tuples of floats costs ~0.5 KB on a
# 64-bit MicroPython). Reads like a dict of Reading: get/[]/in/len/items.
# Bounded by the caller (Node.store_reading evicts least recently heard).
import struct

from .wire import decode_reading_at, serial_newer


def raw_key(raw):
    """(boot16, seq16) of an encoded reading."""
    return struct.unpack_from("<HH", raw, 6)


def raw_newer(a_boot, a_seq, b_boot, b_seq):
    if a_boot != b_boot:
        return serial_newer(a_boot, b_boot)
    return serial_newer(a_seq, b_seq)


class ReadingStore:
    def __init__(self):
        self.raw = {}  # origin id -> encoded reading (bytes)
        # origin id -> the same id object: every table keyed by origin (routes,
        # heard, intervals, repair wheel, two-hop sets) shares one bytes object
        # per origin instead of a fresh copy per decoded frame (64 B each on
        # 64-bit MicroPython, 32 B on an ESP32).
        self._ids = {}

    def canonical(self, origin):
        """The id object this store keys origin by (origin itself if unknown)."""
        return self._ids.get(origin, origin)

    def __len__(self):
        return len(self.raw)

    def __contains__(self, origin):
        return origin in self.raw

    def __iter__(self):
        return iter(self.raw)

    def keys(self):
        return self.raw.keys()

    def __getitem__(self, origin):
        raw = self.raw[origin]
        return decode_reading_at(raw, 0, len(raw))[0]

    def get(self, origin, default=None):
        if origin not in self.raw:
            return default
        return self[origin]

    def items(self):
        return [(k, self[k]) for k in self.raw]

    def values(self):
        return [self[k] for k in self.raw]

    def put(self, origin, raw):
        origin = self._ids.setdefault(origin, origin)
        self.raw[origin] = raw

    def pop(self, origin):
        self._ids.pop(origin, None)
        return self.raw.pop(origin, None)

    def key_of(self, origin):
        raw = self.raw.get(origin)
        return None if raw is None else raw_key(raw)
