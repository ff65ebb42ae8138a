# The one OTA item a node is receiving (mesh/ota.py, docs/ota.md): a page,
# or the signed manifest; a request may span a page and the next (window).
# Chunks are taken in any order (a lost one costs one
# chunk, not the rest of the burst); the manifest's size is known only from
# its head, so until its first chunk is in, only that chunk is taken.
from micropython import const

CHUNK = const(192)             # data bytes per frame: fits a v1 (250-byte) frame
ITEM_MANIFEST = const(0xFFFF)


class Assembly:
    """The one item being received, into a buffer of its size with one
    byte per chunk saying whether it is in. A manifest starts with its size
    unknown (`size` is the most it may be): its first chunk is kept alone
    until Ota._sized reads the real size from it and calls sized(). Given a
    `store` (the page store), a sized manifest goes to its staging chunk by
    chunk (flash on a board): RAM holds the head chunk and one byte a chunk."""

    def __init__(self, version, item, size, store=None):
        self.version, self.item, self.size = version, item, size
        self.store = store
        if item == ITEM_MANIFEST:
            self.buf = bytearray()     # the head chunk only, until sized()
            self.have = None
        else:
            self._allocate(size)

    def _allocate(self, size):
        self.size = size
        self.buf = bytearray(size)
        self.have = bytearray((size + CHUNK - 1) // CHUNK)

    def sized(self, size):
        """The manifest's real size, read from its head chunk (already in buf)."""
        head = self.buf
        if self.store is not None:
            self.size = size
            self.have = bytearray((size + CHUNK - 1) // CHUNK)
            self.store.stage_begin(size)
        else:
            self._allocate(size)
        if len(head) == min(CHUNK, size):      # a whole first chunk: kept
            self._put(0, head)

    def _put(self, chunk, data):
        if self.store is not None:
            self.store.stage(chunk * CHUNK, data)
        else:
            self.buf[chunk * CHUNK:chunk * CHUNK + len(data)] = data
        self.have[chunk] = 1

    @property
    def in_order(self):
        return self.have is None

    def add(self, chunk, data):
        offset = chunk * CHUNK
        if self.in_order:
            if offset == 0 and not self.buf and len(data) <= self.size:
                self.buf += data
            return
        if chunk < len(self.have) and len(data) == min(CHUNK, self.size - offset):
            self._put(chunk, data)

    def complete(self):
        if self.in_order:
            return False
        for got in self.have:
            if not got:
                return False
        return True

    def want(self):
        """-> (first missing chunk, mask of the missing ones from it)."""
        if self.in_order:
            return 0, 0xFFFFFFFF
        have = self.have
        first = 0
        while first < len(have) and have[first]:
            first += 1
        mask = 0
        for k in range(first, min(first + 32, len(have))):
            if not have[k]:
                mask |= 1 << (k - first)
        return first, mask


def window(first, mask, rx, ahead, ahead_len):
    """A request's mask over two pages: bits past rx's last chunk name the
    chunks of the page after it (all of them if `ahead`, its Assembly, has
    not started), so one request and one burst carry both pages."""
    base = len(rx.have) - first
    for j in range((ahead_len + CHUNK - 1) // CHUNK):
        if base + j < 32 and (ahead is None or not ahead.have[j]):
            mask |= 1 << (base + j)
    return mask


class Ahead:
    """The pages after the one being received whose chunks came first, each
    in its own Assembly, at most `count` of them (RAM: one page buffer
    each). Neighbours drift a page or two apart (each loses other chunks),
    so a burst for a page a little ahead of ours is worth keeping: with three
    pages kept instead of one, OTA airtime fell 14-22 % on the bench's random
    layout and 7-16 % on its grid, on every seed tried (docs/ota.md)."""

    def __init__(self, count):
        self.count = count
        self.pages = []

    def find(self, version, item):
        for a in self.pages:
            if a.item == item and a.version == version:
                return a
        return None

    def take(self, version, item):
        """-> the Assembly of item, no longer kept here, or None."""
        a = self.find(version, item)
        if a is not None:
            self.pages.remove(a)
        return a

    def get(self, version, item, held, size):
        """-> the Assembly for item (held < item <= held + count), a new one
        if need be (pages no longer ahead of `held` are let go first), or
        None when the heap has no room for another page buffer: its chunks
        come again when asked for."""
        a = self.find(version, item)
        if a is not None:
            return a
        self.pages = [a for a in self.pages if a.version == version and held < a.item <= held + self.count]
        try:
            a = Assembly(version, item, size)
        except MemoryError:
            return None
        self.pages.append(a)
        return a
