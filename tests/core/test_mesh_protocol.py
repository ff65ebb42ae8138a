# The mesh protocol policy (mesh.py and friends) on hand-wired topologies.
# Plain test functions: run under pytest and under MicroPython.
from mesh import crypto, frames, wire
import legacy_flood
from mesh.fragments import Reassembly, split
from mesh.frames import MAX_BODY
from mesh.neighbours import NeighbourTable
from mesh.relays import must_forward
from mesh.routes import INFINITY, RouteTable
from mesh.wire import Reading
from meshhelp import KEY, Net, make_node, node_id


def _line(n, **cfg):
    nodes = [make_node(i + 1, **cfg) for i in range(n)]
    return nodes, Net(nodes, [(nodes[i], nodes[i + 1]) for i in range(n - 1)])


def _publish_all(net, nodes, t):
    for n in nodes:
        net.deliver(n, n.publish([("temp", float(t), "C")], net.now))


def test_frames_round_trip():
    ids = [node_id(i) for i in range(3)]
    p = frames.encode_hello("kitchen", 1, 42, [(ids[0], 100, True), (ids[1], 5, False)])
    assert frames.decode_hello(p) == ("kitchen", 1, 42, [(ids[0], 100, True), (ids[1], 5, False)])
    p = frames.encode_pull(0, [(ids[2], 3, 9)])
    assert frames.decode_pull(p) == (0, None, [(ids[2], 3, 9)])
    p = frames.encode_pull(1, [], ids[1])
    assert frames.decode_pull(p) == (1, ids[1], [])
    p = frames.encode_routed(0x11, ids[0], ids[1], 7, 2, 9, 0x01, b"abc")
    assert frames.decode_routed(p) == [0x11, ids[0], ids[1], 7, 2, 9, 0x01, b"abc"]
    for bad in (p[:10], b"\xff" + p[1:], p[:15] + b"\x09\x09" + p[17:], p[:17] + b"\x21" + p[18:]):
        try:
            frames.decode_routed(bad)
            assert False, bad
        except wire.FrameError as e:
            assert e.reason == "malformed"
    for bad in (b"", b"\x01", bytes(7) + b"\x02" + bytes(10), b"\x07" + bytes(7)):
        try:
            frames.decode_pull(bad)
            assert False, bad
        except wire.FrameError:
            pass


def _ranked(*pairs):
    """-> rank(id) over (node number, rank) pairs; us (node 1) at 5."""
    ranks = {node_id(1): 5}
    for i, r in pairs:
        ranks[node_id(i)] = r
    return ranks.get


def test_a_node_between_two_that_cannot_hear_each_other_relays():
    me, b, c = node_id(1), node_id(2), node_id(3)
    rank = _ranked((2, 1), (3, 9))
    # b -- me -- c on a line: nothing else links them
    assert must_forward(me, [(b, (me,)), (c, (me,))], rank)
    # a leaf (one neighbour) and a node whose neighbours all hear each other never relay
    assert not must_forward(me, [(b, (me,))], rank)
    assert not must_forward(me, [(b, (c,)), (c, (b,))], rank)
    assert not must_forward(me, [], rank)


def test_only_higher_ranked_nodes_may_link_two_neighbours_for_us():
    me, b, c, d, e = node_id(1), node_id(2), node_id(3), node_id(4), node_id(5)
    # b and c are linked through our neighbour d (b - d - c); whether that
    # excuses us depends on d's rank (of us and d, one relays)
    members = [(b, (d,)), (c, (d,)), (d, (b, c))]
    assert not must_forward(me, members, _ranked((2, 1), (3, 2), (4, 7)))
    assert must_forward(me, members, _ranked((2, 1), (3, 2), (4, 3)))
    # a link heard by only one of its ends counts (either hello may list it)
    assert not must_forward(me, [(b, (d,)), (c, ()), (d, (c,))], _ranked((2, 1), (3, 2), (4, 7)))
    # a chain of higher-ranked neighbours: b - d - e - c
    chain = [(b, (d,)), (c, (e,)), (d, (e,)), (e, ())]
    assert not must_forward(me, chain, _ranked((2, 1), (3, 2), (4, 7), (5, 8)))
    assert must_forward(me, chain, _ranked((2, 1), (3, 2), (4, 7), (5, 4)))   # e ranks below us
    # only through our own neighbours: a node two hops away (x, the far
    # corner of a square whose sides are b and c) links nothing for us
    x = node_id(9)
    assert must_forward(me, [(b, (x,)), (c, (x,))], _ranked((2, 1), (3, 2), (9, 8)))


def test_routes_feasibility_condition():
    d, n1, n2 = node_id(9), node_id(1), node_id(2)
    nbrs = NeighbourTable(8, 10000, lambda e: None)
    nbrs.heard(n1, -50, 0)
    nbrs.heard(n2, -50, 0)
    t = RouteTable(8, nbrs)
    assert t.update(d, 1, 5, 16, n1, 8)            # metric 24 via n1, FD (5, 24)
    assert t.get(d) == (n1, 24)
    assert not t.update(d, 1, 5, 24, n2, 8)        # same seqno, adv 24 >= FD 24: unfeasible
    assert t.update(d, 1, 5, 8, n2, 8)             # adv 8 < FD: feasible and better
    assert t.get(d) == (n2, 16)
    assert not t.update(d, 1, 5, 40, n2, 8)        # current next hop turns unfeasible: withdrawn
    assert t.get(d) is None and t.advertised(d, 1, 5) == INFINITY
    assert t.update(d, 1, 6, 100, n1, 8)           # newer seqno: always feasible
    assert t.get(d) == (n1, 108)
    assert t.advertised(d, 1, 6) == 108 and t.advertised(d, 1, 7) == INFINITY
    t.drop_via(nbrs.get(n1).slot)
    assert t.get(d) is None and t.advertised(d, 1, 6) == INFINITY


def test_readings_converge_on_a_line_with_few_relays():
    nodes, net = _line(6, beacon_ms=2000)
    net.run_until(20000)                            # hellos: everyone knows its two-hop set
    for n in nodes[1:-1]:
        assert n.policy.relays, n.name              # inner nodes relay: nothing else links their neighbours
    assert not nodes[0].policy.relays and not nodes[-1].policy.relays
    for k in range(3):
        _publish_all(net, nodes, k)
        net.run_until(net.now + 3000)
    for n in nodes:
        assert len(n.readings) == 6, (n.name, len(n.readings))
        for m in nodes:
            assert n.readings[m.id].seq == 3


def test_unicast_over_six_hops_with_routes_from_readings():
    nodes, net = _line(7, beacon_ms=2000)
    net.run_until(8000)                 # links admitted (three frames each way), hellos say so
    _publish_all(net, nodes, 1)
    net.run_until(net.now + 3000)
    a, g = nodes[0], nodes[6]
    assert a.policy.routes.get(g.id)[0] == nodes[1].id
    req_id, out = a.request(g.id, b"ping", net.now)
    assert out[0][0] == nodes[1].id              # unicast to the next hop (mac = id in Net)
    net.deliver(a, out)
    net.run_until(net.now + 500)
    assert net.kinds(a, "reply") == [("reply", req_id, g.id, b"pong", 6)]


def test_large_request_is_fragmented_and_reassembled():
    nodes, net = _line(3, beacon_ms=2000)
    net.run_until(8000)                 # links admitted (three frames each way), hellos say so
    _publish_all(net, nodes, 1)
    net.run_until(net.now + 3000)
    a, c = nodes[0], nodes[2]
    body = bytes([i & 0xFF for i in range(1000)])
    req_id, out = a.request(c.id, body, net.now)
    assert len(out) == 5                            # 1000 bytes / 208 per fragment
    net.deliver(a, out)
    net.run_until(net.now + 500)
    assert net.kinds(c, "request") == [("request", a.id, req_id, body)]


def test_fragment_limits():
    counted = []
    r = Reassembly(2, 1000, counted.append)
    parts = split(b"x" * (3 * MAX_BODY))
    assert [f for f, _ in parts] == [0x02, 0x12, 0x22]
    assert r.add(b"k1", parts[0][0], parts[0][1], 0) is None
    assert r.add(b"k1", parts[2][0], parts[2][1], 0) is None
    assert r.add(b"k1", parts[1][0], parts[1][1], 0) == b"x" * (3 * MAX_BODY)
    r.add(b"k1", 0x01, b"a", 0)
    r.add(b"k2", 0x01, b"a", 10)
    r.add(b"k3", 0x01, b"a", 20)                   # a third partial message: oldest dropped
    assert len(r) == 2 and counted == ["frag_evicted"]
    assert r.add(b"k2", 0x03, b"b", 30) is None and counted[-1] == "frag_inconsistent"
    r.expire(1015)
    assert len(r) == 1 and counted[-1] == "frag_timeout"
    try:
        split(b"x" * (16 * MAX_BODY + 1))
        assert False
    except ValueError:
        pass


def _hear(hub, i, seq, now, boot=1):
    r = Reading(node_id(i), boot, seq, seq * 10000, [("temp", float(i), "C")])
    frame = crypto.seal(hub.keys, wire.T_READINGS, node_id(i), boot, seq, legacy_flood.encode_readings_frame([r], [0]))
    hub.receive(frame, node_id(i), -40, now)


def test_tables_bounded_with_300_origins():
    hub = make_node(250, readings_max=100, neighbours_max=16, replay_max=32)
    for i in range(300):
        _hear(hub, (i % 249) + 1 if i < 249 else i - 248, 1 + i // 249, i)
    for i in range(1, 250):
        _hear(hub, i, 5, 1000 + i)
    assert len(hub.readings) <= 100
    assert len(hub.policy.routes) <= 101
    assert len(hub.neighbours) <= 16 and len(hub.replay) <= 32
    hub.pop_events()


def test_stale_then_forgotten():
    a, b = make_node(1, stale_ms=5000, forget_ms=12000), make_node(2)
    b.publish([("temp", 1.0, "C")], 0)
    for _, f in b.publish([("temp", 2.0, "C")], 10):
        a.receive(f, b.id, -40, 10)
    t = 10
    while t < 20000:
        t = a.next_deadline()
        a.tick(t)
    ev = a.pop_events()
    assert ("stale", b.id) in ev and ("forgotten", b.id) in ev
    assert b.id not in a.readings


def test_hostile_hello_and_pull_change_nothing():
    a, b = make_node(1), make_node(2)
    for _, f in a.publish([("temp", 1.0, "C")], 0):
        b.receive(f, a.id, -40, 0)
    b.pop_events()
    k = crypto.Keys(KEY)
    before = b.snapshot()
    ctr = 100
    for t, payload in ((frames.T_HELLO, b"\x01a\x00\x00\x00\x05"), (frames.T_PULL, b"\x01" + bytes(6) + b"\x01"),
                       (wire.T_DATA, bytes(17)), (wire.T_READINGS, b"\x01\x02")):
        ctr += 1
        assert b.receive(crypto.seal(k, t, a.id, 1, ctr, payload), a.id, -40, 5) == []
    assert b.snapshot() == before
    assert b.stats["rejected"] == {"malformed": 4}
