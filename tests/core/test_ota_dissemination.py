# Dissemination of a signed bundle through the mesh (mesh/ota.py), on the
# fake radio of meshhelp: Trickle adverts, manifest then pages in order from
# a neighbour, every page checked before it is stored or served.
import struct

from mesh import ota
from mesh.ota_manifest import split
from mesh.ota_store import MemoryPageStore
from meshhelp import Net, make_node
import ota_lms_vectors as lv
import ota_manifest_vectors as mv

PUB = bytes.fromhex(lv.PUBLIC_KEY_HEX)
V100 = bytes.fromhex("".join(mv.V100_HEX))
V50 = bytes.fromhex("".join(mv.V50_HEX))
FORGED = bytes.fromhex("".join(mv.FORGED_HEX))
PAGE = 64


def _line(count, loss=0.0, running=1, public_key=PUB):
    nodes = [make_node(i + 1) for i in range(count)]
    net = Net(nodes, [(nodes[i], nodes[i + 1]) for i in range(count - 1)], seed=7)
    for i in range(count - 1):
        net.lose(nodes[i], nodes[i + 1], loss)
        net.lose(nodes[i + 1], nodes[i], loss)
    parts = [ota.attach(n, MemoryPageStore(), public_key, running, 0) for n in nodes]
    return net, nodes, parts


def _seed(part, blob=V100, image=mv.IMAGE):
    assert part.offer_manifest(blob, 0) is None
    for i in range(0, len(image), PAGE):
        assert part.offer_page(i // PAGE, image[i:i + PAGE], 0) is None


def _image(part):
    return b"".join(part.store.read(i, 0, PAGE) for i in range(part.store.held()))


def test_bundle_reaches_every_node_of_a_lossy_line():
    net, nodes, parts = _line(5, loss=0.1)
    _seed(parts[0])
    net.run_until(120000)
    for n, p in zip(nodes, parts):
        assert p.complete() and p.version() == 100, (n.name, p.snapshot())
        assert _image(p) == mv.IMAGE
    for n in nodes[1:]:
        verified = [e for e in net.kinds(n, "ota") if e[1] == "verified"]
        assert verified == [("ota", "verified", 100, parts[0].manifest.bundle)]


def test_node_without_the_operator_key_signs_nothing_others_take():
    net, nodes, parts = _line(3)
    parts[0].public_key = bytes.fromhex("".join(mv.FORGED_PUB_HEX))
    _seed(parts[0], FORGED)             # an insider's node: it believes its own key
    net.run_until(60000)
    for p in parts[1:]:
        assert p.manifest is None and p.store.held() == 0
    refused = [e for e in net.kinds(nodes[1], "ota") if e[1] == "refused"]
    assert refused == [("ota", "refused", 200, "signature")]     # once, not again and again
    assert net.kinds(nodes[2], "ota") == []


def test_old_version_is_not_fetched_by_a_newer_node():
    net, nodes, parts = _line(2, running=100)
    parts[0].running = 1
    _seed(parts[0], V50)
    net.run_until(30000)
    assert parts[1].manifest is None and parts[1].version() == 100
    assert parts[1].source is None and parts[1].rx is None      # never asked for it
    assert parts[1].offer_manifest(V50, 0) == "old"             # nor takes it when handed over


def test_tampered_page_from_a_neighbour_is_neither_stored_nor_served():
    net, nodes, parts = _line(3)
    _seed(parts[0])
    bad = bytearray(mv.IMAGE[PAGE:2 * PAGE])
    bad[3] ^= 0xFF
    parts[0].store._pages[1] = bytes(bad)      # n1's flash is corrupt: it serves a bad page
    net.run_until(30000)
    for p in parts[1:]:
        assert p.store.held() == 1, p.snapshot()     # stuck before the bad page, never past it
    assert ("ota", "page_bad", 100, 1) in net.kinds(nodes[1], "ota")
    assert not any(e[1] == "verified" for e in net.kinds(nodes[2], "ota"))


def test_operator_offers_are_checked_too():
    net, nodes, parts = _line(1)
    assert parts[0].offer_manifest(FORGED, 0) == "signature"
    assert parts[0].offer_manifest(V100[:-3], 0) == "malformed"
    assert parts[0].offer_manifest(V100, 0) is None
    assert parts[0].offer_page(1, mv.IMAGE[PAGE:2 * PAGE], 0) == "order"
    assert parts[0].offer_page(0, mv.IMAGE[1:PAGE + 1], 0) == "page"
    assert parts[0].offer_page(0, mv.IMAGE[:PAGE], 0) is None
    # a replay older than the bundle it holds is refused and changes nothing;
    # the same one again (a resumed offer) keeps the pages
    assert parts[0].offer_manifest(V50, 0) == "old"
    assert parts[0].offer_manifest(V100, 0) is None
    assert parts[0].version() == 100 and parts[0].store.held() == 1


def test_a_rebooted_node_resumes_from_the_pages_it_kept():
    net, nodes, parts = _line(1)
    store = parts[0].store
    _seed(parts[0])
    store._pages = store._pages[:5]                  # power cut after page 4
    again = ota.Ota(nodes[0], nodes[0].policy.parts, store, PUB, 1, 0)
    assert again.version() == 100 and again.held() == 5 and not again.complete()


def test_a_node_that_installed_the_bundle_keeps_serving_it():
    net, nodes, parts = _line(1)
    _seed(parts[0])
    running = ota.Ota(nodes[0], nodes[0].policy.parts, parts[0].store, PUB, 100, 0)
    assert running.version() == 100 and running.complete()
    newer = ota.Ota(nodes[0], nodes[0].policy.parts, parts[0].store, PUB, 101, 0)
    assert newer.manifest is None and newer.version() == 101 and newer.held() == 0


def test_a_resumed_manifest_is_checked_again():
    net, nodes, parts = _line(1)
    parts[0].store.start(FORGED)
    again = ota.Ota(nodes[0], nodes[0].policy.parts, parts[0].store, PUB, 1, 0)
    assert again.manifest is None and again.version() == 1


def test_hostile_frames_keep_state_bounded():
    net, nodes, parts = _line(1)
    p, node = parts[0], nodes[0]
    for i in range(2000):
        sender = bytes((2, 9, 0, 0, i >> 8, i & 0xFF))
        p.handle(sender, ota.decode(struct.pack("<BI8sHH", ota.K_ADV, 1000 + i, bytes(8), 3, 9)), i)
        head = b"NMOT\x01\xff\x3f"                   # claims a 16 KB body
        p.handle(sender, (ota.K_DATA, 1000 + i, ota.ITEM_MANIFEST, 0, 0, head + bytes(100)), i)
        p.handle(sender, (ota.K_DATA, 1000 + i, 7, 0, 0, bytes(100)), i)
        p.handle(sender, (ota.K_REQ, 1000 + i, node.id, i, 0, 0xFFFFFFFF), i)
    assert p.rx is None or p.rx.size <= ota.MAX_MANIFEST
    assert p.store.staged_size() <= ota.MAX_MANIFEST     # the staging is bounded too
    assert p.manifest is None and p.store.held() == 0
    assert len(p.answer.pending) <= ota.ANSWERS
    assert len(p.snapshot()) == 7


def test_malformed_frames_are_frame_errors():
    from mesh.wire import FrameError
    for payload in (b"", b"\x01", b"\x01" + bytes(10), b"\x02" + bytes(3), b"\x03" + bytes(9),
                    b"\x03" + bytes(ota.DATA_HEAD + ota.MAX_RUN * ota.CHUNK), b"\x09" + bytes(20)):
        try:
            ota.decode(payload)
        except FrameError:
            continue
        raise AssertionError(payload)
    assert split(V100)[0]


def test_page_chunks_arrive_in_any_order_and_the_request_names_the_missing():
    size = 3 * ota.CHUNK + 10
    rx = ota.Assembly(100, 2, size)
    data = bytes(i & 0xFF for i in range(size))
    chunks = [data[k * ota.CHUNK:(k + 1) * ota.CHUNK] for k in range(4)]
    rx.add(3, chunks[3])
    rx.add(1, chunks[1])
    rx.add(1, chunks[1][:5])                 # wrong length: ignored
    assert rx.want() == (0, 0b101) and not rx.complete()
    rx.add(0, chunks[0])
    rx.add(9, chunks[2])                     # beyond the page: ignored
    assert rx.want() == (2, 0b1)
    rx.add(2, chunks[2])
    assert rx.complete() and bytes(rx.buf) == data


def test_only_a_node_with_the_whole_bundle_is_quieted_by_an_equal_advert():
    # Neighbours stuck at the same page must not silence one another: their
    # adverts are how a node holding the whole bundle learns they are behind
    # (a line's far end waited for Trickle's maximum interval without this).
    net, nodes, parts = _line(1)
    store = parts[0].store
    _seed(parts[0])
    whole = parts[0]
    before = whole.trickle.count
    whole._on_adv(b"\x02" * 6, 100, whole.held(), whole.held(), 10)
    assert whole.trickle.count == before + 1                 # consistent: it may stay quiet
    store._pages = store._pages[:5]
    short = ota.Ota(nodes[0], nodes[0].policy.parts, store, PUB, 1, 0)
    before = short.trickle.count
    short._on_adv(b"\x02" * 6, 100, 5, len(mv.IMAGE) // PAGE + 1, 10)
    assert short.trickle.count == before                      # equal but short: not consistent
