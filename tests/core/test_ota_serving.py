# One OTA part at its edges (mesh/ota.py), frames handed to it directly:
# answering requests (a burst of at most BURST chunks, only the chunks the
# mask names and the item holds, two askers served by one burst, requests
# for another node, another version, an item not held, or a chunk window past
# the item ignored), asking (when, whom, for what, backing off, giving up),
# and a manifest whose head is garbage. Plain test functions: run under
# pytest and MicroPython.
import struct

from meshhelp import make_node, node_id, tick_through

from mesh import ota
from mesh.ota_assembly import CHUNK, ITEM_MANIFEST
from mesh.ota_store import MemoryPageStore
import ota_lms_vectors as lv
import ota_manifest_vectors as mv

PUB = bytes.fromhex(lv.PUBLIC_KEY_HEX)
V100 = bytes.fromhex("".join(mv.V100_HEX))
PAGE = 64


def _part(i=1, seed=True, pages=True):
    n = make_node(i)
    p = ota.attach(n, MemoryPageStore(), PUB, 1, 0)
    if seed:
        assert p.offer_manifest(V100, 0) is None
        for k in range(0, len(mv.IMAGE) if pages else 0, PAGE):
            assert p.offer_page(k // PAGE, mv.IMAGE[k:k + PAGE], 0) is None
    return n, p


def _req(p, version, item, first, mask, now, target=None):
    target = p.node.id if target is None else target
    msg = ota.decode(struct.pack("<BI6sHHI", ota.K_REQ, version, target, item, first, mask))
    assert p.handle(node_id(9), msg, now) == []


def _data_sent(n, out):
    """-> [(item, chunk, data)] of the DATA frames among out."""
    got = []
    for _dst, frame in out:
        ftype, _s, _b, _c, payload = n.keys.open(frame)
        if ftype == ota.T_OTA and payload[0] == ota.K_DATA:
            _k, _v, item, chunk, _left, data = ota.decode(payload)
            got.append((item, chunk, bytes(data)))
    return got


def _served(n, p, start, until=200):
    got = []
    for t in range(start, start + until):
        got += [(t,) + d for d in _data_sent(n, p.tick(t))]
    return got


def test_a_request_is_answered_after_a_short_wait_with_the_chunks_its_mask_names():
    n, p = _part()
    _req(p, 100, ITEM_MANIFEST, 0, 0b1011, 1000)
    got = _served(n, p, 1000)
    assert [(item, chunk) for _t, item, chunk, _d in got] == [(ITEM_MANIFEST, 0), (ITEM_MANIFEST, 1),
                                                              (ITEM_MANIFEST, 3)]
    assert all(1001 <= t <= 1000 + ota.SERVE_WAIT for t, *_rest in got)
    assert got[0][3] == V100[:CHUNK] and got[2][3] == V100[3 * CHUNK:4 * CHUNK]


def test_a_burst_stops_at_burst_chunks_and_at_the_end_of_the_item():
    n, p = _part()
    _req(p, 100, ITEM_MANIFEST, 0, 0xFFFFFFFF, 1000)
    got = _served(n, p, 1000)
    assert [c for _t, _i, c, _d in got] == list(range(min(ota.BURST, (len(V100) + CHUNK - 1) // CHUNK)))
    last = (len(V100) - 1) // CHUNK
    _req(p, 100, ITEM_MANIFEST, last, 0xFFFFFFFF, 2000)
    got = _served(n, p, 2000)
    assert [(c, d) for _t, _i, c, d in got] == [(last, V100[last * CHUNK:])]      # the short tail
    _req(p, 100, 0, 0, 0xFFFFFFFF, 3000)       # a page, and the bits past it: the next page
    assert [(i, c, d) for _t, i, c, d in _served(n, p, 3000)] == [(0, 0, mv.IMAGE[:PAGE]),
                                                                   (1, 0, mv.IMAGE[PAGE:2 * PAGE])]
    last = (len(mv.IMAGE) - 1) // PAGE
    _req(p, 100, last, 0, 0xFFFFFFFF, 4000)    # the last page: nothing after it
    assert [(i, c) for _t, i, c, _d in _served(n, p, 4000)] == [(last, 0)]


def test_two_askers_are_served_by_one_burst():
    for first_a, first_b in ((0, 2), (2, 0)):
        n, p = _part()
        _req(p, 100, ITEM_MANIFEST, first_a, 0b1, 1000)
        _req(p, 100, ITEM_MANIFEST, first_b, 0b1, 1001)
        _req(p, 100, 0, 0, 0b1, 1002)               # another item meanwhile: its own burst
        got = _served(n, p, 1000)
        manifest = [(t, c) for t, i, c, _d in got if i == ITEM_MANIFEST]
        assert [c for _t, c in manifest] == [0, 2] and manifest[0][0] == manifest[1][0]
        assert [(i, c) for _t, i, c, _d in got if i != ITEM_MANIFEST] == [(0, 0)]


def test_requests_not_for_us_or_not_servable_are_not_answered():
    n, p = _part()
    _req(p, 100, ITEM_MANIFEST, 0, 0b1, 1000, target=node_id(7))
    _req(p, 99, ITEM_MANIFEST, 0, 0b1, 1000)
    _req(p, 100, ITEM_MANIFEST, 0xFFFF - 31, 0b1, 1000)
    assert _served(n, p, 1000) == []
    _req(p, 100, ITEM_MANIFEST, 0xFFFF - 32, 0b1, 2000)   # the last window start that fits
    assert _served(n, p, 2000) == []                       # ... past the manifest's end: nothing
    n, p = _part(pages=False)                              # the manifest only
    _req(p, 100, 0, 0, 0b1, 1000)
    assert _served(n, p, 1000) == []
    _req(p, 100, ITEM_MANIFEST, 0, 0b1, 2000)
    assert len(_served(n, p, 2000)) == 1


def _adv(p, sender, version, held, total, now):
    msg = ota.decode(struct.pack("<BI8sHH", ota.K_ADV, version, bytes(8), held, total))
    return p.handle(sender, msg, now)


def _requests(n, p, start, until):
    got = []
    for t, out in tick_through(p, until, start):
        for _dst, frame in out:
            ftype, _s, _b, _c, payload = n.keys.open(frame)
            if ftype == ota.T_OTA and payload[0] == ota.K_REQ:
                got.append((t,) + tuple(ota.decode(payload)[1:]))
    return got


def test_a_newer_advert_makes_a_node_ask_its_sender_for_the_manifest_backing_off_then_giving_up():
    n, p = _part(2, seed=False)
    a = node_id(1)
    _adv(p, a, 100, 3, 9, 5000)
    reqs = _requests(n, p, 5000, 20000)
    assert [r[1:] for r in reqs] == [(100, a, ITEM_MANIFEST, 0, 0xFFFFFFFF)] * ota.MAX_TRIES
    times = [r[0] for r in reqs]
    assert 5001 <= times[0] <= 5050
    for k, (t0, t1) in enumerate(zip(times, times[1:])):
        wait = ota.REQUEST_WAIT * (k + 1)                  # backing off while unanswered
        assert wait <= t1 - t0 < wait + ota.REQUEST_WAIT, (k, times)
    assert p.source is None
    _adv(p, a, 100, 3, 9, 30000)                           # heard again: asks again
    assert len(_requests(n, p, 30000, 30100)) == 1


def test_an_older_or_equal_advert_asks_for_nothing_and_a_refused_version_is_not_fetched_again():
    n, p = _part(2, seed=False)
    _adv(p, node_id(1), 1, 0, 0, 5000)
    assert _requests(n, p, 5000, 10000) == []
    p.refused = 100
    _adv(p, node_id(1), 100, 3, 9, 10000)
    assert _requests(n, p, 10000, 15000) == []


def test_a_manifest_whose_head_is_garbage_is_dropped_and_counted():
    n, p = _part(2, seed=False)
    a = node_id(1)
    _adv(p, a, 100, 3, 9, 5000)
    _requests(n, p, 5000, 5060)
    msg = ota.decode(struct.pack("<BIHHB", ota.K_DATA, 100, ITEM_MANIFEST, 0, 0) + b"JUNK" + bytes(CHUNK - 4))
    p.handle(a, msg, 5100)
    assert n.stats.get("ota_manifest_bad") == 1 and p.rx is None and p.source is None
    msg = ota.decode(struct.pack("<BIHHB", ota.K_DATA, 100, ITEM_MANIFEST, 0, 0) + V100[:CHUNK])
    _adv(p, a, 100, 3, 9, 6000)
    _requests(n, p, 6000, 6060)
    p.handle(a, msg, 6100)                                 # a true head: kept, sized
    assert p.rx is not None and p.rx.size == len(V100) and p.source == a


def _data(p, sender, version, item, chunk, data, now):
    msg = ota.decode(struct.pack("<BIHHB", ota.K_DATA, version, item, chunk, 0) + data)
    return p.handle(sender, msg, now)


def test_a_chunk_a_neighbour_sends_first_is_dropped_from_our_burst():
    n, p = _part()
    _req(p, 100, ITEM_MANIFEST, 1, 0b1111, 1000)           # chunks 1..4
    c = node_id(7)
    _data(p, c, 100, ITEM_MANIFEST, 2, V100[2 * CHUNK:3 * CHUNK], 1000)
    _data(p, c, 100, ITEM_MANIFEST, 1, V100[CHUNK:2 * CHUNK], 1000)    # the window's first
    _data(p, c, 100, ITEM_MANIFEST, 0, V100[:CHUNK], 1000)             # below it: nothing
    _data(p, c, 99, ITEM_MANIFEST, 3, V100[3 * CHUNK:4 * CHUNK], 1000)  # another version
    _data(p, c, 100, 0, 3, mv.IMAGE[:PAGE], 1000)                        # another item
    assert [c_ for _t, _i, c_, _d in _served(n, p, 1000)] == [3, 4]
    assert n.stats["ota_tx_data"] == 2


def test_two_askers_at_different_windows_are_merged_on_the_lower():
    n, p = _part()
    _req(p, 100, ITEM_MANIFEST, 3, 0b1, 1000)
    _req(p, 100, ITEM_MANIFEST, 1, 0b1, 1001)
    _req(p, 100, 0, 0, 0b10, 1002)                 # another item (page 1, by the window): not merged
    got = _served(n, p, 1000)
    assert [c for _t, i, c, _d in got if i == ITEM_MANIFEST] == [1, 3]
    assert [(i, c) for _t, i, c, _d in got if i != ITEM_MANIFEST] == [(1, 0)]


def _adv_sent(n, out):
    for _dst, frame in out:
        ftype, _s, _b, _c, payload = n.keys.open(frame)
        if ftype == ota.T_OTA and payload[0] == ota.K_ADV:
            return ota.decode(payload)[1:]
    return None


def test_the_advert_says_version_bundle_and_pages_held_of_total():
    for seed, pages in ((False, False), (True, False), (True, True)):
        n, p = _part(seed=seed, pages=pages)
        adv = None
        t = 0
        while adv is None:
            t = p.next_deadline()
            adv = _adv_sent(n, p.tick(t))
        total = (len(mv.IMAGE) + PAGE - 1) // PAGE
        if not seed:
            assert adv == (1, bytes(8), 0, 0)
        else:
            assert adv == (100, bytes.fromhex(p.manifest.bundle)[:8], total if pages else 0, total)
        assert n.stats["ota_tx_adv"] == 1


def test_an_advert_of_our_version_with_more_pages_makes_us_ask_for_the_next_page():
    n, p = _part(2, pages=False)                   # the manifest, no page yet
    a = node_id(1)
    total = (len(mv.IMAGE) + PAGE - 1) // PAGE
    _adv(p, a, 100, 0, total, 5000)                # holds no more than we do
    assert _requests(n, p, 5000, 5100) == []
    _adv(p, a, 100, 2, total, 6000)
    reqs = _requests(n, p, 6000, 6100)
    assert [r[1:] for r in reqs] == [(100, a, 0, 0, 0b11)]         # page 0, and page 1 after it
    assert n.stats["ota_tx_req"] == 1


def test_the_first_ask_comes_1_to_50_ms_after_the_advert():
    waits = []
    for boot in range(1, 200):
        n = make_node(2, boot=boot)
        p = ota.attach(n, MemoryPageStore(), PUB, 1, 0)
        _adv(p, node_id(1), 100, 3, 9, 5000)
        waits.append(_requests(n, p, 5000, 5100)[0][0] - 5000)
    assert (min(waits), max(waits)) == (1, 50)


def test_a_fetch_keeps_its_source_until_a_newer_version_is_advertised():
    n, p = _part(2, seed=False)
    a, c = node_id(1), node_id(3)
    _adv(p, a, 100, 3, 9, 5000)
    _adv(p, c, 100, 3, 9, 5001)
    assert _requests(n, p, 5000, 5100)[0][2] == a
    _adv(p, c, 101, 3, 9, 5200)
    assert _requests(n, p, 5200, 5300)[0][2:4] == (c, ITEM_MANIFEST)


def test_refusals_are_counted():
    n, p = _part(seed=False)
    assert p.offer_manifest(V100[:-1], 0) is not None
    assert n.stats["ota_refused"] == 1
    n, p = _part(pages=False)
    assert p.offer_page(0, b"\x00" * PAGE, 0) == "page"
    assert n.stats["ota_page_bad"] == 1
    assert p.offer_page(1, mv.IMAGE[PAGE:2 * PAGE], 0) == "order"


def test_answers_for_a_few_items_are_pending_at_once_never_more():
    n, p = _part()
    for item in range(20):
        _req(p, 100, item, 0, 0b1, 1000 + item)
    assert len(p.answer.pending) == ota.ANSWERS
    got = _served(n, p, 1000)
    assert sorted(i for _t, i, _c, _d in got) == list(range(ota.ANSWERS))
    assert p.answer.pending == [] and p.answer.due() is None
