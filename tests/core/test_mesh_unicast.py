# Routed request/reply (unicast.py) under failure, on the test network with
# MAC feedback: a dead next hop is dropped and the packet re-flooded, the
# requester's attempts (count, spacing, the last one flooded), duplicates of
# an attempt answered once, replies from the wrong origin ignored, the hop
# limit at its boundary. Plain test functions: pytest and MicroPython.
from mesh.fragments import split
from mesh.frames import KIND_ATTEMPT_SHIFT, KIND_FLOODED, KIND_REPLY, MAX_BODY, decode_routed, packet_key
from mesh.wire import T_DATA
from meshhelp import BROADCAST, Net, make_node

_E2E = 2000   # e2e_timeout_ms of these tests' nodes


def _routed(net, keys, sender=None):
    """[(ms, sender, dst mac, [kind, origin, dst, req_id, hops, limit, frag, body])]
    of every T_DATA frame on the air (from `sender` only, if given)."""
    out = []
    for t, src, dst, frame in net.log:
        if sender is not None and src != sender.id:
            continue
        ftype, _s, _b, _c, payload = keys.open(frame)
        if ftype == T_DATA:
            out.append((t, src, dst, decode_routed(payload)))
    return out


def _mesh(n, links, **cfg):
    """Nodes 1..n wired by index pairs; hellos and one reading each, so every
    node has a route to every other."""
    nodes = [make_node(i + 1, beacon_ms=2000, e2e_timeout_ms=_E2E, **cfg) for i in range(n)]
    net = Net(nodes, [(nodes[i], nodes[j]) for i, j in links])
    net.run_until(8000)                 # links admitted (three frames each way), hellos say so
    for node in nodes:
        net.deliver(node, node.publish([("temp", 1.0, "C")], net.now))
    net.run_until(net.now + 3000)
    net.log = []
    return nodes, net


def _line(n, **cfg):
    return _mesh(n, [(i, i + 1) for i in range(n - 1)], **cfg)


def test_mac_feedback_confirms_each_hop_and_empties_the_queue():
    nodes, net = _line(4)
    a, d = nodes[0], nodes[3]
    req_id, out = a.request(d.id, b"ping", net.now)
    net.deliver(a, out)
    net.run_until(net.now + 500)
    assert net.kinds(a, "reply") == [("reply", req_id, d.id, b"pong", 3)]
    for n in nodes:
        assert n.policy.unicast._inflight == {}, n.name      # every hop acknowledged
        assert "route_fail" not in n.stats
    hops = [(src, dst) for _t, src, dst, _m in _routed(net, a.keys)]
    assert hops == [(a.id, nodes[1].id), (nodes[1].id, nodes[2].id), (nodes[2].id, d.id),
                    (d.id, nodes[2].id), (nodes[2].id, nodes[1].id), (nodes[1].id, a.id)]


def test_a_dead_next_hop_is_dropped_and_the_packet_flooded_around_it():
    # a - b - c - d with a detour b - e - c; routes prefer b -> c (shorter)
    nodes, net = _mesh(5, [(0, 1), (1, 2), (2, 3), (1, 4), (4, 2)])
    a, b, c, d, e = nodes
    assert b.policy.routes.get(d.id)[0] == c.id
    net.cut(b, c)                                     # the radio link b - c dies
    req_id, out = a.request(d.id, b"ping", net.now)
    net.deliver(a, out)
    net.run_until(net.now + 1000)
    assert ("neighbour", c.id, "down") in net.events[b.id]
    assert b.neighbours.get(c.id) is None and b.stats["route_fail"] == 1
    assert b.policy.routes.get(d.id) is None          # routes via c withdrawn
    sent = _routed(net, b.keys, sender=b)
    assert sent[0][2] == c.id and not sent[0][3][0] & KIND_FLOODED     # the unicast that failed
    assert sent[1][2] == BROADCAST and sent[1][3][0] & KIND_FLOODED    # then the same packet, flooded
    assert sent[1][3][1:4] == [a.id, d.id, req_id] and sent[1][3][4] == sent[0][3][4]
    assert net.kinds(a, "reply") == [("reply", req_id, d.id, b"pong", net.kinds(a, "reply")[0][4])]
    assert net.kinds(a, "reply")[0][4] >= 4           # the detour is longer


def test_link_failure_drops_only_the_neighbour_with_that_mac():
    nodes, net = _line(3)
    a, b, c = nodes
    b.policy.link_failed(c.id, net.now)
    assert b.neighbours.get(c.id) is None and b.neighbours.get(a.id) is not None
    assert b.policy.routes.get(c.id) is None and b.policy.routes.get(a.id) is not None


def test_three_attempts_spaced_out_the_last_one_flooded_then_given_up():
    nodes, net = _line(3)
    a, b, c = nodes
    net.cut(b, c)
    net.cut(a, b)                                     # a can reach nobody at all now
    t0 = net.now
    req_id, out = a.request(c.id, b"ping", t0)
    net.deliver(a, out)
    net.run_until(t0 + 7 * _E2E)
    mine = [(t, dst, m) for t, _src, dst, m in _routed(net, a.keys, sender=a) if m[1] == a.id]
    # attempts 0, 1, 2: the first from the request, then after e2e_timeout,
    # then after twice that; re-floods after a failed hop keep the attempt number
    attempts = {}
    for t, dst, m in mine:
        attempts.setdefault(m[0] >> KIND_ATTEMPT_SHIFT, []).append((t, dst, m[0]))
    assert sorted(attempts) == [0, 1, 2]
    first = [attempts[k][0] for k in (0, 1, 2)]
    assert [t - t0 for t, _d, _k in first] == [0, _E2E, 3 * _E2E]
    assert first[0][1] == b.id and not first[0][2] & KIND_FLOODED     # routed while a route lasts
    assert first[2][1] == BROADCAST and first[2][2] & KIND_FLOODED     # the last attempt is flooded
    assert a.stats.get("req_timeout") == 1 and a.policy.unicast._pending == {}
    assert net.kinds(a, "reply") == []


def test_no_attempt_is_left_after_the_timeout_of_the_last():
    nodes, net = _line(2)
    a, b = nodes
    net.cut(a, b)
    t0 = net.now
    _req, out = a.request(b.id, b"ping", t0)
    net.deliver(a, out)
    net.run_until(t0 + 6 * _E2E - 1)
    assert "req_timeout" not in a.stats               # the third attempt is still awaited
    net.run_until(t0 + 6 * _E2E)
    assert a.stats["req_timeout"] == 1
    net.log = []
    net.run_until(t0 + 20 * _E2E)
    assert _routed(net, a.keys, sender=a) == []       # nothing more is sent for it


def test_an_attempt_delivered_twice_is_answered_once():
    # b's unicast to c arrives but its ack is lost: b takes c for dead and
    # floods the same attempt again; c answers the attempt once.
    nodes, net = _line(3)
    a, b, c = nodes
    net.lose_acks(b, c, 1.0)
    req_id, out = a.request(c.id, b"ping", net.now)
    net.deliver(a, out)
    net.run_until(net.now + 1000)
    assert b.stats["route_fail"] >= 1
    got = [m for _t, _s, _d, m in _routed(net, c.keys) if m[2] == c.id and m[3] == req_id]
    assert len([m for m in got if m[0] & KIND_FLOODED]) >= 1           # c was reached twice
    pongs = [m for _t, _s, _d, m in _routed(net, c.keys, sender=c) if m[1] == c.id and m[0] & KIND_REPLY]
    assert len(pongs) == 1, pongs
    assert net.kinds(a, "reply") == [("reply", req_id, c.id, b"pong", 2)]


def test_each_attempt_of_a_ping_is_answered_once():
    nodes, net = _line(3)
    a, b, c = nodes
    net.lose(b, a, 1.0)                               # answers die on the last hop
    req_id, out = a.request(c.id, b"ping", net.now)
    net.deliver(a, out)
    net.run_until(net.now + 7 * _E2E)
    asked = [m[0] >> KIND_ATTEMPT_SHIFT for _t, _s, _d, m in _routed(net, a.keys, sender=a)
             if m[1] == a.id and m[3] == req_id]
    assert sorted(set(asked)) == [0, 1, 2]
    pongs = [m[0] >> KIND_ATTEMPT_SHIFT for _t, _s, _d, m in _routed(net, c.keys, sender=c)
             if m[1] == c.id and m[0] & KIND_REPLY]
    assert sorted(pongs) == [0, 1, 2]                 # one answer per attempt, each sent once
    assert net.kinds(a, "reply") == []


def test_a_request_retried_is_one_event_at_the_destination():
    nodes, net = _line(3)
    a, b, c = nodes
    req_id, out = a.request(c.id, b"status?", net.now)
    net.deliver(a, out)
    net.run_until(net.now + 7 * _E2E)                 # c never replies: a sends all 3 attempts
    seen = [m[0] >> KIND_ATTEMPT_SHIFT for _t, _s, _d, m in _routed(net, a.keys, sender=b) if m[2] == c.id]
    assert sorted(seen) == [0, 1, 2]                            # every attempt reached c ...
    assert net.kinds(c, "request") == [("request", a.id, req_id, b"status?")]   # ... one event


def test_a_reply_from_the_wrong_origin_is_ignored():
    nodes, net = _line(3)
    a, b, c = nodes
    req_id, out = a.request(c.id, b"status?", net.now)
    net.deliver(a, out)
    net.deliver(b, b.reply(a.id, req_id, b"forged", net.now))   # b answers c's request id
    assert net.kinds(a, "reply") == []
    assert req_id in a.policy.unicast._pending         # still waiting for c
    net.deliver(c, c.reply(a.id, req_id, b"ok", net.now))
    assert net.kinds(a, "reply") == [("reply", req_id, c.id, b"ok", 2)]
    assert a.policy.unicast._pending == {}
    net.deliver(c, c.reply(a.id, req_id, b"again", net.now))    # a late second answer: no event
    assert len(net.kinds(a, "reply")) == 1


def test_routed_hop_limit_at_its_boundary():
    # hop_limit 3: a packet crosses 3 hops, never 4 (readings obey the same limit)
    nodes, net = _line(4, hop_limit=3)
    a, d = nodes[0], nodes[3]
    req_id, out = a.request(d.id, b"ping", net.now)
    net.deliver(a, out)
    net.run_until(net.now + 500)
    assert net.kinds(a, "reply") == [("reply", req_id, d.id, b"pong", 3)]
    assert [n.stats.get("hop_limit", 0) for n in nodes] == [0, 0, 0, 0]

    nodes, net = _line(5, hop_limit=3)
    a, e = nodes[0], nodes[4]
    _req, out = a.request(e.id, b"ping", net.now)
    net.deliver(a, out)
    net.run_until(net.now + 500)
    assert net.kinds(e, "request") == [] and net.kinds(a, "reply") == []
    assert [n.stats.get("hop_limit", 0) for n in nodes] == [0, 0, 0, 1, 0]   # d, 3 hops out
    assert e.stats["rejected"] == {}                  # nothing over the limit was even sent


def _payloads(net, keys, sender=None):
    out = []
    for _t, src, _dst, frame in net.log:
        ftype, _s, _b, _c, payload = keys.open(frame)
        if ftype == T_DATA and (sender is None or src == sender.id):
            out.append(payload)
    return out


def test_a_packet_keeps_its_key_on_every_hop_and_each_attempt_has_its_own():
    # packet_key names one routed packet across hops (the simulator's loop
    # detector counts on it): hop counts change on the way, the key does not
    nodes, net = _line(4)
    a, d = nodes[0], nodes[3]
    _req, out = a.request(d.id, b"ping", net.now)
    net.deliver(a, out)
    payloads = _payloads(net, a.keys)
    requests = [p for p in payloads if decode_routed(p)[1] == a.id]
    replies = [p for p in payloads if decode_routed(p)[1] == d.id]
    assert [decode_routed(p)[4] for p in requests] == [0, 1, 2]          # hops grow ...
    assert len(set([packet_key(p) for p in requests])) == 1              # ... one packet
    assert len(set([packet_key(p) for p in replies])) == 1
    assert packet_key(requests[0]) != packet_key(replies[0])
    net.log = []
    _req2, out = a.request(d.id, b"x" * (MAX_BODY + 1), net.now)         # two fragments
    keys = [packet_key(a.keys.open(f)[4]) for _dst, f in out]
    assert len(keys) == 2 and keys[0] != keys[1]


def test_two_fragmented_messages_with_the_same_id_do_not_mix():
    # a's request to b and a's reply to b's own request share req_id 7;
    # their fragments arrive interleaved at b and come out whole, each its own
    a, b = make_node(1), make_node(2)
    net = Net([a, b], [(a, b)])
    net.run_until(3000)
    ask = b"q" * (MAX_BODY + 5)
    answer = b"r" * (MAX_BODY + 9)
    b.policy.unicast._pending[7] = [a.id, b"status?", net.now + 10000, 0]   # b asked a, as req 7
    first = a.policy.unicast._originate(0, b.id, 7, split(ask), net.now)
    second = a.reply(b.id, 7, answer, net.now)
    for frame in (first[0], second[0], first[1], second[1]):
        net.deliver(a, [frame])
    assert net.kinds(b, "request") == [("request", a.id, 7, ask)]
    assert [e[:4] for e in net.kinds(b, "reply")] == [("reply", 7, a.id, answer)]
