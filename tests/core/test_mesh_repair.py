# Anti-entropy at its edges (mesh/antientropy.py): when a missing reading is
# pulled (one interval and the grace after the last, then every second four
# times, then once an interval for half the stale time), whom the pull names,
# which intervals are learnt, the origins heard once armed by the first
# interval, pulls split over frames, stale and forgotten origins to the
# sweep, answers to pulls, and which neighbour a booting node syncs with.
# Frames reach node a from neighbours on a clock the test drives (meshhelp.Feed);
# what a sends is decoded. Plain test functions: run under pytest and MicroPython.
from meshhelp import Feed, full_pulls, make_node, node_id, tick_through

from mesh.frames import PULL_FULL, T_PULL, decode_pull, encode_pull, max_pull_entries
from mesh.frames import T_HELLO
from mesh.wire import T_READINGS

B = node_id(2)
GRACE = 1500       # pull_grace_ms's default
SLOT = 256         # checks run in 256 ms slots, up to one slot early
JITTER = 50        # relay_jitter_ms's default


def _raws(i, times, boot=1):
    """Origin i's readings published at these times (its own clock)."""
    o = make_node(i, boot=boot)
    out = []
    for t in times:
        o.publish([("temp", 1.0, "C")], t)
        out.append(o.readings.raw[o.id])
    return out


def _pulls(a, start, until):
    """Tick a through its deadlines -> [(ms, responder, haves)] of its (not full) pulls."""
    got = []
    for t, out in tick_through(a, until, start):
        for dst, frame in out:
            ftype, _s, _b, _c, payload = a.keys.open(frame)
            if ftype == T_PULL and dst == b"\xff" * 6:       # not a probe (unicast)
                flags, responder, haves = decode_pull(payload)
                if not flags & PULL_FULL:
                    got.append((t, responder, haves))
    return got


def _node_with_b(**cfg):
    """a, with b a good symmetric neighbour (a route through it is learnt)."""
    a = make_node(1, **cfg)
    feed = Feed(a)
    for k in range(20):
        feed.hello(2, [(a.id, 127, False)], k * 100)
    return a, feed


def test_a_missing_reading_is_pulled_after_its_interval_and_grace_then_retried_then_once_an_interval():
    a, feed = _node_with_b()
    r1, r2 = _raws(9, (0, 2000), boot=3)
    feed.readings(2, [(r1, 1)], 10000)
    feed.readings(2, [(r2, 1)], 12000)
    pulls = _pulls(a, 12000, 12000 + 45000)
    times = [p[0] for p in pulls]
    # checks run at the start of the 256 ms slot they fall in; a pull waits a relay jitter
    assert 12000 + 2000 + GRACE - SLOT <= times[0] <= 12000 + 2000 + GRACE + JITTER, times
    assert [p[2] for p in pulls] == [[(node_id(9), 3, 2)]] * len(pulls)
    assert pulls[0][1] == B                    # first: our next hop towards it, by name
    assert [p[1] for p in pulls[1:]] == [None] * (len(pulls) - 1)   # then anyone
    gaps = [b - a_ for a_, b in zip(times, times[1:])]
    assert all(1000 - SLOT - JITTER <= g <= 1000 + JITTER for g in gaps[:4]), gaps  # four tries a second apart
    assert all(2000 - SLOT - JITTER <= g <= 2000 + JITTER for g in gaps[4:]), gaps  # then each interval
    assert len(gaps) > 8
    # ... for half the stale time (60 s) after the last arrival, then silence
    assert 12000 + 30000 - 2000 - SLOT - JITTER <= times[-1] < 12000 + 30000 + JITTER, times


def _first_pull_after(origin_times, seqs=(1, 2), extra=0, **cfg):
    """o's readings number seqs[0] and seqs[1] (published at origin_times, a
    reading every origin_times[1]/(seqs gap) ms) arrive 1 s apart at a -> ms
    after the second until a pulls, or None in ival + grace + 5 s."""
    a, feed = _node_with_b(**cfg)
    n = max(seqs)
    step = (origin_times[1] - origin_times[0]) // (seqs[1] - seqs[0])
    raws = _raws(9, [origin_times[0] + (k - seqs[0]) * step for k in range(1, n + 1)])
    feed.readings(2, [(raws[seqs[0] - 1], 1)], 10000)
    feed.readings(2, [(raws[seqs[1] - 1], 1)], 11000)
    ival = step
    pulls = _pulls(a, 11000, 11000 + ival + GRACE + 5000 + extra)
    return pulls[0][0] - 11000 if pulls else None


def test_an_interval_is_learnt_from_500_ms_to_an_hour_and_over_fewer_than_64_readings():
    def expected(ival):
        got = _first_pull_after((0, ival), **LONG)
        return got is not None and ival + GRACE - SLOT <= got <= ival + GRACE + JITTER
    LONG = {"stale_ms": 86400000, "forget_ms": 86400000}
    assert expected(500)
    assert _first_pull_after((0, 499), **LONG) is None
    assert expected(3600000)
    assert _first_pull_after((0, 3600001), **LONG) is None
    got = _first_pull_after((0, 63 * 1000), seqs=(1, 64))              # 63 readings apart
    assert got is not None and 1000 + GRACE - SLOT <= got <= 1000 + GRACE + JITTER
    assert _first_pull_after((0, 64 * 1000), seqs=(1, 65)) is None     # 64 apart: no interval


def test_the_first_interval_learnt_arms_the_origins_heard_once():
    a, feed = _node_with_b()
    a.publish([("temp", 1.0, "C")], 9000)
    o1, o2 = _raws(9, (0, 2000))
    (p1,) = _raws(8, (0,))
    feed.readings(2, [(o1, 1)], 10000)
    feed.readings(2, [(p1, 1)], 11000)
    feed.readings(2, [(o2, 1)], 12000)
    pulls = _pulls(a, 12000, 16000)
    # p is expected one (guessed) interval and the grace after its only reading
    assert pulls[0][2] == [(node_id(8), 1, 1)]
    assert 11000 + 2000 + GRACE - SLOT <= pulls[0][0] <= 11000 + 2000 + GRACE + JITTER
    assert all([h[0] != a.id for p in pulls for h in p[2]])            # never our own


def test_pulls_for_many_origins_are_split_over_frames():
    a, feed = _node_with_b()
    n = max_pull_entries() + 3
    for i in range(n):
        r1, r2 = _raws(100 + i, (0, 2000))
        feed.readings(2, [(r1, 1)], 10000)
        feed.readings(2, [(r2, 1)], 12000)
    pulls = _pulls(a, 12000, 16000)
    first = [p for p in pulls if p[0] == pulls[0][0]]
    assert [len(p[2]) for p in first] == [max_pull_entries(), 3]
    assert sorted([h[0] for p in first for h in p[2]]) == sorted([node_id(100 + i) for i in range(n)])
    assert a.stats["pulls"] >= 2


def _events(a, start, until):
    got = []
    for t, _out in tick_through(a, until, start):
        got += [(t, e[0]) for e in a.pop_events() if e[0] in ("stale", "forgotten")]
    return got


def test_an_origin_goes_stale_then_is_forgotten_once_each_at_the_sweep():
    a = make_node(1, stale_ms=10000, forget_ms=20000)
    a.publish([("temp", 1.0, "C")], 0)          # our own: never stale, and first in the table
    feed = Feed(a)
    (r,) = _raws(9, (0,))
    feed.readings(2, [(r, 1)], 5000)
    a.pop_events()
    assert _events(a, 5000, 40000) == [(15000, "stale"), (25000, "forgotten")]
    assert a.readings.key_of(node_id(9)) is None and a.readings.key_of(a.id) is not None


def test_staleness_follows_an_origin_reading_every_longer_interval():
    # a reading every 30 s: two intervals (60 s) and four (120 s) are longer
    # than stale_ms and forget_ms, so they count
    a = make_node(1, stale_ms=10000, forget_ms=20000)
    a.publish([("temp", 1.0, "C")], 0)
    feed = Feed(a)
    r1, r2 = _raws(9, (0, 30000))
    feed.readings(2, [(r1, 1)], 5000)
    feed.readings(2, [(r2, 1)], 35000)              # interval learnt: 30 s
    a.pop_events()
    assert _events(a, 35000, 200000) == [(95000, "stale"), (155000, "forgotten")]
    # another origin heard once: the interval learnt from the others
    feed.readings(2, [(_raws(8, (0,))[0], 1)], 200000)
    a.pop_events()
    assert _events(a, 200000, 330000) == [(260000, "stale"), (320000, "forgotten")]


def test_a_pull_is_answered_for_a_newer_boot_and_ignored_for_an_unknown_origin():
    a, feed = _node_with_b()
    (r,) = _raws(9, (0,), boot=2)
    feed.readings(2, [(r, 1)], 10000)
    _pulls(a, 10000, 12000)
    feed.send(3, T_PULL, encode_pull(0, [(node_id(7), 1, 1), (node_id(9), 1, 5)], a.id), 20000)
    sent = []
    for t in range(20000, 20030):
        for _dst, frame in a.tick(t):
            if a.keys.open(frame)[0] == T_READINGS:
                sent.append(t)
    assert len(sent) == 1


def _boot_sync(b_ctr, publish=True, until=5000, hello_min_ms=100):
    """a boots beside b (weak, b_ctr frames sent this boot) and c (strong,
    young) -> (times of full pulls to b, to c) before `until`. Its first
    hello is out within hello_min_ms (the boot sync waits for it)."""
    a = make_node(1, hello_min_ms=hello_min_ms)
    feed = Feed(a)
    feed.ctr[B] = b_ctr - 1
    feed.readings(2, [(_raws(9, (0,))[0], 1)], 10, rssi=-90)
    feed.send(3, T_PULL, encode_pull(0, [], bytes(6)), 20, rssi=-40)
    if publish:
        a.publish([("temp", 1.0, "C")], 30)
    to_b, to_c = [], []
    for t, out in tick_through(a, until, 30):
        to_b += [t] * full_pulls(a, out, B)
        to_c += [t] * full_pulls(a, out, node_id(3))
    return to_b, to_c


def test_a_booting_node_syncs_with_a_neighbour_that_has_run_for_a_while_and_again_later():
    # 64 frames this boot: it has been up a while (holds the mesh's table);
    # a syncs with it 300 ms after the first neighbour was heard, and once
    # more 3 s later for what was in flight
    to_b, to_c = _boot_sync(64)
    assert to_c == [] and len(to_b) == 2
    assert _boot_wait(to_b[0]) and to_b[0] + 3000 <= to_b[1] <= to_b[0] + 3000 + JITTER
    to_b, to_c = _boot_sync(63)             # all young: the strongest, once
    assert to_b == [] and len(to_c) == 1 and _boot_wait(to_c[0])


def _boot_wait(t):
    """A boot sync 300 ms (+ jitter) after the first neighbour was heard at 10 ms."""
    return 10 + 300 <= t <= 10 + 300 + JITTER


def test_the_boot_sync_waits_for_our_first_hello():
    # the answer is sized by what our hello says we take: a neighbour that
    # has not heard it answers in 250-byte frames
    a = make_node(1)                 # hello_min_ms 1000: the first hello at 500-1000 ms
    feed = Feed(a)
    feed.send(3, T_PULL, encode_pull(0, [], bytes(6)), 20, rssi=-40)
    hello_at, pulls = None, []
    for t, out in tick_through(a, 3000, 30):
        for _dst, frame in out:
            if a.keys.open(frame)[0] == T_HELLO and hello_at is None:
                hello_at = t
        pulls += [t] * full_pulls(a, out, node_id(3))
    assert 500 <= hello_at <= 1000 and pulls
    assert hello_at < pulls[0] <= hello_at + 50 + 30


def test_a_boot_sync_that_brought_nothing_is_asked_again():
    # a holds one reading (b's) and none of its own: after 1.5 s it asks again
    to_b, to_c = _boot_sync(10, publish=False, until=2500)
    assert len(to_c) == 2 and _boot_wait(to_c[0])
    assert to_c[0] + 1500 + 300 <= to_c[1] <= to_c[0] + 1500 + 300 + JITTER
    to_b, to_c = _boot_sync(10, until=2500)             # two readings: it did
    assert to_b == [] and len(to_c) == 1 and _boot_wait(to_c[0])
    # once: when no node has published yet, the retry brings nothing either
    to_b, again = _boot_sync(10, publish=False, until=20000)
    assert len(again) == 2 and _boot_wait(again[0]) and to_b == []


def test_settle_sync_asks_once_more_when_the_start_up_flood_ends():
    for boot_ms, settle in ((0, True), (1000, True), (0, False)):
        a = make_node(1, now_ms=boot_ms, settle_sync=settle, startup_flood_ms=15000, hello_min_ms=100)
        feed = Feed(a)
        feed.readings(2, [(_raws(9, (0,))[0], 1)], boot_ms + 10)
        a.publish([("temp", 1.0, "C")], boot_ms + 20)
        times = []
        for t, out in tick_through(a, boot_ms + 20000, boot_ms):
            times += [t] * full_pulls(a, out, B)
        assert boot_ms + 310 <= times[0] <= boot_ms + 310 + JITTER, times
        if settle:
            assert len(times) == 2 and boot_ms + 15000 <= times[1] <= boot_ms + 15000 + JITTER, times
        else:
            assert len(times) == 1, times


def test_a_neighbour_is_a_stranger_when_its_own_reading_is_overdue():
    a, feed = _node_with_b()
    ae = a.policy.ae
    r1, r2 = _raws(9, (0, 2000))
    feed.readings(2, [(r1, 1)], 10000)
    # no interval learnt anywhere: the mesh is forming, nobody is late
    assert not ae.overdue(node_id(9), 10000 + 600000) and not ae.overdue(node_id(8), 600000)
    feed.readings(2, [(r2, 1)], 12000)
    assert not ae.overdue(node_id(9), 12000 + 2000 + GRACE)  # its interval and the grace
    assert ae.overdue(node_id(9), 12000 + 2000 + GRACE + 1)
    # origin 8: never heard, late one (mesh) interval after our boot; origin 7:
    # heard once, late one (mesh) interval after that
    boot = ae.boot_ms
    assert not ae.overdue(node_id(8), boot + 2000 + GRACE) and ae.overdue(node_id(8), boot + 2000 + GRACE + 1)
    feed.readings(2, [(_raws(7, (0,))[0], 1)], 20000)
    assert not ae.overdue(node_id(7), 20000 + 2000 + GRACE) and ae.overdue(node_id(7), 20000 + 2000 + GRACE + 1)


def _sync_times(a, until, to):
    times = []
    for t, out in tick_through(a, until, a.now_ms):
        times += [t] * full_pulls(a, out, to)
    return times


def test_a_stranger_gets_a_sync_after_the_start_up_flood_but_not_twice_within_the_holdoff():
    a = make_node(1)
    feed = Feed(a)
    r1, r2 = _raws(9, (0, 2000))
    feed.readings(2, [(r1, 1)], 10)
    a.publish([("temp", 1.0, "C")], 20)
    feed.readings(2, [(r2, 1)], 2010)                          # an interval learnt: strangers can be late
    _sync_times(a, 15999, B)
    assert a.stats["syncs"] == 1
    feed.send(4, T_PULL, encode_pull(0, [], bytes(6)), 16000)
    assert _sync_times(a, 16500, node_id(4)) == []           # one frame: not admitted, no sync
    for k in (1, 2):
        feed.send(4, T_PULL, encode_pull(0, [], bytes(6)), 16500 + k)
    (t4,) = _sync_times(a, 17000, node_id(4))                 # the third frame admits it
    assert 16502 + 20 <= t4 <= 16502 + 20 + JITTER            # 20 ms and a relay jitter
    for i, at, n in ((5, t4 + 4999, 0), (6, t4 + 5000, 1)):   # sync_holdoff_ms: 5 s
        for k in (-2, -1, 0):
            feed.send(i, T_PULL, encode_pull(0, [], bytes(6)), at + k)
        assert len(_sync_times(a, at + 500, node_id(i))) == n, i
