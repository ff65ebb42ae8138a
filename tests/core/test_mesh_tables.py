# The core's bounded tables through their own interfaces: the readings store
# (read like a dict by the port and the simulator) and the route table's
# eviction. Plain test functions: pytest and MicroPython.
from mesh.dedup import DupCache
from mesh.fragments import Reassembly, split
from mesh.frames import FRAG_MAX, MAX_BODY
from mesh.neighbours import NeighbourTable
from mesh.routes import RouteTable
from mesh.store import ReadingStore
from mesh.wire import Reading, encode_reading
from meshhelp import make_node, node_id


def _reading(i, seq):
    return Reading(node_id(i), 1, seq, 100 * seq, [("temp", float(i), "C")])


def test_the_store_reads_like_a_dict_of_readings():
    s = ReadingStore()
    assert len(s) == 0 and list(s) == [] and s.get(node_id(1)) is None and s.get(node_id(1), 7) == 7
    for i in (1, 2):
        s.put(node_id(i), encode_reading(_reading(i, 3)))
    assert sorted(s) == [node_id(1), node_id(2)] and sorted(s.keys()) == sorted(s)
    assert s.get(node_id(2)) == _reading(2, 3) and s[node_id(1)] == _reading(1, 3)
    assert sorted([r.origin for r in s.values()]) == [node_id(1), node_id(2)]
    assert dict(s.items())[node_id(2)] == _reading(2, 3)
    assert node_id(1) in s and node_id(3) not in s and s.key_of(node_id(1)) == (1, 3)
    assert s.pop(node_id(1)) == encode_reading(_reading(1, 3)) and node_id(1) not in s
    assert s.pop(node_id(1)) is None and s.key_of(node_id(1)) is None


def test_the_store_keeps_one_id_object_per_origin():
    s = ReadingStore()
    first = bytes(node_id(4))
    s.put(first, encode_reading(_reading(4, 1)))
    again = bytes(node_id(4))
    s.put(again, encode_reading(_reading(4, 2)))
    assert s.canonical(again) is first and s.canonical(node_id(9)) == node_id(9)
    s.pop(again)
    assert s.canonical(again) is again               # forgotten with its reading


def _routes(size):
    nbrs = NeighbourTable(8, 100000, lambda e: None)
    for i in (1, 2):
        nbrs.heard(node_id(i), -50, 0)
    return nbrs, RouteTable(size, nbrs)


def test_a_full_route_table_evicts_a_withdrawn_route_first():
    nbrs, t = _routes(3)
    t.update(node_id(20), 1, 1, 8, node_id(1), 8)
    t.update(node_id(21), 1, 1, 8, node_id(2), 8)
    t.update(node_id(22), 1, 1, 8, node_id(1), 8)
    t.drop_via(nbrs.get(node_id(2)).slot)           # the route to 21 is withdrawn
    assert t.update(node_id(23), 1, 1, 8, node_id(1), 8)
    assert len(t) == 3 and node_id(21) not in t.table
    for dst in (20, 22, 23):
        assert t.get(node_id(dst)) == (node_id(1), 16)


def test_a_full_route_table_without_withdrawn_routes_still_takes_a_new_one():
    _nbrs, t = _routes(2)
    t.update(node_id(20), 1, 1, 8, node_id(1), 8)
    t.update(node_id(21), 1, 1, 8, node_id(2), 8)
    assert t.update(node_id(22), 1, 1, 8, node_id(2), 8)
    assert len(t) == 2 and t.get(node_id(22)) == (node_id(2), 16)


def test_dup_entries_expire_at_exactly_their_ttl_and_make_room():
    d = DupCache(3, ttl_ms=100)
    d.add(b"a", 0)
    d.add(b"b", 0)
    d.add(b"c", 50)
    assert not d.seen(b"a", 100) and d.seen(b"c", 100)      # 100 ms old: expired
    d.add(b"d", 100)                                        # full: both expired ones go
    assert len(d) == 2 and b"a" not in d and b"b" not in d and b"c" in d


def test_dup_adding_a_held_key_again_evicts_nothing():
    d = DupCache(3, ttl_ms=1000)
    for i, k in enumerate((b"a", b"b", b"c")):
        d.add(k, i)
    d.add(b"b", 10)                                         # refreshed, not new
    assert len(d) == 3 and b"a" in d and d.seen(b"b", 1005)


def test_reassembly_drops_the_message_begun_first():
    for first, second in (((1000, 0x01), (2000, 0x0F)), ((2000, 0x0F), (1000, 0x01))):
        r = Reassembly(2, 100000, lambda name: None)
        r.add(b"x", first[1], b"1", first[0])               # (started at, fragment 0 of n)
        r.add(b"y", second[1], b"2", second[0])
        r.add(b"z", 0x01, b"3", 3000)                       # a third: the oldest goes
        older = b"x" if first[0] < second[0] else b"y"
        assert older not in [s[0] for s in r.snapshot()] and len(r) == 2, (first, second)


def test_reassembly_state_shows_in_its_snapshot():
    def one(key, frag, piece, t):
        r = Reassembly(2, 1000, lambda name: None)
        r.add(key, frag, piece, t)
        return r.snapshot()
    base = one(b"k", 0x01, b"a", 0)
    for other in (one(b"k", 0x01, b"a", 5), one(b"k", 0x02, b"a", 0), one(b"k", 0x01, b"b", 0),
                  one(b"k", 0x11, b"a", 0), one(b"j", 0x01, b"a", 0)):
        assert other != base
    assert one(b"k", 0x01, b"a", 0) == base


def test_dropping_an_unknown_neighbour_changes_nothing():
    events = []
    t = NeighbourTable(4, 100000, events.append)
    t.heard(node_id(1), -50, 0)
    t.drop(node_id(2))
    assert len(t) == 1 and events == [("neighbour", node_id(1), "up")]


def test_a_slot_freed_by_a_neighbour_carries_none_of_its_routes():
    # routes name next hops by slot: a newcomer in a dead neighbour's slot
    # must not inherit the routes that went through it
    a = make_node(1, neighbours_max=2)
    a.neighbours.heard(node_id(2), -50, 0)
    a.neighbours.heard(node_id(3), -50, 0)
    routes = a.policy.routes
    routes.update(node_id(9), 1, 1, 8, node_id(2), 8)
    old_slot = a.neighbours.get(node_id(2)).slot
    a.neighbours.drop(node_id(2))
    a.neighbours.heard(node_id(4), -50, 10)
    assert a.neighbours.get(node_id(4)).slot == old_slot      # slots are reused: they stay small
    assert routes.get(node_id(9)) is None and a.route_list() == []


def test_fragmenting_too_long_a_body_says_the_limit():
    try:
        split(b"z" * (FRAG_MAX * MAX_BODY + 1))
        assert False
    except ValueError as e:
        assert str(e) == "body too long (max %d bytes)" % (FRAG_MAX * MAX_BODY) and "3328" in str(e)


def test_reassembly_acts_at_the_deadline_it_announces():
    counted = []
    r = Reassembly(4, 1000, counted.append)
    assert r.next_deadline() is None
    r.add(b"a", 0x01, b"1", 500)
    r.add(b"b", 0x0F, b"2", 700)
    assert r.next_deadline() == 1500                 # the first message's start + timeout
    r.expire(1499)
    assert len(r) == 2
    r.expire(r.next_deadline())                      # at exactly the deadline it goes
    assert len(r) == 1 and counted == ["frag_timeout"] and r.next_deadline() == 1700


def test_forgetting_a_destination_drops_its_route():
    _nbrs, t = _routes(4)
    t.update(node_id(20), 1, 1, 8, node_id(1), 8)
    t.update(node_id(21), 1, 1, 8, node_id(1), 8)
    t.forget(node_id(20))
    t.forget(node_id(99))                            # unknown: nothing happens
    assert len(t) == 1 and t.get(node_id(20)) is None and t.get(node_id(21)) is not None
