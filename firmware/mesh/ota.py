# Over-the-mesh dissemination of a signed bundle (docs/ota.md), a mesh part:
# Deluge (Hui & Culler 2004) with Trickle-timed adverts (RFC 6206).
#
# Every node advertises (version, bundle id, pages held, pages total) on a
# Trickle timer: silent when its neighbours agree, fast when one differs. A
# node that hears a newer version asks that neighbour for the signed manifest
# and checks it (mesh/ota_manifest.accept: operator's LMS signature, no
# downgrade, free flash) before it asks for any page; then it asks, in order,
# for the next page from a neighbour that holds it. Pages are checked against
# the manifest before they are stored, so a node serves only verified pages.
# All OTA frames are broadcast: a neighbour that needs the same page takes it
# too (the pipeline Deluge relies on). RAM: one page (or the manifest) being
# assembled; the bundle goes to the page store (flash on a board).
#
# Frame T_OTA, first byte the kind:
#   ADV  | version u32 | bundle 8 | held u16 | total u16
#   REQ  | version u32 | target id 6 | item u16 | first chunk u16 | missing mask u32
#   DATA | version u32 | item u16 | chunk u16 | bytes (CHUNK, the last one shorter)
# item = page number, or ITEM_MANIFEST for the signed manifest. A page's
# chunks are taken in any order (a lost one costs one chunk, not the rest of
# the burst); the manifest's in order (its size is in its head). A node that
# overhears a request for what it needs waits for the answer instead of
# asking too; a responder waits SERVE_WAIT to serve every asker with one
# burst, and drops chunks it overhears a neighbour send meanwhile.
import struct
from micropython import const

from .lms import signature_len
from .ota_assembly import CHUNK, ITEM_MANIFEST, Assembly
from .ota_manifest import HEAD_LEN, OtaError, accept, split
from .trickle import Trickle
from .unicast import BROADCAST
from .wire import FrameError

T_OTA = const(0x20)            # outside the routing range 4..15 (mesh/wire.py)
K_ADV, K_REQ, K_DATA = const(1), const(2), const(3)
BURST = const(8)               # frames one request may cost the responder
MAX_MANIFEST = const(20480)    # body <= 16 KB + signature
TRICKLE_IMIN, TRICKLE_IMAX, TRICKLE_K = const(2000), const(60000), const(1)
REQUEST_WAIT = const(300)      # ms before asking again (loss or a silent neighbour)
SERVE_WAIT = const(40)         # ms an answer waits for more askers
MAX_TRIES = const(5)           # unanswered requests before another source is sought

_ADV = "<BI8sHH"
_REQ = "<BI6sHHI"
_DATA = "<BIHH"


def decode(payload):
    """-> (kind, fields...) of an OTA frame; FrameError if malformed."""
    payload = bytes(payload)
    if not payload:
        raise FrameError("malformed")
    kind = payload[0]
    try:
        if kind == K_ADV and len(payload) == struct.calcsize(_ADV):
            return struct.unpack(_ADV, payload)
        if kind == K_REQ and len(payload) == struct.calcsize(_REQ):
            return struct.unpack(_REQ, payload)
        head = struct.calcsize(_DATA)
        if kind == K_DATA and head < len(payload) <= head + CHUNK:
            return struct.unpack(_DATA, payload[:head]) + (payload[head:],)
    except ValueError:
        pass
    raise FrameError("malformed")


class Ota:
    """The dissemination part. `public_key`: the operator's LMS key (56
    bytes); `running`: the version this node runs; `store`: the page store;
    `free_bytes`: the flash a bundle may take (None: no limit)."""

    def __init__(self, node, parts, store, public_key, running, now_ms, free_bytes=None):
        self.node, self.parts, self.store = node, parts, store
        self.public_key, self.running, self.free_bytes = public_key, running, free_bytes
        self.trickle = Trickle(TRICKLE_IMIN, TRICKLE_IMAX, TRICKLE_K, node.rng, now_ms)
        self.manifest = None
        self.refused = 0              # a version refused once is not fetched again
        self.rx = None                # Assembly in progress
        self.source = None            # id of the neighbour we fetch from
        self.source_version = 0       # ... and the version it advertised
        self.ask_at = None            # when to (re)send our request
        self.tries = 0                # requests to our source left unanswered
        self.answer = None            # [version, item, first, mask, due]: one pending answer
        self.done_reported = False
        blob = store.manifest()
        if blob is not None:          # resume after a reboot: pages on flash are kept
            try:
                self.manifest = accept(public_key, blob, running, free_bytes)
            except OtaError:
                self.manifest = None

    # ------------------------------------------------------------ what we hold

    def version(self):
        return self.manifest.version if self.manifest is not None else self.running

    def held(self):
        return self.store.held() if self.manifest is not None else 0

    def total(self):
        return self.manifest.pages if self.manifest is not None else 0

    def complete(self):
        return self.manifest is not None and self.store.held() == self.manifest.pages

    def bundle(self):
        return bytes.fromhex(self.manifest.bundle)[:8] if self.manifest is not None else bytes(8)

    # ------------------------------------------------------------ receive

    def decode(self, payload):
        return decode(payload)

    def handle(self, sender, msg, now_ms):
        kind = msg[0]
        if kind == K_ADV:
            return self._on_adv(sender, msg[1], msg[3], msg[4], now_ms)
        if kind == K_REQ:
            return self._on_req(msg[1], msg[2], msg[3], msg[4], msg[5], now_ms)
        return self._on_data(msg[1], msg[2], msg[3], msg[4], now_ms)

    def _on_adv(self, sender, version, held, total, now_ms):
        mine = self.version()
        if version == mine and held == self.held():
            self.trickle.heard_consistent()
            return []
        if version != mine or held < self.held():
            self.trickle.reset(now_ms)      # it lacks what we have, or the reverse: talk more
        if version > mine and version != self.refused:
            self._fetch_from(sender, version, now_ms)   # a newer bundle: its manifest first
        elif version == mine and self.manifest is not None and held > self.held():
            self._fetch_from(sender, version, now_ms)
        return []

    def _fetch_from(self, sender, version, now_ms):
        """Fetch from sender unless a fetch of this (or a newer) version runs."""
        if self.source is None or self.ask_at is None or version > self.source_version:
            self.source, self.source_version = bytes(sender), version
            self.ask_at = now_ms + 1 + self.node.rng.below(50)

    def _on_req(self, version, target, item, first, mask, now_ms):
        if target != self.node.id:
            self._overheard_req(version, item, now_ms)
            return []
        if self._servable(version, item) is None or first > 0xFFFF - 32:
            return []
        a = self.answer
        if a is None:
            # answer after a short wait, so the masks of every neighbour that
            # asks meanwhile are served by one burst (Deluge aggregates too)
            self.answer = [version, item, first, mask, now_ms + 1 + self.node.rng.below(SERVE_WAIT)]
        elif a[0] == version and a[1] == item:
            low = min(a[2], first)
            a[3] = ((a[3] << (a[2] - low)) | (mask << (first - low))) & 0xFFFFFFFF
            a[2] = low
        return []                        # another item: its askers ask again

    def _serve(self, now_ms):
        version, item, first, mask, _due = self.answer
        self.answer = None
        size = self._servable(version, item)
        out = []
        for k in range(32):
            chunk = first + k
            if size is None or len(out) >= BURST or chunk * CHUNK >= size:
                break
            if mask & (1 << k):
                out += self._send_data(version, item, chunk, min(CHUNK, size - chunk * CHUNK))
        return out

    def _servable(self, version, item):
        """-> the size of an item we can serve, or None."""
        m = self.manifest
        if m is None or version != m.version:
            return None
        if item == ITEM_MANIFEST:
            blob = self.store.manifest()
            return len(blob) if blob is not None else None
        return m.page_len(item) if item < self.held() else None

    def _overheard_req(self, version, item, now_ms):
        """Another node asked for what we need next: its answer is broadcast,
        so wait for it rather than ask too (Deluge's request suppression)."""
        if self.ask_at is not None and self._next_wanted() == (version, item):
            self.ask_at = max(self.ask_at, now_ms + REQUEST_WAIT)

    def _next_wanted(self):
        """-> (version, item) we would ask for next, or None."""
        if self.source is None:
            return None
        if self.manifest is None or self.source_version > self.manifest.version:
            return self.source_version, ITEM_MANIFEST
        if self.complete():
            return None
        return self.manifest.version, self.store.held()

    def _send_data(self, version, item, chunk, n):
        self.node.count("ota_tx_data")
        offset = chunk * CHUNK
        if item == ITEM_MANIFEST:
            data = self.store.manifest()[offset:offset + n]
        else:
            data = self.store.read(item, offset, n)
        return self.parts.send(BROADCAST, T_OTA, struct.pack(_DATA, K_DATA, version, item, chunk) + data)

    def _on_data(self, version, item, chunk, data, now_ms):
        a = self.answer
        if a is not None and a[0] == version and a[1] == item and 0 <= chunk - a[2] < 32:
            a[3] &= ~(1 << (chunk - a[2]))    # a neighbour sent it: ours would repeat it
        rx = self._expecting(version, item)
        if rx is None:
            return []
        rx.add(chunk, data)
        self.tries = 0
        if not self._sized(rx):
            self.rx = self.source = None        # a manifest no node takes: drop it
            return []
        if rx.complete():
            self.rx = None
            self._finish(rx, now_ms)
        else:
            self.ask_at = now_ms + REQUEST_WAIT  # more is coming; ask again if it stops
        return []

    def _sized(self, rx):
        """A manifest's real size comes from its head: set it once known.
        -> False if it claims more than a node takes."""
        if rx.item != ITEM_MANIFEST or rx.size != MAX_MANIFEST or len(rx.buf) < HEAD_LEN:
            return True
        try:
            body, _ = split(bytes(rx.buf[:HEAD_LEN]) + bytes(MAX_MANIFEST))
            lms_type, ots_type = struct.unpack_from(">II", self.public_key, 0)
            size = HEAD_LEN + len(body) + signature_len(lms_type, ots_type)
        except (OtaError, KeyError):
            size = MAX_MANIFEST + 1
        if size > MAX_MANIFEST or size < len(rx.buf):
            self.node.count("ota_manifest_bad")
            return False
        rx.size = size
        return True

    def _expecting(self, version, item):
        """The Assembly a DATA frame for (version, item) belongs to, or None."""
        if item == ITEM_MANIFEST:
            if self.manifest is not None and self.manifest.version >= version:
                return None
            if version <= self.running or version == self.refused:
                return None
            if self.rx is None or self.rx.item != item or self.rx.version != version:
                self.rx = Assembly(version, item, MAX_MANIFEST)
            return self.rx
        m = self.manifest
        if m is None or version != m.version or item != self.store.held() or item >= m.pages:
            return None
        if self.rx is None or self.rx.item != item or self.rx.version != version:
            self.rx = Assembly(version, item, m.page_len(item))
        return self.rx

    def _finish(self, rx, now_ms):
        if rx.item == ITEM_MANIFEST:
            self._take_manifest(bytes(rx.buf), rx.version, now_ms)
        elif self._take_page(rx.item, rx.buf, now_ms) is not None:
            self.source = None              # a bad neighbour: fetch anew, maybe elsewhere

    def _take_manifest(self, blob, version, now_ms):
        """Check and adopt a signed manifest. -> None, or the refusal reason."""
        try:
            m = accept(self.public_key, blob, self.running, self.free_bytes)
        except OtaError as exc:
            self.refused = version
            self.ask_at = self.source = None
            self.node.emit(("ota", "refused", version, exc.reason))
            self.node.count("ota_refused")
            return exc.reason
        if self.manifest is not None and m.version <= self.manifest.version:
            return None                     # already have it (or newer)
        self.manifest = m
        self.store.start(blob)
        self.trickle.reset(now_ms)
        if self.source is not None:
            self.ask_at = now_ms + 1        # the pages, from the same neighbour
        self.node.emit(("ota", "offered", m.version, m.bundle, m.pages))
        return None

    def _take_page(self, index, data, now_ms):
        """Check and store the next page. -> None, or the refusal reason."""
        m = self.manifest
        if m is None or index != self.store.held():
            return "order"
        if not m.page_ok(index, data):
            # not stored, never forwarded
            self.node.emit(("ota", "page_bad", m.version, index))
            self.node.count("ota_page_bad")
            return "page"
        self.store.append(data)
        if self.store.held() == m.pages:
            self.trickle.reset(now_ms)      # we can serve it all: say so soon
            self.ask_at = self.source = None
            self.node.emit(("ota", "verified", m.version, m.bundle))
        elif self.source is not None:
            self.ask_at = now_ms + 1
        return None

    # ------------------------------------------------------------ local API

    def offer_manifest(self, blob, now_ms):
        """A signed manifest from the operator (the console of the board
        `nowmesh ota` talks to). -> None, or the refusal reason."""
        return self._take_manifest(bytes(blob), 0, now_ms)

    def offer_page(self, index, data, now_ms):
        """Page `index` from the operator, checked like any other. -> None or reason."""
        return self._take_page(index, bytes(data), now_ms)

    # ------------------------------------------------------------ timers

    def _request(self, now_ms):
        """Ask our source for the next thing we lack (manifest, or the next page)."""
        wanted = self._next_wanted()
        if wanted is None:
            self.ask_at = self.source = None
            return []
        version, item = wanted
        rx = self._expecting(version, item)
        if rx is None or self.tries >= MAX_TRIES:   # nothing to ask, or the source is gone
            self.source = self.ask_at = None
            self.tries = 0
            return []
        self.tries += 1
        first, mask = rx.want()
        # back off while unanswered: a busy channel is not made quieter by asking
        self.ask_at = now_ms + REQUEST_WAIT * self.tries + self.node.rng.below(REQUEST_WAIT)
        self.node.count("ota_tx_req")
        return self.parts.send(BROADCAST, T_OTA,
                               struct.pack(_REQ, K_REQ, version, self.source, item, first, mask))

    def tick(self, now_ms):
        out = []
        if self.answer is not None and now_ms >= self.answer[4]:
            out += self._serve(now_ms)
        if self.ask_at is not None and now_ms >= self.ask_at:
            out += self._request(now_ms)
        if self.trickle.due(now_ms):
            self.node.count("ota_tx_adv")
            out += self.parts.send(BROADCAST, T_OTA, struct.pack(
                _ADV, K_ADV, self.version(), self.bundle(), self.held(), self.total()))
        return out

    def next_deadline(self):
        d = self.trickle.next_deadline()
        if self.ask_at is not None and self.ask_at < d:
            d = self.ask_at
        if self.answer is not None and self.answer[4] < d:
            d = self.answer[4]
        return d

    def snapshot(self):
        return (self.version(), self.held(), self.total(), self.refused, self.source, self.ask_at,
                self.trickle.snapshot())


def attach(node, store, public_key, running, now_ms, free_bytes=None):
    """Plug a dissemination part into node's mesh policy. -> the part."""
    part = Ota(node, node.policy.parts, store, public_key, running, now_ms, free_bytes)
    node.policy.plug(T_OTA, part)
    return part
