# The duplicate cache: bounds, expiry, and a table that never grows after
# construction (a board's fragmented heap may not have the block a growing
# dict asks for). Plain test functions: run under pytest and MicroPython.
import gc

from mesh.dedup import DupCache, presized_dict


def _keys(n):
    return [bytes((i & 0xFF, i >> 8)) * 8 for i in range(n)]


def test_bounded_oldest_evicted_and_entries_expire():
    d = DupCache(4, ttl_ms=1000)
    keys = _keys(6)
    for t, k in enumerate(keys[:5]):
        d.add(k, t)
    assert len(d) == 4 and keys[0] not in d and d.seen(keys[4], 10)
    assert not d.seen(keys[4], 1004)            # expired, though still held
    d.add(keys[5], 2000)                        # full: expired entries purged first
    assert len(d) == 1 and d.seen(keys[5], 2000)


def test_presized_dict_is_empty_and_usable():
    d = presized_dict(10)
    assert len(d) == 0 and d == {}
    d[b"k"] = 1
    assert d == {b"k": 1}


def test_filling_and_churning_the_cache_allocates_no_table():
    mem_alloc = getattr(gc, "mem_alloc", None)
    d = DupCache(128, ttl_ms=10 ** 9)
    keys = _keys(1000)                          # made beforehand: only the table counts
    gc.collect()
    before = mem_alloc() if mem_alloc else 0
    for t, k in enumerate(keys):
        d.add(k, t)
    gc.collect()
    grown = (mem_alloc() - before) if mem_alloc else 0
    assert len(d) == 128 and d.seen(keys[-1], 1000) and not d.seen(keys[0], 1000)
    # A dict growing to 128 keys allocates a ~2.7 KB table (64-bit MicroPython);
    # CPython has no mem_alloc, so only the bound is checked there.
    assert grown < 256, grown
