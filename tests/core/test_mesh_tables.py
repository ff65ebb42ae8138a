# The core's bounded tables through their own interfaces: the readings store
# (read like a dict by the port and the simulator) and the route table's
# eviction. Plain test functions: pytest and MicroPython.
from mesh.neighbours import NeighbourTable
from mesh.routes import RouteTable
from mesh.store import ReadingStore
from mesh.wire import Reading, encode_reading
from meshhelp import node_id


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
