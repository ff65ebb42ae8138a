# The one OTA item being received (mesh/ota_assembly.py) at its edges: pages
# whose size is a whole number of chunks or one byte over, chunks beyond the
# page or of the wrong length, a manifest that would grow past its size, and
# the request mask of a page longer than 32 chunks. Plain test functions: run
# under pytest and MicroPython.
from mesh.ota_assembly import CHUNK, ITEM_MANIFEST, Assembly


def _page(size):
    return bytes((i * 7) & 0xFF for i in range(size))


def _chunk(data, k):
    return data[k * CHUNK:(k + 1) * CHUNK]


def test_a_page_of_whole_chunks_completes_with_its_last_chunk_and_not_before():
    size = 2 * CHUNK
    data = _page(size)
    rx = Assembly(5, 0, size)
    rx.add(0, _chunk(data, 0))
    assert not rx.complete() and rx.want() == (1, 0b1)
    rx.add(1, _chunk(data, 1))
    assert rx.complete() and bytes(rx.buf) == data
    assert rx.want() == (2, 0)          # nothing missing: no chunk named


def test_a_page_one_byte_over_whole_chunks_waits_for_its_one_byte_chunk():
    size = 2 * CHUNK + 1
    data = _page(size)
    rx = Assembly(5, 0, size)
    rx.add(0, _chunk(data, 0))
    rx.add(1, _chunk(data, 1))
    assert not rx.complete() and rx.want() == (2, 0b1)
    rx.add(2, data[-1:])
    assert rx.complete() and bytes(rx.buf) == data


def test_a_chunk_just_past_the_page_is_ignored_even_when_empty():
    rx = Assembly(5, 0, 2 * CHUNK)
    rx.add(2, b"")                      # offset == size: the length check alone would pass
    rx.add(2, b"x")
    assert not rx.complete() and rx.want() == (0, 0b11)


def test_a_chunk_of_the_wrong_length_is_ignored():
    size = CHUNK + 10
    data = _page(size)
    rx = Assembly(5, 0, size)
    rx.add(0, _chunk(data, 0)[:-1])
    rx.add(1, data[CHUNK:] + b"!")
    assert rx.want() == (0, 0b11) and bytes(rx.buf) == bytes(size)
    rx.add(1, data[CHUNK:])
    assert rx.want() == (0, 0b1)


def test_the_request_names_the_first_missing_chunk_after_held_ones():
    size = 5 * CHUNK
    data = _page(size)
    rx = Assembly(5, 0, size)
    for k in (0, 2, 4):
        rx.add(k, _chunk(data, k))
    assert rx.want() == (1, 0b101)
    rx.add(1, _chunk(data, 1))
    assert rx.want() == (3, 0b1)


def test_the_request_mask_covers_exactly_32_chunks_of_a_longer_page():
    rx = Assembly(5, 0, 40 * CHUNK)
    assert rx.want() == (0, 0xFFFFFFFF)
    data = _page(40 * CHUNK)
    for k in range(8):
        rx.add(k, _chunk(data, k))
    assert rx.want() == (8, 0xFFFFFFFF)
    for k in range(8, 39):
        rx.add(k, _chunk(data, k))
    assert rx.want() == (39, 0b1)


def test_a_manifest_takes_its_head_chunk_first_then_any_order_once_sized():
    blob = _page(3 * CHUNK + 40)
    rx = Assembly(5, ITEM_MANIFEST, 20000)
    rx.add(1, _chunk(blob, 1))          # before the head: its size is unknown, ignored
    assert len(rx.buf) == 0 and rx.want() == (0, 0xFFFFFFFF) and rx.in_order
    small = Assembly(5, ITEM_MANIFEST, 10)
    small.add(0, bytes(11))             # longer than the most a manifest may be: refused
    assert len(small.buf) == 0 and not small.complete()
    rx.add(0, _chunk(blob, 0))
    rx.add(0, _chunk(blob, 0))          # a repeat does not grow it
    assert bytes(rx.buf) == _chunk(blob, 0) and not rx.complete()
    rx.sized(len(blob))                 # Ota._sized read the size from the head
    assert not rx.in_order and rx.want() == (1, 0b111) and len(rx.buf) == len(blob)
    rx.add(3, blob[3 * CHUNK:] + b"!")  # one byte past the manifest's size: refused
    rx.add(3, blob[3 * CHUNK:])
    assert rx.want() == (1, 0b11) and not rx.complete()
    rx.add(2, _chunk(blob, 2))
    rx.add(1, _chunk(blob, 1))
    assert rx.complete() and bytes(rx.buf) == blob


def test_a_short_head_chunk_is_asked_for_again_once_sized():
    blob = _page(2 * CHUNK)
    rx = Assembly(5, ITEM_MANIFEST, 20000)
    rx.add(0, blob[:CHUNK - 1])         # a head that is not a whole chunk
    rx.sized(len(blob))
    assert rx.want() == (0, 0b11)
    rx.add(0, _chunk(blob, 0))
    rx.add(1, _chunk(blob, 1))
    assert rx.complete() and bytes(rx.buf) == blob


def test_a_window_asks_for_what_the_page_misses_then_for_the_next_page():
    from mesh.ota_assembly import window
    data = _page(3 * CHUNK)
    rx = Assembly(5, 0, 3 * CHUNK)
    rx.add(0, _chunk(data, 0))
    rx.add(2, _chunk(data, 2))
    first, mask = rx.want()
    assert (first, mask) == (1, 0b1)
    assert window(first, mask, rx, None, 2 * CHUNK) == 0b1101           # all of the next page
    ahead = Assembly(5, 1, 2 * CHUNK)
    ahead.add(0, _chunk(data, 0))
    assert window(first, mask, rx, ahead, 2 * CHUNK) == 0b1001          # but what came early
    assert window(0, 0b1, Assembly(5, 0, 40 * CHUNK), None, 2 * CHUNK) == 0b1   # past 32 chunks: none


def test_a_manifest_with_a_store_goes_to_its_staging_not_to_ram():
    from mesh.ota_store import MemoryPageStore
    blob = _page(3 * CHUNK + 40)
    store = MemoryPageStore()
    rx = Assembly(5, ITEM_MANIFEST, 20000, store)
    rx.add(0, _chunk(blob, 0))
    rx.sized(len(blob))                 # the head chunk goes to the staging too
    assert store.staged_size() == len(blob) and store.read_staged(0, CHUNK) == _chunk(blob, 0)
    rx.add(3, blob[3 * CHUNK:] + b"!")  # past its size: refused
    for k in (3, 2, 1):
        rx.add(k, _chunk(blob, k))
    assert rx.complete() and store.read_staged(0, len(blob)) == blob
    assert len(rx.buf) == CHUNK         # RAM: the head chunk, and a byte per chunk
