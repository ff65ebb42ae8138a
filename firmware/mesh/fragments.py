# Fragmentation of request/reply bodies larger than one frame, and bounded
# reassembly. A body is cut into at most FRAG_MAX pieces of MAX_BODY bytes;
# each piece is its own routed packet (frag byte = index << 4 | count - 1).
# The receiver keeps at most `buffers` partial messages (oldest dropped and
# counted), each at most FRAG_MAX * MAX_BODY bytes by construction, and drops
# a partial message `timeout_ms` after its first piece: a hostile sender can
# hold at most buffers * 3.3 KB, for at most timeout_ms.
from .frames import FRAG_MAX, MAX_BODY


def split(body):
    """-> [(frag byte, piece)]; ValueError if the body needs > FRAG_MAX pieces."""
    body = bytes(body)
    count = max(1, (len(body) + MAX_BODY - 1) // MAX_BODY)
    if count > FRAG_MAX:
        raise ValueError("body too long (max %d bytes)" % (FRAG_MAX * MAX_BODY))
    return [((i << 4) | (count - 1), body[i * MAX_BODY:(i + 1) * MAX_BODY]) for i in range(count)]


class Reassembly:
    def __init__(self, buffers, timeout_ms, count):
        self.buffers = buffers
        self.timeout_ms = timeout_ms
        self._count = count   # stats counter callback(name)
        self._parts = {}      # key -> [first_ms, count, {index: piece}]

    def __len__(self):
        return len(self._parts)

    def add(self, key, frag, piece, now_ms):
        """-> the whole body once every piece is in, else None."""
        index, count = frag >> 4, (frag & 15) + 1
        if count == 1:
            return piece
        slot = self._parts.get(key)
        if slot is not None and slot[1] != count:
            self._count("frag_inconsistent")
            return None
        if slot is None:
            if len(self._parts) >= self.buffers:
                self._drop_oldest()
            slot = self._parts[key] = [now_ms, count, {}]
        slot[2][index] = bytes(piece)
        if len(slot[2]) < count:
            return None
        del self._parts[key]
        return b"".join([slot[2][i] for i in range(count)])

    def _drop_oldest(self):
        oldest = None
        for k, s in self._parts.items():
            if oldest is None or s[0] < self._parts[oldest][0]:
                oldest = k
        del self._parts[oldest]
        self._count("frag_evicted")

    def expire(self, now_ms):
        for k in [k for k, s in self._parts.items() if now_ms - s[0] >= self.timeout_ms]:
            del self._parts[k]
            self._count("frag_timeout")

    def next_deadline(self):
        if not self._parts:
            return None
        return min([s[0] for s in self._parts.values()]) + self.timeout_ms

    def snapshot(self):
        return sorted([(k, s[0], s[1], sorted(s[2].items())) for k, s in self._parts.items()])
