# Node behaviour with a few nodes passing frames by hand or over a line topology.
from mesh import crypto, wire
import legacy_flood
from legacy_flood import FloodPolicy
from mesh.node import BROADCAST, Node
from mesh.wire import Reading
from meshhelp import KEY, Net, is_probe, make_node, node_id


def _line(n, **cfg):
    # These tests pin the placeholder flood policy's behaviour (still selectable
    # with policy=FloodPolicy); the mesh policy has its own tests.
    nodes = [make_node(i + 1, policy=FloodPolicy, **cfg) for i in range(n)]
    return nodes, Net(nodes, [(nodes[i], nodes[i + 1]) for i in range(n - 1)])


def test_construct_from_dict_or_config():
    n = Node({"id": "02:00:00:00:00:01", "name": "a", "key": KEY}, 3, b"seed", 0)
    assert n.id == node_id(1) and n.boot == 3 and len(n.readings) == 0
    assert n.stats == {"rx": 0, "tx": 0, "rejected": {}}
    assert n.next_deadline() is not None and 0 <= n.next_deadline() < 1000


def test_shared_keys_must_match_config():
    keys = crypto.Keys(KEY)
    assert Node({"id": node_id(1), "name": "a", "key": KEY}, 1, b"s", 0, keys=keys).keys is keys
    try:
        Node({"id": node_id(1), "name": "a", "key": bytes(16)}, 1, b"s", 0, keys=keys)
        assert False
    except ValueError:
        pass


def test_hand_passed_reading_and_ping():
    a, b = make_node(1), make_node(2)
    out = a.publish([("temp", 21.5, "C")], 100)
    assert len(out) == 1 and out[0][0] == BROADCAST
    assert a.readings[a.id].seq == 1
    assert b.receive(out[0][1], a.id, -50, 101) == []
    ev = b.pop_events()
    assert ("neighbour", a.id, "up") in ev
    assert ("reading", a.id, 1, 1, 100, [("temp", 21.5, "C")]) in ev
    assert b.readings[a.id].values == [("temp", 21.5, "C")]
    assert b.neighbours.get(a.id).rssi == -50
    req_id, out = a.request(b.id, b"ping", 200)
    pong = b.receive(out[0][1], a.id, -50, 201)
    assert len(pong) == 1
    a.receive(pong[0][1], b.id, -50, 202)
    assert ("reply", req_id, b.id, b"pong", 1) in a.pop_events()


def test_reading_propagates_over_three_hops_and_ping_gets_pong():
    nodes, net = _line(4)
    a, d = nodes[0], nodes[3]
    net.run_until(2000)
    net.deliver(a, a.publish([("temp", 19.0, "C"), ("co2", 600.0, "ppm")], net.now))
    net.run_until(2500)
    for n in nodes[1:]:
        assert n.readings[a.id].values == [("temp", 19.0, "C"), ("co2", 600.0, "ppm")]
        assert len(net.kinds(n, "reading")) == 1
    req_id, out = d.request(a.id, b"ping", net.now)
    net.deliver(d, out)
    net.run_until(3000)
    assert net.kinds(d, "reply") == [("reply", req_id, a.id, b"pong", 3)]


def test_hop_limit_stops_readings():
    nodes, net = _line(5, hop_limit=2)
    net.run_until(1500)
    net.deliver(nodes[0], nodes[0].publish([("temp", 1.0, "C")], net.now))
    net.run_until(3000)
    have = [nodes[0].id in n.readings for n in nodes]
    assert have == [True, True, True, False, False], have


def test_each_reading_relayed_once():
    nodes, net = _line(3)
    net.run_until(1500)
    a, b = nodes[0], nodes[1]
    tx = b.stats["tx"]
    net.deliver(a, a.publish([("temp", 1.0, "C")], net.now))
    net.run_until(1800)
    assert b.stats["tx"] == tx + 1
    # the same reading heard again (from c's relay) is not relayed again
    assert b.next_deadline() > 1800 + 5000


def test_pending_relays_aggregate_into_one_frame():
    a, b = make_node(1, policy=FloodPolicy), make_node(2, policy=FloodPolicy)
    hub = make_node(3, relay_jitter_ms=0, policy=FloodPolicy)
    fa = a.publish([("temp", 1.0, "C")], 10)
    fb = b.publish([("rh", 50.0, "%")], 10)
    hub.receive(fa[0][1], a.id, -40, 10)
    hub.receive(fb[0][1], b.id, -40, 10)
    out = hub.tick(10)
    readings_frames = [f for _, f in out if f[1] & 0x7F == wire.T_READINGS]
    assert len(readings_frames) == 1
    payload = crypto.open_frame(crypto.Keys(KEY), readings_frames[0])[4]
    items = legacy_flood.decode_readings_frame(payload)
    assert sorted([r.origin for r, _ in items]) == [a.id, b.id]
    assert [h for _, h in items] == [1, 1]


def test_request_other_than_ping_is_an_event_and_port_replies():
    a, b = make_node(1), make_node(2)
    req_id, out = a.request(b.id, b"status?", 0)
    assert b.receive(out[0][1], a.id, -40, 1) == []
    assert ("request", a.id, req_id, b"status?") in b.pop_events()
    out = b.reply(a.id, req_id, b"ok 42", 2)
    a.receive(out[0][1], b.id, -40, 3)
    assert ("reply", req_id, b.id, b"ok 42", 1) in a.pop_events()


def test_duplicate_request_answered_once():
    a, b, c = [make_node(i, policy=FloodPolicy) for i in (1, 2, 3)]
    req_id, out = a.request(c.id, b"ping", 0)
    first = c.receive(out[0][1], a.id, -40, 1)
    relayed = b.receive(out[0][1], a.id, -40, 1)
    assert relayed == [] and len(first) == 1
    later = b.tick(b.next_deadline())                    # b relays the request
    relay = [f for _, f in later if f[1] & 0x7F == wire.T_DATA]
    assert len(relay) == 1
    assert c.receive(relay[0], b.id, -40, 100) == []     # already answered


def _admitted_pair():
    """b has heard three frames from a, 10 ms apart: a is admitted (stable)."""
    a, b = make_node(1, beacon_ms=1000), make_node(2, beacon_ms=1000)
    for t in (0, 10, 20):
        b.receive(a.publish([("temp", 1.0, "C")], t)[0][1], a.id, -40, t)
    b.pop_events()
    assert b.neighbours.get(a.id).stable
    return a, b


def test_neighbour_down_after_silence():
    a, b = _admitted_pair()
    # silent past its timeout (8 gaps, floored at neighbour_min_timeout_ms,
    # 3 s): one unicast probe (an empty pull), then down when no MAC ack comes within a
    # second (here no radio acks anything)
    t, probes = 20, []
    while t < 5000:
        t = b.next_deadline()
        probes += [t for dst, f in b.tick(t) if is_probe(b, dst, f, a.id)]
    assert len(probes) == 1 and probes[0] >= 20 + 3000
    assert ("neighbour", a.id, "down") in b.pop_events()
    assert b.neighbours.get(a.id) is None


def test_a_neighbour_never_admitted_is_dropped_at_its_timeout_without_a_probe():
    a, b = make_node(1, beacon_ms=1000), make_node(2, beacon_ms=1000)
    b.receive(a.publish([("temp", 1.0, "C")], 0)[0][1], a.id, -40, 0)     # one frame: a fringe link
    b.pop_events()
    t, probes = 0, []
    while b.neighbours.get(a.id) is not None and t < 10000:
        t = b.next_deadline()
        probes += [f for dst, f in b.tick(t) if is_probe(b, dst, f, a.id)]
    assert probes == [] and 3500 <= t < 10000          # its timeout (3.5 s), not a probe's wait
    assert ("neighbour", a.id, "down") in b.pop_events()


def test_silent_neighbour_that_acks_the_probe_stays():
    a, b = _admitted_pair()
    t, probes = 20, 0
    while t < 20000:
        t = b.next_deadline()
        for dst, f in b.tick(t):
            if is_probe(b, dst, f, a.id):
                probes += 1
                b.send_done(dst, True, t)       # its MAC acked: alive
    assert probes >= 2 and b.neighbours.get(a.id) is not None
    assert ("neighbour", a.id, "down") not in b.pop_events()


def test_readings_bounded_evicting_least_recently_heard():
    hub = make_node(9, readings_max=3)
    hub.publish([("temp", 0.0, "C")], 0)                # own reading is never evicted

    def hear(i, seq, ctr, now):
        r = Reading(node_id(i), 1, seq, 0, [("temp", float(i), "C")])
        frame = crypto.seal(hub.keys, wire.T_READINGS, node_id(i), 1, ctr, legacy_flood.encode_readings_frame([r], [0]))
        hub.receive(frame, node_id(i), -40, now)

    hear(1, 1, 0, 10)
    hear(2, 1, 0, 20)
    hear(3, 1, 0, 30)
    hear(1, 2, 1, 40)                                   # node 1 heard again: now 2 is oldest
    hear(4, 1, 0, 50)                                   # 4 origins, room for 3
    assert len(hub.readings) == 4                       # 3 others + our own
    assert node_id(2) not in hub.readings
    for i in (1, 3, 4):
        assert node_id(i) in hub.readings
    assert hub.id in hub.readings and hub.readings[node_id(1)].seq == 2


def test_publish_checks_values_before_changing_state():
    a = make_node(1)
    before = a.snapshot()
    for bad in ([("x" * 300, 1.0, "")], [("temp", "warm", "C")], [("n%d" % i, 1.0, "u" * 8) for i in range(20)]):
        try:
            a.publish(bad, 5)
            assert False, bad
        except (ValueError, TypeError):
            pass
    assert a.snapshot() == before


def test_request_destination_checked():
    a = make_node(1)
    for dst in (a.id, BROADCAST, b"\x01\x02"):
        try:
            a.request(dst, b"ping", 0)
            assert False
        except ValueError:
            pass


def test_frame_counter_increments_per_frame():
    a = make_node(1)
    frames = a.publish([("temp", 1.0, "C")], 0) + a.request(node_id(2), b"ping", 0)[1] + a.tick(5000)
    ctrs = [wire.parse_header(f)[5] for _, f in frames]
    assert ctrs == list(range(len(frames))) and a.stats["tx"] == len(frames)


def test_events_bounded():
    a, b = make_node(1), make_node(2, events_max=4)
    for i in range(10):
        b.receive(b"junk%d" % i, a.id, -40, i)
    assert len(b.pop_events()) == 4 and b.stats["events_dropped"] == 6


def test_plaintext_network():
    a, b = make_node(1, encrypt=False), make_node(2)
    frame = a.publish([("temp", 1.0, "C")], 0)[0][1]
    assert not frame[1] & 0x80
    b.receive(frame, a.id, -40, 0)
    assert a.id in b.readings


def test_deterministic_given_seed():
    runs = []
    for _ in range(2):
        nodes, net = _line(3)
        net.run_until(30000)
        runs.append((net.sent, [n.snapshot() for n in nodes]))
    assert runs[0] == runs[1]
