# The mesh policy's dissemination at its edges (mesh/mesh.py): the delays of
# a relay, a reboot's flood and a repair over many seeds (their whole range,
# not one sample), the hop count a relay and a push carry, the hop limit,
# counter-based suppression of relays and of repairs, when a neighbour's
# reading is relayed (our relaying decision, start-up flood, after a push),
# the route cost limit,
# and the answer to a full pull. Frames reach node a from neighbours sealed
# with the network key on a clock the test drives; what a sends is decoded.
# Plain test functions: run under pytest and MicroPython.
from meshhelp import Feed, make_node, node_id, origin_raw, repair_delay, tick_through

from mesh.frames import PULL_FULL, T_PULL, decode_readings_items, encode_pull
from mesh.wire import T_READINGS

def _sent_readings(a, out):
    """-> [(origin id, hops)] of the readings frames among out."""
    got = []
    for _dst, frame in out:
        ftype, _s, _b, _c, payload = a.keys.open(frame)
        if ftype == T_READINGS:
            got += [(r.origin, hops) for _raw, r, hops, _m in decode_readings_items(payload)]
    return got


def _run(a, start, until):
    """Tick a through its deadlines from start to until -> [(ms, [(origin, hops)])]."""
    sent = [(t, _sent_readings(a, out)) for t, out in tick_through(a, until, start)]
    return [(t, got) for t, got in sent if got]


def _relay_delay(boot, batch_ms=8, reboot=False):
    """a hears o's reading from b at 50 s -> ms until a relays it."""
    a = make_node(1, boot=boot, batch_ms=batch_ms)
    feed = Feed(a)
    if reboot:                          # a held o's reading of an earlier boot
        feed.readings(2, [(origin_raw(9, boot=1), 0)], 40000)
        _run(a, 40000, 45000)
    now = 50000
    feed.readings(2, [(origin_raw(9, boot=2 if reboot else 1), 0)], now)
    sent = _run(a, now, now + 3 * batch_ms)
    return sent[0][0] - now if sent else None


def test_a_relay_waits_half_to_a_whole_batch_window():
    delays = [_relay_delay(boot) for boot in range(1, 80)]
    assert min(delays) == 4 and max(delays) == 8 and len(set(delays)) == 5


def _relay_delay_at_rate(boot, interval_ms, origins):
    """a holds `origins` readings published every interval_ms, then hears
    a new one from b -> ms until a relays it (batch_ms 800)."""
    a = make_node(1, boot=boot, batch_ms=800)
    feed = Feed(a)
    for i in range(origins):
        feed.readings(2, [(origin_raw(20 + i), 0)], 40000 + i)
    _run(a, 40000, 45000)
    a.policy.ae._guess = interval_ms          # the interval learnt from arrivals
    feed.readings(2, [(origin_raw(9), 0)], 50000)
    sent = _run(a, 50000, 52000)
    return sent[0][0] - 50000


def test_a_relay_waits_a_quarter_window_when_the_mesh_publishes_less_than_one_reading_per_window():
    slow = [_relay_delay_at_rate(boot, 300000, 10) for boot in range(1, 60)]     # 10 x 800 < 300000
    busy = [_relay_delay_at_rate(boot, 6000, 10) for boot in range(1, 60)]       # 10 x 800 >= 6000
    assert 100 <= min(slow) < 120 and 180 < max(slow) <= 200                  # 1/8 .. 1/4 window
    assert 400 <= min(busy) < 450 and 750 < max(busy) <= 800                  # 1/2 .. 1 window


def test_a_reboot_is_flooded_within_a_quarter_window():
    delays = [_relay_delay(boot, reboot=True) for boot in range(1, 60)]
    assert min(delays) == 1 and max(delays) == 8 // 4 + 1


def test_a_repair_waits_by_who_was_asked_to_answer_over_its_whole_range():
    named = [repair_delay(lambda me, other: me, 8, boot) for boot in range(1, 120)]
    anyone = [repair_delay(lambda me, other: bytes(6), 8, boot) for boot in range(1, 60)]
    other = [repair_delay(lambda me, other: other, 8, boot) for boot in range(1, 100)]
    assert (min(named), max(named)) == (1, 20)
    assert (min(anyone), max(anyone)) == (1, 8 // 2 + 1)
    assert (min(other), max(other)) == (8 // 2, 8 // 2 + 8)


def test_a_relay_carries_one_hop_more_and_stops_at_the_hop_limit():
    for hops, relayed in ((2, 3), (8, 9), (9, None)):       # hops + 1 < hop_limit
        a = make_node(1, hop_limit=10)
        Feed(a).readings(2, [(origin_raw(9), hops)], 50000)
        sent = _run(a, 50000, 52000)
        assert (sent[0][1] if sent else None) == ([(node_id(9), relayed)] if relayed else None), hops


def test_a_newer_reading_arriving_by_a_longer_path_keeps_the_shorter_hop_count():
    a = make_node(1, batch_ms=600)
    feed = Feed(a)
    feed.readings(2, [(origin_raw(9, seq=1), 1)], 50000)
    feed.readings(3, [(origin_raw(9, seq=2), 4)], 50001)
    sent = _run(a, 50000, 52000)
    assert sent[0][1] == [(node_id(9), 2)]


def test_our_own_reading_and_a_full_push_go_with_zero_hops():
    a = make_node(1)
    feed = Feed(a)
    feed.readings(2, [(origin_raw(9), 3)], 50000)
    _run(a, 50000, 52000)
    assert _sent_readings(a, a.publish([("temp", 1.0, "C")], 53000)) == [(node_id(1), 0)]
    out = feed.send(2, T_PULL, encode_pull(PULL_FULL, []), 54000)
    assert [d for d, _f in out] == [node_id(2)]
    assert sorted(_sent_readings(a, out)) == [(node_id(1), 0), (node_id(9), 0)]
    assert _sent_readings(a, a.tick(54000)) == []      # sent at once, nothing queued


def _suppressed(copies, c=3, older=False):
    """a queues o's reading for relay; `copies` neighbours relay the same
    reading before a's window ends -> whether a still relays it."""
    a = make_node(1, relay_suppress=c, batch_ms=600)
    feed = Feed(a)
    if older:
        feed.readings(5, [(origin_raw(9, seq=1), 0)], 49000)
        _run(a, 49000, 49900)
    feed.readings(2, [(origin_raw(9, seq=2), 0)], 50000)
    for k in range(copies):
        feed.readings(3 + k, [(origin_raw(9, seq=1 if older else 2), 1)], 50001 + k)
    return _run(a, 50000, 51000) != []


def test_a_relay_heard_relay_suppress_times_is_dropped():
    assert _suppressed(0) and _suppressed(1)
    assert not _suppressed(2)           # queued once + two copies = 3
    assert _suppressed(2, c=0)          # 0: suppression off
    assert _suppressed(2, older=True)   # an older reading is not a copy of ours


def test_a_repair_someone_else_sent_first_is_dropped():
    a = make_node(1, batch_ms=600)
    feed = Feed(a)
    feed.readings(2, [(origin_raw(9, seq=2), 0)], 40000)
    _run(a, 40000, 45000)
    feed.send(3, T_PULL, encode_pull(0, [(node_id(9), 1, 1)], bytes(6)), 50000)   # asks anyone
    feed.readings(4, [(origin_raw(9, seq=2), 1)], 50000)                               # answered
    assert _run(a, 50000, 52000) == []
    feed.send(3, T_PULL, encode_pull(0, [(node_id(9), 1, 1)], bytes(6)), 60000)
    assert _run(a, 60000, 62000)[0][1] == [(node_id(9), 0)]                       # a repair: hop 0


def test_a_node_linking_two_neighbours_relays_one_that_does_not_only_while_the_mesh_forms():
    # b (2) and c (3) both hear a; when b lists c as well heard, a need not relay
    for boot_ms, now, linked, relayed in ((0, 50000, True, False), (0, 50000, False, True),
                                          (40000, 50000, True, True), (0, 15000, True, False),
                                          (0, 14999, True, True)):
        a = make_node(1, now_ms=boot_ms, startup_flood_ms=15000)
        feed = Feed(a)
        feed.hello(3, [(node_id(1), 120, False)], now - 3)
        feed.hello(2, [(node_id(1), 120, False)] + ([(node_id(3), 120, False)] if linked else []), now - 2)
        for i in (2, 3):
            a.neighbours.get(node_id(i)).stable = True      # admitted (the table's hysteresis, tested there)
        a.tick(now - 1)                                       # the decision is taken on a tick
        feed.readings(2, [(origin_raw(9), 0)], now)
        assert (_run(a, now, now + 2000) != []) == relayed, (boot_ms, now, linked)


def test_a_neighbour_without_a_hello_is_relayed():
    a = make_node(1)
    Feed(a).readings(2, [(origin_raw(9), 0)], 50000)
    assert _run(a, 50000, 52000) != []


def test_a_sender_a_full_table_does_not_track_is_not_relayed_after_start_up():
    for now, relayed in ((14000, True), (50000, False)):     # startup_flood_ms: 15 s
        a = make_node(1, neighbours_max=1)
        feed = Feed(a)
        feed.readings(3, [(origin_raw(8), 0)], 10)
        n = a.neighbours.get(node_id(3))
        n.stable, n.q_in = True, 200                          # one good, admitted link: full
        feed.readings(2, [(origin_raw(9), 0)], now)
        assert a.neighbours.get(node_id(2)) is None           # not tracked
        assert (node_id(9) in [o for _t, got in _run(a, now, now + 2000) for o, _h in got]) == relayed


def test_everything_is_relayed_for_a_while_after_we_pushed_our_table():
    for gap, relayed in ((4999, True), (5000, False)):
        a = make_node(1)
        feed = Feed(a)
        feed.hello(2, [(node_id(1), 100, False)], 49000)
        feed.send(3, T_PULL, encode_pull(PULL_FULL, []), 50000)        # we push to 3
        feed.readings(2, [(origin_raw(9), 0)], 50000 + gap)
        assert (_run(a, 50000 + gap, 52000 + gap) != []) == relayed, gap


def test_routes_are_learnt_through_links_up_to_etx_6():
    # two frames heard (q_in 102/256), and how well it hears us sets the cost
    for q_out, learnt in ((52, True), (51, False)):
        a = make_node(1)
        feed = Feed(a)
        feed.hello(2, [(node_id(1), q_out, False)], 49000)
        feed.readings(2, [(origin_raw(9), 0)], 50000)
        n = a.neighbours.get(node_id(2))
        assert n.cost() == (48 if learnt else 49)
        assert (a.policy.routes.get(node_id(9)) is not None) == learnt, q_out


def test_relay_jitter_covers_zero_to_its_configured_top():
    a = make_node(1, relay_jitter_ms=2)
    assert sorted(set([a.policy.jitter() for _ in range(60)])) == [0, 1, 2]


def test_an_exhausted_counter_sends_nothing():
    from mesh.node import _CTR_LIMIT
    a = make_node(1)
    a._ctr = _CTR_LIMIT
    assert a.publish([("temp", 1.0, "C")], 1000) == []


def test_no_next_hop_through_a_neighbour_that_does_not_hear_us():
    a = make_node(1)
    feed = Feed(a)
    feed.hello(2, [(node_id(9), 100, False)], 1000)
    assert a.policy.next_hop(node_id(2)) is None
    feed.hello(2, [(node_id(1), 100, False)], 2000)
    assert a.policy.next_hop(node_id(2)).id == node_id(2)
