# Link quality under unicast traffic, and the two frame-counter streams.
# Plain test functions: run under pytest and under MicroPython.
from mesh import crypto
from mesh.node import UNICAST_STREAM
from meshhelp import make_node, Net, raises_frame_error


def _line3():
    a, b, c = make_node(1), make_node(2), make_node(3)
    return a, b, c, Net([a, b, c], [(a, b), (b, c)])


def test_unicasts_to_one_neighbour_leave_the_others_estimate_alone():
    a, b, c, net = _line3()
    net.run_until(60000)                        # hellos (backing off): every link measured lossless
    q_before = a.neighbours.get(b.id).q_in
    for _ in range(60):                         # b talks to c alone; a hears none of it
        _req, out = b.request(c.id, b"ping", net.now)
        net.deliver(b, out)
        net.run_until(net.now + 50)
    assert len(net.kinds(b, "reply")) == 60
    # Before the streams were split, 60+ unseen counter values read as 60 % loss.
    assert a.neighbours.get(b.id).q_in >= q_before >= 150, (q_before, a.neighbours.get(b.id).q_in)
    assert c.neighbours.get(b.id).cost() <= 24           # ETX 3: still a relay-grade link


def test_streams_have_their_own_counters_and_replay_windows():
    a, b, _c, net = _line3()
    net.run_until(8000)                         # links admitted, routes: a reaches b by unicast
    _req, out = a.request(b.id, b"ping", net.now)
    dst, uni = out[0]
    bcast = a.publish([("t", 1.0, "C")], net.now)[0][1]
    uni_ctr, bcast_ctr = crypto.parse_header(uni)[5], crypto.parse_header(bcast)[5]
    assert dst == b.id and uni_ctr >= UNICAST_STREAM and bcast_ctr < UNICAST_STREAM
    # the unicast frame's far higher counter does not make the broadcast look old
    b.receive(uni, a.id, -60, net.now)
    b.receive(bcast, a.id, -60, net.now)
    assert "replay" not in b.stats["rejected"], b.stats["rejected"]
    b.receive(uni, a.id, -60, net.now)          # each stream still refuses its replays
    b.receive(bcast, a.id, -60, net.now)
    assert b.stats["rejected"]["replay"] == 2


def test_moving_a_frame_to_the_other_stream_breaks_its_tag():
    a, b, _c, _net = _line3()
    frame = bytearray(a.seal(4, b"y", unicast=True))
    frame[15] ^= 0x80                           # bit 31 of the counter: the broadcast stream
    raises_frame_error(lambda: crypto.open_frame(b.keys, bytes(frame)), "tag")
