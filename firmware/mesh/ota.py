# Over-the-mesh dissemination of a signed bundle (docs/ota.md), a mesh part:
# Deluge (Hui & Culler 2004) with Trickle-timed adverts (RFC 6206), and MNP's
# one-sender-per-neighbourhood (Kulkarni & Wang 2005).
#
# Every node advertises (version, bundle id, pages held, pages total) on a
# Trickle timer: silent when its neighbours agree, fast when one differs. A
# node that hears a newer version asks a neighbour for the signed manifest
# and checks it (mesh/ota_manifest.accept: operator's LMS signature, no
# downgrade, free flash) before it asks for any page; then it asks, in order,
# for the next page from a neighbour that holds it. Pages are checked against
# the manifest before they are stored, so a node serves only verified pages.
# All OTA frames are broadcast: a neighbour that needs the same page takes it
# too (the pipeline Deluge relies on). RAM: one page (or the manifest) being
# assembled and up to AHEAD pages after it whose chunks came first; the
# bundle goes to the page store (flash on a board).
#
# Frame T_OTA, first byte the kind:
#   ADV  | version u32 | bundle 8 | held u16 | total u16
#   REQ  | version u32 | target id 6 | item u16 | first chunk u16 | missing mask u32
#   DATA | version u32 | item u16 | chunk u16 | left u8 | bytes (1..MAX_RUN chunks)
# item = page number, or ITEM_MANIFEST for the signed manifest; `left` = the
# frames of this burst still to come. Chunks are taken in any order (a lost
# one costs one chunk). One asker, one sender per neighbourhood and round:
# the neighbours that need the same item ask at random points of ASK_SPREAD
# and one that overhears a request for it waits for the answer (whose burst
# tells it when to ask for what it still misses); a node asks the neighbour
# it hears best, or the one its neighbours already ask (mesh/ota_ask.py); a
# responder waits SERVE_WAIT to serve every asker with one burst, drops
# chunks it overhears a neighbour send meanwhile, and owes a request for the
# page it is itself receiving (served as soon as it is in; mesh/ota_answer.py).
import struct
from micropython import const

from .lms import signature_len
from .ota_answer import (ANSWERS, BURST, DATA_FORMAT, DATA_HEAD, K_DATA, MAX_RUN,  # noqa: F401
                         OWE_MS, SERVE_WAIT, Answer)
from .ota_ask import (ASK_SPREAD, K_REQ, LEAD_WAIT, MAX_TRIES, REQ_FORMAT, REQUEST_WAIT,  # noqa: F401
                      SWITCH_MARGIN, Asking)
from .ota_assembly import CHUNK, ITEM_MANIFEST, Ahead, Assembly
from .ota_manifest import HEAD_LEN, OtaError, accept_from, body_len
from .trickle import Trickle
from .unicast import BROADCAST
from .wire import FrameError

T_OTA = const(0x20)            # outside the routing range 4..15 (mesh/wire.py)
K_ADV = const(1)
MAX_MANIFEST = const(20480)    # body <= 16 KB + signature
TRICKLE_IMIN, TRICKLE_IMAX, TRICKLE_K = const(2000), const(60000), const(1)
FRAME_GAP = const(15)          # ms a burst's next frame may take (airtime, backoff, a busy channel)
AHEAD = const(3)               # pages after ours whose chunks are kept (one page buffer each)

_ADV = "<BI8sHH"


def decode(payload):
    """-> (kind, fields...) of an OTA frame; FrameError if malformed."""
    payload = bytes(payload)
    if not payload:
        raise FrameError("malformed")
    kind = payload[0]
    try:
        if kind == K_ADV and len(payload) == struct.calcsize(_ADV):
            return struct.unpack(_ADV, payload)
        if kind == K_REQ and len(payload) == struct.calcsize(REQ_FORMAT):
            return struct.unpack(REQ_FORMAT, payload)
        head = DATA_HEAD
        if kind == K_DATA and head < len(payload) <= head + MAX_RUN * CHUNK:
            return struct.unpack(DATA_FORMAT, payload[:head]) + (payload[head:],)
    except ValueError:
        pass
    raise FrameError("malformed")


class Ota(Asking):
    """The dissemination part. `public_key`: the operator's LMS key (56
    bytes); `running`: the version this node runs; `store`: the page store;
    `free_bytes`: the flash a bundle may take (None: no limit)."""

    def __init__(self, node, parts, store, public_key, running, now_ms, free_bytes=None):
        self.node, self.parts, self.store = node, parts, store
        self.public_key, self.running, self.free_bytes = public_key, running, free_bytes
        self.trickle = Trickle(TRICKLE_IMIN, TRICKLE_IMAX, TRICKLE_K, node.rng, now_ms)
        self.manifest = None
        self.refused = 0              # a version refused once is not fetched again
        self.rx = None                # Assembly in progress: the manifest or the next page
        self.ahead = Ahead(AHEAD)     # ... and the pages after it whose chunks came first
        self.source = None            # id of the neighbour we fetch from
        self.source_version = 0       # ... and the version it advertised
        self.ask_at = None            # when to (re)send our request
        self.tries = 0                # requests to our source left unanswered
        self.lead = None              # [source id, pages it holds] as last heard
        self.wait_until = None        # a first request held back until then (LEAD_WAIT)
        self.answer = Answer(self)    # the one answer we owe our neighbours
        self.done_reported = False
        self._page_buf = None         # page_buffer()
        size = store.manifest_size()
        if size is not None:          # resume after a reboot: pages on flash are kept
            self.manifest = self._resumed(size)

    def _resumed(self, size):
        """The manifest the store kept: a bundle being fetched before a
        reboot, or the one this node has since installed (it keeps serving
        it to the nodes behind it). Its room on flash was checked when it
        was first taken; the pages already there are not free space now."""
        try:
            m = accept_from(self.public_key, self.store.read_manifest, size, 0, None)
        except OtaError:
            return None
        return m if m.version >= self.running or m.downgrade else None

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
            return self._on_req(sender, msg[1], msg[2], msg[3], msg[4], msg[5], now_ms)
        return self._on_data(sender, msg[1], msg[2], msg[3], msg[4], msg[5], now_ms)

    def _on_adv(self, sender, version, held, total, now_ms):
        mine = self.version()
        if version == mine and held == self.held():
            # Equal and whole: consistent, our advert may stay quiet. Equal
            # and short of the bundle: not consistent. Neighbours stuck at the
            # same page would otherwise silence one another, and a node that
            # holds it all would never hear that they are behind (a line's
            # far end waited for Trickle's 60 s maximum: docs/ota.md).
            if self.complete():
                self.trickle.heard_consistent()
            self._source_holds(sender, held, now_ms)
            return []
        if version != mine or held < self.held():
            self.trickle.reset(now_ms)      # it lacks what we have, or the reverse: talk more
        if version > mine and version != self.refused:
            self._fetch_from(sender, version, now_ms)   # a newer bundle: its manifest first
        elif version == mine and self.manifest is not None and held > self.held():
            self._fetch_from(sender, version, now_ms)
        if version == mine:
            self._source_holds(sender, held, now_ms)
        return []

    def _on_req(self, sender, version, target, item, first, mask, now_ms):
        if item != ITEM_MANIFEST and version == self.version():
            self._source_holds(sender, item, now_ms)    # it asks for its next page
        if target != self.node.id:
            self._overheard_req(version, target, item, now_ms)
            return []
        self.answer.ask(version, item, first, mask, now_ms)
        return []

    def receiving(self, version, item):
        """True if item is the page of version we are receiving now."""
        m = self.manifest
        return m is not None and version == m.version and item == self.store.held() < m.pages

    def servable(self, version, item):
        """-> the size of an item we can serve, or None."""
        m = self.manifest
        if m is None or version != m.version:
            return None
        if item == ITEM_MANIFEST:
            return self.store.manifest_size()
        return m.page_len(item) if item < self.held() else None

    def _on_data(self, sender, version, item, chunk, left, data, now_ms):
        count = (len(data) + CHUNK - 1) // CHUNK
        self.answer.heard(version, item, chunk, count)
        self._source_serves(sender, item)
        rx = self._expecting(version, item)
        if rx is None:
            return []
        self.tries = 0
        for k in range(count):
            rx.add(chunk + k, data[k * CHUNK:(k + 1) * CHUNK])
            if not self._sized(rx):
                self.rx = self.source = None        # a manifest no node takes: drop it
                return []
        if self.source is None:
            # a neighbour serves what we need: ask it for the rest
            self.source, self.source_version = bytes(sender), version
        while self.rx is not None and self.rx.complete():
            rx, self.rx = self.rx, None
            self._finish(rx, now_ms)
            if self.manifest is not None:
                # its chunks came early: it is next
                self.rx = self.ahead.take(self.manifest.version, self.store.held())
        if self.ask_at is not None:
            # ask for what is still missing once the burst is over: `left`
            # frames of it are still to come (if its last is lost, a little later)
            self.ask_at = now_ms + left * FRAME_GAP + 1 + self.node.rng.below(ASK_SPREAD)
        return []

    def _sized(self, rx):
        """A manifest's real size comes from its head: set it once known.
        -> False if it claims more than a node takes."""
        if rx.item != ITEM_MANIFEST or not rx.in_order or len(rx.buf) < HEAD_LEN:
            return True
        try:
            lms_type, ots_type = struct.unpack_from(">II", self.public_key, 0)
            size = HEAD_LEN + body_len(rx.buf) + signature_len(lms_type, ots_type)
        except (OtaError, KeyError):
            size = MAX_MANIFEST + 1
        if size > MAX_MANIFEST or size < len(rx.buf):
            self.node.count("ota_manifest_bad")
            return False
        rx.sized(size)
        return True

    def _expecting(self, version, item):
        """The Assembly a DATA frame for (version, item) belongs to, or None."""
        if item == ITEM_MANIFEST:
            if self.manifest is not None and self.manifest.version >= version:
                return None
            if version <= self.running or version == self.refused:
                return None
            if self.rx is None or self.rx.item != item or self.rx.version != version:
                self.rx = Assembly(version, item, MAX_MANIFEST, self.store)
            return self.rx
        m = self.manifest
        held = self.store.held()
        if m is None or version != m.version or item >= m.pages:
            return None
        if item == held:
            if self.rx is None or self.rx.item != item or self.rx.version != version:
                self.rx = self.ahead.take(version, item) or Assembly(version, item, m.page_len(item))
            return self.rx
        if held < item <= held + AHEAD:
            return self.ahead.get(version, item, held, m.page_len(item))
        return None

    def _finish(self, rx, now_ms):
        if rx.item == ITEM_MANIFEST:
            self._take_staged(rx.size, rx.version, now_ms)
        elif self._take_page(rx.item, rx.buf, now_ms) is not None:
            self.source = None              # a bad neighbour: fetch anew, maybe elsewhere

    def _take_staged(self, size, version, now_ms):
        """Check the signed manifest the store has staged (`size` bytes) and
        adopt it. -> None, or the refusal reason."""
        try:
            m = accept_from(self.public_key, self.store.read_staged, size, self.running, self.free_bytes)
        except OtaError as exc:
            self.refused = version
            self.ask_at = self.source = None
            self.node.emit(("ota", "refused", version, exc.reason))
            self.node.count("ota_refused")
            return exc.reason
        if self.manifest is not None and m.version <= self.manifest.version:
            # the one we hold (a resumed offer), or one it replaces: a replay
            return None if m.version == self.manifest.version else "old"
        self.manifest = m
        self.store.adopt()
        m.rebind(self.store.read_manifest)     # its page hashes are read from where it now is
        self.trickle.reset(now_ms)
        if self.source is not None:         # the pages, from the same neighbour
            self.ask_at = now_ms + 1 + self.node.rng.below(ASK_SPREAD)
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
        self.wait_until = None
        self.answer.page_in(m.version, index, now_ms)
        if self.store.held() == m.pages:
            self.trickle.reset(now_ms)      # we can serve it all: say so soon
            self.ask_at = self.source = None
            self.node.emit(("ota", "verified", m.version, m.bundle))
        elif self.source is not None:
            # the neighbours that took the same page ask at random points of
            # ASK_SPREAD: the first request is overheard, the rest wait for it
            self.ask_at = now_ms + 1 + self.node.rng.below(ASK_SPREAD)
        return None

    # ------------------------------------------------------------ local API

    def offer_manifest(self, blob, now_ms):
        """A signed manifest from the operator (the console of the board
        `nowmesh ota` talks to). -> None, or the refusal reason."""
        self.store.stage_begin(len(blob))
        self.store.stage(0, blob)
        return self.offer_staged(len(blob), now_ms)

    def offer_staged(self, size, now_ms):
        """The operator's signed manifest, already staged in the store piece
        by piece (meshport/ota_port.put). -> None, or the refusal reason."""
        self.rx = None                # a radio manifest shared the staging: start it again
        return self._take_staged(size, 0, now_ms)

    def offer_page(self, index, data, now_ms):
        """Page `index` from the operator, checked like any other. -> None or reason."""
        return self._take_page(index, data, now_ms)     # not copied: the store writes or copies it

    def page_buffer(self, size):
        """A view of `size` bytes of one page buffer kept for the next use
        (the console's pages, the install's check): a 1 KB allocation per
        page fails on a fragmented board heap."""
        if self._page_buf is None or len(self._page_buf) < size:
            self._page_buf = None
            self._page_buf = bytearray(size)
        return memoryview(self._page_buf)[:size]

    def send(self, payload):
        return self.parts.send(BROADCAST, T_OTA, payload)

    # ------------------------------------------------------------ timers

    def tick(self, now_ms):
        out = []
        due = self.answer.due()
        if due is not None and now_ms >= due:
            out += self.answer.serve(now_ms)
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
        due = self.answer.due()
        if due is not None and due < d:
            d = due
        return d

    def status(self):
        """[version, bundle id (16 hex), pages held, pages total]: what a
        node reports of an update (its hello, docs/ota.md)."""
        return [self.version(), "".join(["%02x" % b for b in self.bundle()]), self.held(), self.total()]

    def snapshot(self):
        return (self.version(), self.held(), self.total(), self.refused, self.source, self.ask_at,
                self.trickle.snapshot())


def attach(node, store, public_key, running, now_ms, free_bytes=None):
    """Plug a dissemination part into node's mesh policy. -> the part."""
    part = Ota(node, node.policy.parts, store, public_key, running, now_ms, free_bytes)
    node.policy.plug(T_OTA, part)
    return part
