# The one OTA item a node is receiving (mesh/ota.py, docs/ota.md): a page,
# whose chunks may come in any order, or the signed manifest, in order.
from micropython import const

CHUNK = const(192)             # data bytes per frame: fits a v1 (250-byte) frame
ITEM_MANIFEST = const(0xFFFF)


class Assembly:
    """The one item being received. Pages: chunks in any order, into a
    buffer of the page's size. The manifest: chunks in order, its size
    learnt from its head (Ota._sized), MAX_MANIFEST at most."""

    def __init__(self, version, item, size):
        self.version, self.item, self.size = version, item, size
        self.in_order = item == ITEM_MANIFEST
        if self.in_order:
            self.buf = bytearray()
            self.have = None
        else:
            self.buf = bytearray(size)
            self.have = bytearray((size + CHUNK - 1) // CHUNK)

    def add(self, chunk, data):
        offset = chunk * CHUNK
        if self.in_order:
            if offset == len(self.buf) and offset + len(data) <= self.size:
                self.buf += data
            return
        if chunk < len(self.have) and len(data) == min(CHUNK, self.size - offset):
            self.buf[offset:offset + len(data)] = data
            self.have[chunk] = 1

    def complete(self):
        if self.in_order:
            return len(self.buf) == self.size
        for got in self.have:
            if not got:
                return False
        return True

    def want(self):
        """-> (first missing chunk, mask of the missing ones from it)."""
        if self.in_order:
            return len(self.buf) // CHUNK, 0xFFFFFFFF
        have = self.have
        first = 0
        while first < len(have) and have[first]:
            first += 1
        mask = 0
        for k in range(first, min(first + 32, len(have))):
            if not have[k]:
                mask |= 1 << (k - first)
        return first, mask
