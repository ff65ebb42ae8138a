# The board's OTA page store (meshport/ota_port.py, docs/ota.md) on a real
# filesystem: each page written atomically as it arrives, what a power cut
# leaves (a temporary file, a gap, a short or flipped page, a bad manifest)
# discarded at boot, a reboot resuming from the good pages, and no page kept
# in RAM. Runs under micropython (make test-upy) and CPython
# (tests/ota/test_ota_port_cpython.py runs this module).
import gc
import os
import sys

for _folder in ("tests/core", "tests"):
    if _folder not in sys.path:
        sys.path.append(_folder)

from mesh.ota_store import MemoryPageStore  # noqa: E402
from meshhelp import make_node  # noqa: E402
from meshport import ota_port  # noqa: E402
import ota_lms_vectors as lv  # noqa: E402
import ota_manifest_vectors as mv  # noqa: E402

PUB_HEX = lv.PUBLIC_KEY_HEX
V100 = bytes.fromhex("".join(mv.V100_HEX))
FORGED = bytes.fromhex("".join(mv.FORGED_HEX))
PAGE = 64
PAGES = [mv.IMAGE[i:i + PAGE] for i in range(0, len(mv.IMAGE), PAGE)]
_count = [0]


def _rmtree(path):
    for name in os.listdir(path):
        full = path + "/" + name
        if os.stat(full)[0] & 0x4000:
            _rmtree(full)
        else:
            os.remove(full)
    os.rmdir(path)


def _fresh_dir():
    """A new empty folder (the board's flash): ota/ goes inside."""
    _count[0] += 1
    path = "/tmp/nm-otaport-%d-%d" % (os.getpid() if hasattr(os, "getpid") else 0, _count[0])
    try:
        _rmtree(path)
    except OSError:
        pass
    os.mkdir(path)
    return path


def _listing(root):
    names = os.listdir(root)
    names.sort()
    return names


def _write(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _seeded(root, pages=len(PAGES)):
    """A store holding V100's manifest and its first `pages` pages."""
    store = ota_port.FlashPageStore(root + "/ota")
    store.start(V100)
    for data in PAGES[:pages]:
        store.append(data)
    return store


def _attach(root):
    cwd = os.getcwd()
    os.chdir(root)                        # the board's running.json is relative to its root
    try:
        return ota_port.attach(make_node(1), PUB_HEX, 0, root + "/ota")
    finally:
        os.chdir(cwd)


def test_pages_are_written_whole_and_a_reboot_resumes_from_them():
    root = _fresh_dir()
    _seeded(root, 5)
    assert _listing(root + "/ota") == ["manifest", "p0", "p1", "p2", "p3", "p4"]
    again = ota_port.FlashPageStore(root + "/ota")
    assert again.held() == 5 and again.read_manifest(0, 99999) == V100
    assert again.read(3, 10, 20) == PAGES[3][10:30]
    part = _attach(root)
    assert part.version() == 100 and part.held() == 5 and not part.complete()


def test_a_write_cut_short_leaves_a_temporary_file_that_boot_removes():
    root = _fresh_dir()
    _seeded(root, 3)
    _write(root + "/ota/p3.tmp", PAGES[3][:10])       # the cut came during the write
    _write(root + "/ota/manifest.tmp", V100[:50])
    store = ota_port.FlashPageStore(root + "/ota")
    assert store.held() == 3
    assert _listing(root + "/ota") == ["manifest", "p0", "p1", "p2"]


def test_pages_after_a_gap_are_discarded():
    root = _fresh_dir()
    _seeded(root, 6)
    os.remove(root + "/ota/p2")
    store = ota_port.FlashPageStore(root + "/ota")
    assert store.held() == 2
    assert _listing(root + "/ota") == ["manifest", "p0", "p1"]


def test_a_flipped_or_short_page_and_the_ones_after_it_are_dropped_at_boot():
    for bad in (PAGES[3][:-1], b"X" + PAGES[3][1:]):
        root = _fresh_dir()
        _seeded(root, 6)
        _write(root + "/ota/p3", bad)
        part = _attach(root)
        assert part.held() == 3 and part.version() == 100
        assert _listing(root + "/ota") == ["manifest", "p0", "p1", "p2"]


def test_pages_under_a_corrupt_or_forged_manifest_are_all_dropped():
    for blob in (V100[:-1], FORGED, b"garbage"):
        root = _fresh_dir()
        _seeded(root, 4)
        _write(root + "/ota/manifest", blob)
        part = _attach(root)
        assert part.manifest is None and part.held() == 0 and part.version() == 0
        assert _listing(root + "/ota") == ["manifest"]


def test_a_new_bundle_replaces_the_old_pages():
    root = _fresh_dir()
    store = _seeded(root, 4)
    store.start(FORGED)
    assert store.held() == 0 and store.read_manifest(0, 99999) == FORGED
    assert _listing(root + "/ota") == ["manifest"]


def test_the_complete_bundle_from_the_operator_is_held_and_verified_on_flash():
    root = _fresh_dir()
    part = _attach(root)
    assert part.version() == 0 and part.manifest is None
    assert part.offer_manifest(V100, 0) is None
    for index, data in enumerate(PAGES):
        assert part.offer_page(index, data, 0) is None
    assert part.complete()
    again = _attach(root)
    assert again.complete() and again.version() == 100
    image = b"".join(again.store.read(i, 0, PAGE) for i in range(again.held()))
    assert image == mv.IMAGE


def test_no_ota_key_no_part():
    assert ota_port.attach(make_node(1), "", 0, _fresh_dir() + "/ota") is None


def _allocated():
    gc.collect()
    if hasattr(gc, "mem_alloc"):
        return gc.mem_alloc()
    import tracemalloc
    return tracemalloc.get_traced_memory()[0]


def test_pages_go_to_flash_not_to_the_heap():
    # the store keeps a count, not the pages: 40 KB through it leaves the
    # heap where it was, while a RAM store grows by every page
    tracing = not hasattr(gc, "mem_alloc")
    if tracing:
        import tracemalloc
        tracemalloc.start()
    try:
        root = _fresh_dir()
        flash, ram = ota_port.FlashPageStore(root + "/ota"), MemoryPageStore()
        flash.start(V100)
        ram.start(V100)
        page = bytearray(bytes(range(256)) * 4)    # a RAM store copies it, as from the radio
        grown = []
        for store in (flash, ram):
            before = _allocated()
            for _ in range(40):
                store.append(page)
            grown.append(_allocated() - before)
    finally:
        if tracing:
            tracemalloc.stop()
    assert flash.held() == 40 and ram.held() == 40
    assert grown[0] < 1024 <= 40 * 1024 <= grown[1]


def _pieces(blob, size=288):
    import binascii
    for offset in range(0, len(blob), size):
        yield {"item": "manifest", "size": len(blob), "offset": offset,
               "data": binascii.b2a_base64(blob[offset:offset + size]).decode().strip()}


def test_the_operators_manifest_is_assembled_on_flash_and_checked_from_there():
    root = _fresh_dir()
    part = _attach(root)
    pieces = list(_pieces(V100))
    for args in pieces[:-1]:
        ota_port.put(part, args, 0)
        assert getattr(part, "upload")[1] is None        # no buffer in RAM for it
    got = _read(root + "/ota/staged")
    last = pieces[-1]["offset"]
    assert got[:last] == V100[:last] and len(got) == len(V100)      # the rest comes with the last piece
    assert ota_port.put(part, pieces[-1], 0) == [100, mv_bundle(), 0, len(PAGES)]
    assert _listing(root + "/ota") == ["manifest"] and _read(root + "/ota/manifest") == V100
    # a forged one is staged, refused, and leaves the held manifest as it was
    for args in list(_pieces(FORGED))[:-1]:
        ota_port.put(part, args, 0)
    try:
        ota_port.put(part, list(_pieces(FORGED))[-1], 0)
        raise AssertionError("a forged manifest was taken")
    except ota_port.CommandRefused as exc:
        assert str(exc) == "refused: signature"
    assert _read(root + "/ota/manifest") == V100 and part.version() == 100


def test_a_manifest_piece_out_of_order_is_refused_and_nothing_adopted():
    root = _fresh_dir()
    part = _attach(root)
    pieces = list(_pieces(V100))
    ota_port.put(part, pieces[0], 0)
    try:
        ota_port.put(part, pieces[2], 0)
        raise AssertionError("accepted")
    except ota_port.CommandRefused as exc:
        assert "out of order" in str(exc)
    assert part.manifest is None and "manifest" not in _listing(root + "/ota")


def _read(path):
    with open(path, "rb") as f:
        return f.read()


def mv_bundle():
    from mesh.ota_manifest import accept
    return accept(bytes.fromhex(PUB_HEX), V100, 0).bundle
