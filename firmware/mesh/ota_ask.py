# The asking side of the OTA part (mesh/ota.py, docs/ota.md): which
# neighbour we fetch from, and when we ask it for what.
#
#   REQ | kind u8 | version u32 | target id 6 | item u16 | first chunk u16 | missing mask u32
#
# The source is the neighbour we hear best, or the one our neighbours
# already ask (one sender per neighbourhood, MNP). The neighbours that need
# the same item ask at random points of ASK_SPREAD, and one that overhears a
# request for it waits for the answer (Deluge's request suppression). A
# first request for a page our source is known to lack waits for it to have
# the page (LEAD_WAIT). A mixin of the Ota class: it uses the part's
# manifest, store, node, answer and send.
import struct
from micropython import const

from .ota_assembly import ITEM_MANIFEST, window

K_REQ = const(2)
REQ_FORMAT = "<BI6sHHI"
REQUEST_WAIT = const(300)      # ms before asking again (loss or a silent neighbour)
MAX_TRIES = const(5)           # unanswered requests before another source is sought
ASK_SPREAD = const(50)         # ms over which the neighbours that need the same item ask:
                               # the first one's request is overheard, the others wait for its answer
SWITCH_MARGIN = const(4)       # 1/8 ETX a source must be better by to replace ours
_NO_LINK = const(255)
# A first request for a page our source is known to lack (its advert, or
# its own request for that page, says so) waits for the source to have it:
# such a request is owed, and most owed answers lapsed before the page was
# in (docs/ota.md). Waited at most this long; after it we ask anyway.
LEAD_WAIT = const(1000)


class Asking:
    """Source choice and requests; the state is the Ota part's (source,
    source_version, ask_at, tries, lead, wait_until)."""

    def _fetch_from(self, sender, version, now_ms):
        """Fetch from sender unless a fetch of this (or a newer) version runs
        from a neighbour we hear at least as well (the best link, not the
        first advert heard: fewer lost chunks, fewer repeats)."""
        if self.source is None or self.ask_at is None or version > self.source_version:
            self.source, self.source_version = bytes(sender), version
            self.ask_at = now_ms + 1 + self.node.rng.below(ASK_SPREAD)
        elif version == self.source_version:
            self._prefer(sender)

    def _cost(self, node_id):
        """Our link cost to a neighbour (1/8 ETX), _NO_LINK if unknown."""
        n = self.node.neighbours.get(node_id)
        return n.cost() if n is not None else _NO_LINK

    def _prefer(self, other):
        """Take other as our source if we hear it clearly better than ours."""
        if other != self.source and self._cost(other) + SWITCH_MARGIN <= self._cost(self.source):
            self.source = bytes(other)

    def _overheard_req(self, version, target, item, now_ms):
        """Another node asked for what we need next: its answer is broadcast,
        so wait for it rather than ask too (Deluge's request suppression),
        and ask that same neighbour if we must ask again and hear it well
        enough: one sender per neighbourhood serves everyone (MNP)."""
        if self.ask_at is not None and self._next_wanted() == (version, item):
            self.ask_at = max(self.ask_at, now_ms + REQUEST_WAIT)
            if self._cost(target) < _NO_LINK and self._cost(target) <= self._cost(self.source):
                self.source = bytes(target)

    def _source_holds(self, sender, held, now_ms):
        """Our source holds `held` pages (its advert says so, or its request
        for the next): a request held back for one of them goes now."""
        if sender != self.source:
            return
        self.lead = [self.source, held]
        if self.wait_until is not None and self.ask_at is not None and self.store.held() < held:
            self.wait_until = None
            self.ask_at = min(self.ask_at, now_ms + 1 + self.node.rng.below(ASK_SPREAD))

    def _source_serves(self, sender, item):
        """sender sent chunks of item: if it is our source and that page is
        past what we knew it held, it holds more (how much more, its next
        request or advert says)."""
        lead = self.lead
        if lead is not None and lead[0] == sender and item != ITEM_MANIFEST and item >= lead[1]:
            self.lead = None

    def _hold_back(self, item, now_ms):
        """-> True if our first request for page item waits for our source,
        which does not hold it yet (LEAD_WAIT)."""
        lead = self.lead
        if self.tries or lead is None or lead[0] != self.source or lead[1] > item:
            return False
        if self.wait_until is None:
            self.wait_until = now_ms + LEAD_WAIT
        if now_ms >= self.wait_until:
            return False
        self.ask_at = self.wait_until
        return True

    def _next_wanted(self):
        """-> (version, item) we would ask for next, or None."""
        if self.source is None:
            return None
        if self.manifest is None or self.source_version > self.manifest.version:
            return self.source_version, ITEM_MANIFEST
        if self.complete():
            return None
        return self.manifest.version, self.store.held()

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
        if item != ITEM_MANIFEST and self._hold_back(item, now_ms):
            return []
        self.wait_until = None
        self.tries += 1
        first, mask = rx.want()
        m = self.manifest
        if item != ITEM_MANIFEST and item + 1 < m.pages:
            mask = window(first, mask, rx, self.ahead.find(version, item + 1), m.page_len(item + 1))
        # back off while unanswered: a busy channel is not made quieter by asking
        self.ask_at = now_ms + REQUEST_WAIT * self.tries + self.node.rng.below(REQUEST_WAIT)
        self.node.count("ota_tx_req")
        return self.send(struct.pack(REQ_FORMAT, K_REQ, version, self.source, item, first, mask))
