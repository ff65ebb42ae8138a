# Boundaries of the core, each tested at the limit and one past it: the
# largest reading publish accepts, the feasibility distance, fragment sizes.
# Plain test functions: run under pytest and under MicroPython.
from mesh import frames, wire
from mesh.fragments import Reassembly, split
from mesh.frames import FRAG_MAX, MAX_BODY, MAX_READING
from mesh.neighbours import NeighbourTable
from mesh.routes import INFINITY, RouteTable
from meshhelp import Net, make_node, node_id

# An encoded reading: 15-byte header, then one custom value of
# 2 + len(name) + 1 + len(unit) + 4 bytes.
_READING_FIXED = 15 + 7


def _values_of_size(encoded_len):
    """One custom value making the encoded reading exactly encoded_len bytes."""
    return [("x" * (encoded_len - _READING_FIXED), 1.5, "")]


def test_the_reading_limit_is_the_readings_frame_minus_its_framing():
    # count byte + reading + hop byte + metric byte = one whole payload
    assert 1 + MAX_READING + frames.ITEM_EXTRA == wire.MAX_PAYLOAD
    assert frames.item_size(b"x" * MAX_READING) == MAX_READING + frames.ITEM_EXTRA


def test_publish_accepts_the_largest_reading_and_refuses_one_byte_more():
    a = make_node(1)
    before = a.snapshot()
    try:
        a.publish(_values_of_size(MAX_READING + 1), 10)
        assert False, "a reading one byte over the limit was accepted"
    except ValueError:
        pass
    assert a.snapshot() == before                       # refused before any change
    out = a.publish(_values_of_size(MAX_READING), 10)
    assert len(out) == 1 and len(out[0][1]) == wire.MAX_FRAME   # the frame is full, not over
    assert len(a.readings.raw[a.id]) == MAX_READING


def test_the_largest_reading_survives_a_full_sync_both_ways():
    # Before the fix a 224-byte reading was stored, then every push_all raised.
    a, b, c = make_node(1), make_node(2), make_node(3)
    net = Net([a, b, c], [(a, b), (b, c)])
    net.run_until(3000)
    net.deliver(a, a.publish(_values_of_size(MAX_READING), net.now))
    net.deliver(c, c.publish([("temp", 20.0, "C")], net.now))
    net.run_until(net.now + 3000)
    assert len(b.readings.raw[a.id]) == MAX_READING
    # a full sync from b carries a's full-size reading and c's small one
    pushed = b.policy.push_all(c.id)
    assert pushed and max([len(f) for _d, f in pushed]) <= wire.MAX_FRAME
    fresh = make_node(4)
    for _dst, frame in pushed:
        fresh.receive(frame, b.id, -50, net.now)
    assert fresh.readings.key_of(a.id) == a.readings.key_of(a.id)
    assert fresh.readings.key_of(c.id) == c.readings.key_of(c.id)
    assert fresh.stats["rejected"] == {}


def _two_neighbours():
    d, n1, n2 = node_id(9), node_id(1), node_id(2)
    nbrs = NeighbourTable(8, 10000, lambda e: None)
    nbrs.heard(n1, -50, 0)
    nbrs.heard(n2, -50, 0)
    return d, n1, n2, nbrs, RouteTable(8, nbrs)


def test_an_update_equal_to_the_feasibility_distance_is_refused():
    # RFC 8966 3.5.1: feasible only if the advertised metric is strictly
    # below the FD. Equal is refused, whatever it would cost through us.
    d, n1, n2, _nbrs, t = _two_neighbours()
    assert t.update(d, 1, 5, 16, n1, 8)                 # FD (5, 24)
    assert not t.update(d, 1, 5, 24, n2, 1)             # adv 24 == FD 24, would cost 25
    assert t.get(d) == (n1, 24)
    assert not t.update(d, 1, 5, 23, n2, 1)             # feasible, but 24 is no better: kept
    assert t.get(d) == (n1, 24)
    assert t.update(d, 1, 5, 22, n2, 1)                 # feasible and better: switched
    assert t.get(d) == (n2, 23)


def test_an_update_equal_to_the_feasibility_distance_is_refused_after_a_withdrawal():
    d, n1, n2, nbrs, t = _two_neighbours()
    assert t.update(d, 1, 5, 16, n1, 8)                 # FD (5, 24) via n1
    t.drop_via(nbrs.get(n1).slot)                       # n1 gone: withdrawn, FD kept
    assert t.get(d) is None
    assert not t.update(d, 1, 5, 24, n2, 8)             # equal to FD: still refused
    assert t.get(d) is None and t.advertised(d, 1, 5) == INFINITY
    assert not t.update(d, 1, 5, 24, n1, 8)             # from the old next hop too
    assert t.get(d) is None
    assert t.update(d, 1, 5, 23, n2, 8)                 # strictly below: feasible
    assert t.get(d) == (n2, 31)
    assert t.update(d, 1, 6, 200, n1, 8)                # a newer seqno resets the FD
    assert t.get(d) == (n1, 208)


def test_fragmentation_at_its_limits():
    largest = FRAG_MAX * MAX_BODY
    parts = split(b"y" * largest)                       # the exact maximum is accepted
    assert len(parts) == FRAG_MAX and [len(p) for _f, p in parts] == [MAX_BODY] * FRAG_MAX
    assert parts[-1][0] == ((FRAG_MAX - 1) << 4) | (FRAG_MAX - 1)
    r = Reassembly(2, 1000, lambda name: None)
    got = None
    for frag, piece in reversed(parts):
        got = r.add(b"k", frag, piece, 0)
    assert got == b"y" * largest and len(r) == 0
    try:
        split(b"y" * (largest + 1))
        assert False, "one byte over the fragment limit was accepted"
    except ValueError:
        pass
    assert split(b"") == [(0, b"")]                     # the empty body: one empty packet
    assert r.add(b"e", 0, b"", 0) == b""
    assert [len(p) for _f, p in split(b"z" * (MAX_BODY + 1))] == [MAX_BODY, 1]
    assert [len(p) for _f, p in split(b"z" * MAX_BODY)] == [MAX_BODY]


def test_an_empty_request_travels_and_is_delivered():
    a, b = make_node(1), make_node(2)
    net = Net([a, b], [(a, b)])
    net.run_until(3000)
    req_id, out = a.request(b.id, b"", net.now)
    net.deliver(a, out)
    assert net.kinds(b, "request") == [("request", a.id, req_id, b"")]
