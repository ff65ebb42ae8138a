# The one answer an OTA node has pending (mesh/ota.py, docs/ota.md): the
# requests addressed to it for one item merged into one burst of DATA frames.
#
#   DATA | kind u8 | version u32 | item u16 | chunk u16 | left u8 | 1..MAX_RUN chunks
#
# `left` = the frames of this burst still to come, so a receiver asks for what
# it missed as soon as the burst is over. A frame carries one chunk, or up to
# MAX_RUN consecutive ones when every neighbour takes ESP-NOW v2 frames
# (mesh.py frame_limit): a 1 KB page in one frame instead of six.
import struct
from micropython import const

from .ota_assembly import CHUNK, ITEM_MANIFEST
from .unicast import BROADCAST
from .wire import HEADER_LEN, TAG_LEN

K_DATA = const(3)
DATA_FORMAT = "<BIHHB"
DATA_HEAD = const(10)          # struct.calcsize(DATA_FORMAT)
MAX_RUN = const(7)             # (MAX_PAYLOAD_V2 - DATA_HEAD) // CHUNK
BURST = const(12)              # frames one request may cost the responder: two v1 pages
SERVE_WAIT = const(40)         # ms an answer waits for more askers
OWE_MS = const(1000)           # how long a request for the page we are receiving is kept
ANSWERS = const(3)             # items with an answer pending at once (neighbours at different pages)


class Answer:
    """`part`: the Ota part (what it can serve, its store, node and send)."""

    def __init__(self, part):
        self.part = part
        self.pending = []            # [version, item, first, mask, due], ANSWERS at most
        self.max_run = MAX_RUN       # chunks a frame may carry (a board with a small heap lowers it)

    def _find(self, version, item):
        for a in self.pending:
            if a[0] == version and a[1] == item:
                return a
        return None

    def ask(self, version, item, first, mask, now_ms):
        """A request addressed to us."""
        part = self.part
        if first > 0xFFFF - 32:
            return
        if part.servable(version, item) is not None:
            # answer after a short wait, so the masks of every neighbour that
            # asks meanwhile are served by one burst (Deluge aggregates too)
            due = now_ms + 1 + part.node.rng.below(SERVE_WAIT)
        elif part.receiving(version, item):
            # the page we are receiving ourselves: owe it, serve it as it is in
            # (the asker caught up with us; the pipeline goes on without adverts)
            due = now_ms + OWE_MS
        else:
            return
        a = self._find(version, item)
        if a is not None:
            low = min(a[2], first)
            a[3] = ((a[3] << (a[2] - low)) | (mask << (first - low))) & 0xFFFFFFFF
            a[2] = low
        elif len(self.pending) < ANSWERS:
            self.pending.append([version, item, first, mask, due])
        # else: its asker asks again

    def heard(self, version, item, chunk, count):
        """A neighbour sent these chunks: ours would repeat them. Not while
        we receive that page ourselves: those who asked us for it are
        behind us, and likely did not hear our source."""
        for a in self.pending:
            if a[0] != version or self.part.receiving(version, item):
                continue
            if a[1] == item:
                base = chunk
            elif a[1] != ITEM_MANIFEST and a[1] + 1 == item:
                base = chunk + self._chunks(a[1])      # the window's second page
            else:
                continue
            for c in range(base, base + count):
                if 0 <= c - a[2] < 32:
                    a[3] &= ~(1 << (c - a[2]))

    def page_in(self, version, index, now_ms):
        """Page index is stored: an owed answer for it is due now."""
        a = self._find(version, index)
        if a is not None:
            a[4] = now_ms + 1 + self.part.node.rng.below(SERVE_WAIT)

    def due(self):
        """-> when the earliest pending answer is due, or None."""
        d = None
        for a in self.pending:
            if d is None or a[4] < d:
                d = a[4]
        return d

    def serve(self, now_ms):
        """The earliest pending answer is due: one burst of the chunks asked
        for (an owed page we still lack by now is dropped: its askers ask again)."""
        a = self.pending[0]
        for b in self.pending:
            if b[4] < a[4]:
                a = b
        self.pending.remove(a)
        version, item, first, mask, _due = a
        frames = []
        for page in (item, item + 1):
            size = self.part.servable(version, page)
            if size is None:
                break
            chunks = []
            for k in range(32):
                chunk = first + k
                if chunk * CHUNK >= size:
                    break
                if chunk >= 0 and mask & (1 << k):
                    chunks.append(chunk)
            frames += [(page, run[0], min(run[1] * CHUNK, size - run[0] * CHUNK)) for run in self._runs(chunks)]
            if item == ITEM_MANIFEST:
                break
            first -= (size + CHUNK - 1) // CHUNK     # the bits past it name the next page's chunks
        frames = frames[:BURST]
        out = []
        for n, (page, chunk, size) in enumerate(frames):
            out += self._send(version, page, chunk, size, len(frames) - 1 - n)
        return out

    def _chunks(self, page):
        return (self.part.manifest.page_len(page) + CHUNK - 1) // CHUNK

    def _runs(self, chunks):
        """Ascending chunk numbers -> [[first, count]]: consecutive chunks
        share a frame, as many as every neighbour's frames take."""
        room = self.part.node.policy.frame_limit(BROADCAST) - HEADER_LEN - TAG_LEN - DATA_HEAD
        most = max(1, min(self.max_run, room // CHUNK))
        runs = []
        for chunk in chunks:
            if runs and runs[-1][0] + runs[-1][1] == chunk and runs[-1][1] < most:
                runs[-1][1] += 1
            else:
                runs.append([chunk, 1])
        return runs

    def _send(self, version, item, chunk, n, left):
        part = self.part
        part.node.count("ota_tx_data")
        offset = chunk * CHUNK
        if item == ITEM_MANIFEST:
            data = part.store.read_manifest(offset, n)
        else:
            data = part.store.read(item, offset, n)
        return part.send(struct.pack(DATA_FORMAT, K_DATA, version, item, chunk, left) + data)
