# How the OTA part (mesh/ota.py) keeps a neighbourhood to one asker and one
# sender per round, and the pipeline moving: a request for the page a node is
# receiving itself is owed and served as soon as it is in; DATA frames say how
# many frames of their burst are still to come, so a receiver asks for what it
# missed once the burst is over; an overheard request for what we need
# silences ours until its answer is over; the source is the neighbour we
# hear best, the one the neighbourhood already asks, or the one we hear
# serving; and between ESP-NOW v2 neighbours consecutive chunks share a frame.
# Plain test functions: run under pytest and MicroPython.
import struct

from meshhelp import Net, make_node, node_id, tick_through

from mesh import ota, wire
from mesh.ota_assembly import CHUNK, ITEM_MANIFEST
from mesh.ota_store import MemoryPageStore
import ota_lms_vectors as lv
import ota_manifest_vectors as mv

PUB = bytes.fromhex(lv.PUBLIC_KEY_HEX)
V100 = bytes.fromhex("".join(mv.V100_HEX))
PAGE = 64
PAGES = (len(mv.IMAGE) + PAGE - 1) // PAGE


def _part(i=1, pages=0, manifest=True, **cfg):
    n = make_node(i, **cfg)
    p = ota.attach(n, MemoryPageStore(), PUB, 1, 0)
    if manifest:
        assert p.offer_manifest(V100, 0) is None
    for k in range(pages):
        assert p.offer_page(k, mv.IMAGE[k * PAGE:(k + 1) * PAGE], 0) is None
    return n, p


def _frames(n, out, kind):
    got = []
    for _dst, frame in out:
        ftype, _s, _b, _c, payload = n.keys.open(frame)
        if ftype == ota.T_OTA and payload[0] == kind:
            got.append(ota.decode(payload)[1:])
    return got


def _sent(n, p, start, until, kind):
    got = []
    for t, out in tick_through(p, until, start):
        got += [(t,) + f for f in _frames(n, out, kind)]
    return got


def _req(p, version, item, first, mask, now, target=None, sender=None):
    target = p.node.id if target is None else target
    sender = node_id(9) if sender is None else sender
    p.handle(sender, ota.decode(struct.pack("<BI6sHHI", ota.K_REQ, version, target, item, first, mask)), now)


def _adv(p, sender, held, now, version=100):
    p.handle(sender, ota.decode(struct.pack("<BI8sHH", ota.K_ADV, version, bytes(8), held, PAGES)), now)


def _data(p, sender, item, chunk, data, now, left=0):
    p.handle(sender, ota.decode(struct.pack("<BIHHB", ota.K_DATA, 100, item, chunk, left) + data), now)


def _link(node, other, q):
    """node hears other with quality q (0..256 both ways): its cost is 8 * (256/q)^2."""
    node.neighbours.heard(other, -60, 0)
    nb = node.neighbours.get(other)
    nb.q_in, nb.q_out = q, q // 2 - 1
    return nb.cost()


def test_a_request_for_the_page_we_are_receiving_is_served_as_soon_as_it_is_in():
    for by_radio in (False, True):
        n, p = _part(pages=2)
        _req(p, 100, 2, 0, 0b1, 1000)             # we are receiving page 2 ourselves
        _req(p, 100, 3, 0, 0b1, 1000)             # beyond it: nothing to owe
        assert _sent(n, p, 1000, 1500, ota.K_DATA) == []
        page = mv.IMAGE[2 * PAGE:3 * PAGE]
        if by_radio:      # from our source: its askers, behind us, did not hear that
            _data(p, node_id(5), 2, 0, page, 1500)
        else:
            assert p.offer_page(2, page, 1500) is None
        got = _sent(n, p, 1500, 1600, ota.K_DATA)
        assert [(g[2], g[3]) for g in got] == [(2, 0)] and 1501 <= got[0][0] <= 1500 + ota.SERVE_WAIT


def test_an_owed_page_that_never_comes_is_dropped_and_a_servable_request_takes_its_place():
    n, p = _part(pages=2)
    _req(p, 100, 2, 0, 0b1, 1000)
    assert _sent(n, p, 1000, 1000 + ota.OWE_MS + 10, ota.K_DATA) == [] and p.answer.pending == []
    _req(p, 100, 2, 0, 0b1, 5000)             # owed again ...
    _req(p, 100, 0, 0, 0b1, 5001)             # ... but one we can serve now goes first
    assert [(g[2], g[3]) for g in _sent(n, p, 5001, 5100, ota.K_DATA)] == [(0, 0)]


def test_a_burst_counts_down_the_frames_still_to_come():
    n, p = _part()
    _req(p, 100, ITEM_MANIFEST, 0, 0b10111, 1000)
    got = _sent(n, p, 1000, 1100, ota.K_DATA)
    assert [(g[3], g[4]) for g in got] == [(0, 3), (1, 2), (2, 1), (4, 0)]


def _fetching(i=2):
    """A node that heard an advert of version 100 from node 1, asked for the
    manifest, and took its head chunk: it now misses the manifest's other chunks."""
    n, p = _part(i, manifest=False)
    _adv(p, node_id(1), 3, 5000)
    assert len(_sent(n, p, 5000, 5060, ota.K_REQ)) == 1
    _data(p, node_id(1), ITEM_MANIFEST, 0, V100[:CHUNK], 5100, left=5)
    return n, p


def test_a_receiver_asks_for_what_it_missed_once_the_burst_is_over():
    for left in (5, 0):
        n, p = _fetching()
        _data(p, node_id(1), ITEM_MANIFEST, 2, V100[2 * CHUNK:3 * CHUNK], 6000, left=left)
        reqs = _sent(n, p, 6000, 9000, ota.K_REQ)
        wait = reqs[0][0] - 6000
        assert left * ota.FRAME_GAP < wait <= left * ota.FRAME_GAP + ota.ASK_SPREAD, (left, wait)
        assert reqs[0][3:5] == (ITEM_MANIFEST, 1) and reqs[0][5] & 0b11 == 0b01   # chunk 2 is in


def test_an_overheard_request_for_what_we_need_silences_ours_until_its_burst_is_over():
    n, p = _fetching()
    _req(p, 100, ITEM_MANIFEST, 1, 0b1, 5110, target=node_id(1))       # what we need
    assert _sent(n, p, 5110, 5110 + ota.REQUEST_WAIT - 1, ota.K_REQ) == []
    n, p = _fetching()
    _req(p, 100, 0, 0, 0b1, 5110, target=node_id(1))                   # a page: not yet ours
    assert 5110 < _sent(n, p, 5110, 9000, ota.K_REQ)[0][0] < 5110 + ota.REQUEST_WAIT
    n, p = _fetching()
    _req(p, 100, ITEM_MANIFEST, 1, 0b1, 5110, target=node_id(1))
    _data(p, node_id(1), ITEM_MANIFEST, 1, V100[CHUNK:2 * CHUNK], 5200, left=2)   # its answer
    reqs = _sent(n, p, 5200, 9000, ota.K_REQ)
    assert 5200 + 2 * ota.FRAME_GAP < reqs[0][0] <= 5200 + 2 * ota.FRAME_GAP + ota.ASK_SPREAD
    assert reqs[0][4:6] == (2, (1 << (len(V100) // CHUNK - 1)) - 1)      # the rest, from chunk 2


def test_the_source_is_the_neighbour_heard_best_not_the_first_advert():
    n, p = _part(2, pages=1)
    a, b, c = node_id(1), node_id(3), node_id(4)
    cost_a, cost_b, cost_c = _link(n, a, 64), _link(n, b, 200), _link(n, c, 210)
    assert cost_a > cost_b + ota.SWITCH_MARGIN and cost_b - ota.SWITCH_MARGIN < cost_c < cost_b
    _adv(p, a, 5, 5000)
    assert p.source == a
    _adv(p, b, 5, 5001)                       # heard much better: taken
    assert p.source == b
    _adv(p, c, 5, 5002)                       # barely better: not worth the change
    assert p.source == b
    _adv(p, a, 1, 5003)                       # holds nothing we lack: never taken
    assert p.source == b
    assert _sent(n, p, 5000, 5100, ota.K_REQ)[0][2] == b


def test_a_node_asks_the_neighbour_its_neighbourhood_asks_if_it_hears_it_well_enough():
    n, p = _part(2, pages=1)
    a, b, far = node_id(1), node_id(3), node_id(7)
    _link(n, a, 64)
    _link(n, b, 200)
    _adv(p, a, 5, 5000)
    _req(p, 100, 1, 0, 0xFFFFFFFF, 5001, target=far)    # a node we do not hear: not taken
    assert p.source == a
    _req(p, 100, 1, 0, 0xFFFFFFFF, 5002, target=b)
    assert p.source == b
    _req(p, 100, 2, 0, 0xFFFFFFFF, 5003, target=a)      # another page: none of our business
    assert p.source == b


def test_a_node_without_a_source_asks_the_neighbour_it_hears_serving():
    n, p = _part(2)
    assert p.source is None
    _data(p, node_id(5), ITEM_MANIFEST, 0, V100[:CHUNK], 100)   # the manifest we hold: nothing
    assert p.source is None
    _data(p, node_id(5), 0, 0, mv.IMAGE[:PAGE], 200)            # page 0, which we lack
    assert p.source == node_id(5) and p.store.held() == 1
    assert _sent(n, p, 200, 400, ota.K_REQ)[0][2:4] == (node_id(5), 1)


def _v2_pair(*limits):
    nodes = [make_node(i + 1, max_frame=m) for i, m in enumerate(limits)]
    net = Net(nodes, [(nodes[0], other) for other in nodes[1:]])
    net.run_until(16000)    # past startup_flood_ms: broadcasts may be v2
    parts = [ota.attach(x, MemoryPageStore(), PUB, 1, net.now) for x in nodes]
    return net, nodes, parts


def test_v2_neighbours_get_consecutive_chunks_in_one_frame_and_a_v1_neighbour_one_each():
    total = (len(V100) + CHUNK - 1) // CHUNK
    for limits, per_frame in (((wire.MAX_FRAME_V2, wire.MAX_FRAME_V2), ota.MAX_RUN),
                              ((wire.MAX_FRAME_V2, wire.MAX_FRAME_V2, wire.MAX_FRAME), 1)):
        net, nodes, parts = _v2_pair(*limits)
        assert parts[0].offer_manifest(V100, net.now) is None
        _req(parts[0], 100, ITEM_MANIFEST, 0, 0xFFFFFFFF, net.now)
        got = _sent(nodes[0], parts[0], net.now, net.now + 100, ota.K_DATA)
        sizes = [len(g[5]) for g in got]
        assert [g[3] for g in got] == [k * per_frame for k in range(len(got))]
        assert sizes[0] == per_frame * CHUNK and len(got) == min(ota.BURST, -(-total // per_frame))
        assert max(sizes) + ota.DATA_HEAD <= wire.MAX_PAYLOAD_V2


def test_a_bundle_crosses_v2_neighbours_in_large_frames_and_arrives_whole():
    net, nodes, parts = _v2_pair(wire.MAX_FRAME_V2, wire.MAX_FRAME_V2)
    for k in range(2):
        net.lose(nodes[k], nodes[1 - k], 0.2)
    assert parts[0].offer_manifest(V100, net.now) is None
    for k in range(PAGES):
        assert parts[0].offer_page(k, mv.IMAGE[k * PAGE:(k + 1) * PAGE], net.now) is None
    net.run_until(net.now + 60000)
    assert parts[1].complete() and b"".join(parts[1].store.read(k, 0, PAGE) for k in range(PAGES)) == mv.IMAGE
    assert max(len(f) for _t, src, _d, f in net.log if src == nodes[0].id) > wire.MAX_FRAME


def test_a_run_is_as_long_as_the_max_payload_allows():
    assert ota.MAX_RUN == (wire.MAX_PAYLOAD_V2 - ota.DATA_HEAD) // CHUNK
    assert ota.DATA_HEAD == struct.calcsize("<BIHHB")


def test_chunks_of_the_pages_after_ours_are_kept_and_stored_once_ours_is_in():
    n, p = _part(2)
    page = lambda k: mv.IMAGE[k * PAGE:(k + 1) * PAGE]      # noqa: E731
    far = ota.AHEAD + 1
    _data(p, node_id(1), far, 0, page(far), 100)       # beyond what is kept: no room for it
    for k in range(ota.AHEAD, 0, -1):                  # the next AHEAD pages: kept aside
        _data(p, node_id(1), k, 0, page(k), 110 - k)
    assert p.store.held() == 0 and sorted(a.item for a in p.ahead.pages) == list(range(1, ota.AHEAD + 1))
    _data(p, node_id(1), 0, 0, page(0), 120)
    assert p.store.held() == ota.AHEAD + 1 and p.ahead.pages == []
    assert [p.store.read(k, 0, PAGE) for k in range(ota.AHEAD + 1)] == [page(k) for k in range(ota.AHEAD + 1)]
    reqs = _sent(n, p, 120, 1000, ota.K_REQ)
    assert reqs[0][3:6] == (far, 0, 0b11)              # the page not kept, and the one after it


def test_the_pages_kept_ahead_are_bounded():
    n, p = _part(2)
    for k in range(PAGES - 1, 0, -1):                  # every page but ours, the farthest first
        _data(p, node_id(1), k, 0, mv.IMAGE[k * PAGE:(k + 1) * PAGE], 100 - k)
        assert len(p.ahead.pages) <= ota.AHEAD
    assert sorted(a.item for a in p.ahead.pages) == list(range(1, ota.AHEAD + 1))


def test_a_page_buffer_the_heap_has_no_room_for_is_not_kept():
    from mesh import ota_assembly

    class _Full(ota_assembly.Assembly):
        def __init__(self, *args, **kwargs):
            raise MemoryError("no 64-byte block")
    n, p = _part(2)
    real = ota_assembly.Assembly
    ota_assembly.Assembly = _Full
    try:
        _data(p, node_id(1), 1, 0, mv.IMAGE[PAGE:2 * PAGE], 100)     # ahead: dropped, no error
    finally:
        ota_assembly.Assembly = real
    assert p.ahead.pages == [] and p.store.held() == 0
    _data(p, node_id(1), 1, 0, mv.IMAGE[PAGE:2 * PAGE], 200)         # room again: kept
    assert [a.item for a in p.ahead.pages] == [1]


def test_a_chunk_a_neighbour_sends_of_the_windows_second_page_is_dropped_from_our_burst():
    n, p = _part(pages=4)
    _req(p, 100, 1, 0, 0b11, 1000)                    # page 1 and page 2
    _data(p, node_id(7), 2, 0, mv.IMAGE[2 * PAGE:3 * PAGE], 1001)
    assert [(g[2], g[3]) for g in _sent(n, p, 1000, 1100, ota.K_DATA)] == [(1, 0)]


def _fetching_from(a):
    """A node holding pages 0-1 whose source a advertised 3 pages and sent page 2."""
    n, p = _part(2, pages=2)
    _link(n, a, 200)
    _adv(p, a, 3, 100)
    assert p.source == a
    assert [r[3] for r in _sent(n, p, 100, 200, ota.K_REQ)] == [2]
    _data(p, a, 2, 0, mv.IMAGE[2 * PAGE:3 * PAGE], 300)
    assert p.store.held() == 3
    return n, p


def test_a_first_request_waits_while_our_source_lacks_the_page():
    # the source's advert said 3 pages: it lacks page 3, and a request for it
    # would only be owed; ours waits until the source's own request for page
    # 4 says it has page 3 now, then goes within ASK_SPREAD
    a = node_id(1)
    n, p = _fetching_from(a)
    assert _sent(n, p, 300, 1200, ota.K_REQ) == []
    _req(p, 100, 4, 0, 1, 1200, target=node_id(5), sender=a)
    reqs = _sent(n, p, 1200, 1200 + ota.ASK_SPREAD + 1, ota.K_REQ)
    assert [(r[2], r[3]) for r in reqs] == [(a, 3)]


def test_a_request_held_back_goes_after_LEAD_WAIT_when_no_news_comes():
    a = node_id(1)
    n, p = _fetching_from(a)
    reqs = _sent(n, p, 300, 300 + ota.LEAD_WAIT + 100, ota.K_REQ)
    assert [(r[3]) for r in reqs] == [3] and reqs[0][0] >= 300 + ota.LEAD_WAIT


def test_a_source_known_to_hold_the_page_is_asked_at_once():
    # its request for page 4 (or its serving page 3) says it holds page 3
    for news in ("req", "data"):
        a = node_id(1)
        n, p = _fetching_from(a)
        if news == "req":
            _req(p, 100, 4, 0, 1, 250, target=node_id(5), sender=a)
        else:
            _data(p, a, 3, 0, mv.IMAGE[3 * PAGE:3 * PAGE + 10], 310)   # a part of page 3
        reqs = _sent(n, p, 310, 310 + ota.ASK_SPREAD + 1, ota.K_REQ)
        assert [(r[2], r[3]) for r in reqs] == [(a, 3)], news
