# The neighbour table (mesh/neighbours.py) at its edges: a newcomer's state,
# slot reuse, the first gap and its average, the link estimate (young-link
# ratio, then the moving average with missed frames), when a frame counts as
# a rejoin, the timeout's floor and its limit for weak links, a table with no
# callbacks, and the cached earliest deadline under a random sequence of
# events. Golden numbers are worked out in the comments beside them. Plain
# test functions: run under pytest and MicroPython.
from meshhelp import node_id

from mesh.neighbours import Neighbour, NeighbourTable
from mesh.prng import Rng
from mesh.wire import MAX_FRAME


def _table(timeout_ms=10000, min_timeout_ms=None, rejoins=None):
    events = []
    t = NeighbourTable(8, timeout_ms, events.append, min_timeout_ms)
    if rejoins is not None:
        t.on_rejoin = rejoins.append
    return t, events


def test_a_newcomer_starts_unproven_with_no_hello_counted_busy_and_the_first_free_slot():
    t, events = _table()
    a = t.heard(node_id(2), -50, 700)
    assert a.as_tuple() == (node_id(2), 0, node_id(2), None, -50, 700, -1, 0, 0, 0, 96, -1, 0,
                            False, False, True, (), MAX_FRAME, False, 0, False)
    assert events == [("neighbour", node_id(2), "up")]
    b, c = t.heard(node_id(3), -50, 700), t.heard(node_id(4), -50, 700)
    assert (b.slot, c.slot) == (1, 2)
    t.drop(node_id(3))
    assert t.heard(node_id(5), -50, 800).slot == 1        # the freed slot first
    assert t.heard(node_id(6), -50, 800).slot == 3
    assert t.by_slot(1).id == node_id(5)


def test_link_cost_edges():
    n = Neighbour(node_id(2), node_id(2), -50, 0, 0)
    n.q_in, n.q_out = 256, -1
    assert n.cost() == 8                 # no hello yet: our side's estimate both ways
    n.q_out = 0
    assert n.cost() == 255               # it hears us at 0 %: 8 * 256 / 2, capped
    n.q_out = 127
    assert n.cost() == 8                 # 127 -> 256: a perfect link
    n.q_in = 0
    assert n.cost() == 255               # nothing heard: unusable, not a division by zero
    n.q_in, n.q_out = 1, 0
    assert n.cost() == 255
    n.q_in, n.q_out, n.hello, n.sym = 256, 127, True, False
    assert n.cost() == 255               # its hello does not list us


def test_the_first_gap_replaces_the_prior_then_an_eighth_of_each_change():
    t, _ = _table()
    n = t.heard(node_id(2), -50, 0)
    t.heard(node_id(2), -50, 1000)
    assert n.gap == 1000
    t.heard(node_id(2), -50, 3000)
    assert n.gap == 1000 + (2000 - 1000) // 8
    t.heard(node_id(2), -50, 3000)
    assert n.gap == 1125 + (0 - 1125) // 8
    t2, _ = _table()
    m = t2.heard(node_id(2), -50, 0)
    t2.heard(node_id(2), -50, 0)         # two frames in one ms: a gap of 1, never 0
    assert m.gap == 1


def test_the_link_estimate_young_then_averaged_with_missed_frames():
    t, _ = _table()
    n = t.heard(node_id(2), -50, 0, boot=1, ctr=10)
    assert (n.got, n.q_in) == (1, 96)
    t.heard(node_id(2), -50, 10, boot=1, ctr=11)
    assert n.q_in == (256 * 1 + 64 * 4) // (1 + 4)        # 102: one frame after the first
    t.heard(node_id(2), -50, 20, boot=1, ctr=13)
    assert n.q_in == (256 * 2 + 64 * 4) // (3 + 4)        # 109: two of three counters
    t.heard(node_id(2), -50, 30, boot=1, ctr=13)          # a repeat says nothing
    assert (n.got, n.q_in) == (3, 109)
    t.heard(node_id(2), -50, 40, boot=2, ctr=1)           # a reboot starts afresh
    assert (n.got, n.ctr0, n.q_in) == (1, 1, 109)
    for ctr in range(2, 17):
        t.heard(node_id(2), -50, 40 + ctr, boot=2, ctr=ctr)
    assert (n.got, n.q_in) == (16, (256 * 15 + 256) // (15 + 4))   # 215: still young at 16
    t.heard(node_id(2), -50, 100, boot=2, ctr=17)
    assert n.q_in == 215 - (215 >> 4) + 16                # 218: the average from frame 17
    t.heard(node_id(2), -50, 110, boot=2, ctr=20)         # two missed: two decays first
    q = 218 - (218 >> 4)
    q -= q >> 4
    assert n.q_in == q - (q >> 4) + 16                    # 197


def _rejoin_after(silence, q_in=128, gap=100, timeout_ms=10000, relays=True):
    rejoins = []
    t, _ = _table(timeout_ms, rejoins=rejoins)
    n = t.heard(node_id(2), -50, 0)
    t.heard(node_id(2), -50, gap)
    n.q_in, n.relays = q_in, relays
    t.heard(node_id(2), -50, gap + silence)
    return rejoins


def test_a_rejoin_is_a_silence_past_half_the_timeout_and_8_gaps_on_a_good_link():
    assert _rejoin_after(5001) == [node_id(2)]            # timeout 10 s: more than 5 s
    assert _rejoin_after(5000) == []
    assert _rejoin_after(5001, q_in=127) == []            # a link below 50 % is no news
    assert _rejoin_after(8001, gap=1000) == [node_id(2)]  # 8 gaps of 1 s
    assert _rejoin_after(8000, gap=1000) == []


def test_a_neighbour_that_relays_nothing_rejoins_only_after_the_whole_failure_time():
    assert _rejoin_after(5001, relays=False) == []        # half the timeout is its normal quiet
    assert _rejoin_after(10000, relays=False) == []
    assert _rejoin_after(10001, relays=False) == [node_id(2)]


def test_the_timeout_has_a_floor_and_a_cap_for_weak_links():
    t, _ = _table(10000, min_timeout_ms=500)
    n = t.heard(node_id(2), -50, 0)
    t.heard(node_id(2), -50, 10)
    assert n.due == 10 + 500              # 8 gaps of 10 ms at 96/256: 213 ms, floored
    t, _ = _table(200000, min_timeout_ms=1000)
    n = t.heard(node_id(2), -50, 0)
    n.q_in = 16
    t.heard(node_id(2), -50, 1000)
    assert n.due == 1000 + 1000 * 8 * 256 // 32           # q below 32 counts as 32


def test_a_neighbour_whose_hello_says_it_relays_nothing_has_the_whole_failure_time():
    t, _ = _table(200000, min_timeout_ms=500)
    n = t.heard(node_id(2), -50, 0)
    t.heard(node_id(2), -50, 10)
    assert n.due == 10 + 500              # busy until its hello says otherwise: a burst's gaps
    n.relays = False
    t.heard(node_id(2), -50, 20)
    assert n.due == 20 + 200000           # quiet by design: its gaps say nothing


def test_a_table_without_callbacks_expires_and_hears_rejoins_quietly():
    t, events = _table()
    n = t.heard(node_id(2), -50, 0)
    t.heard(node_id(2), -50, 100)
    n.q_in = 256
    t.heard(node_id(2), -50, 9000)        # a rejoin with no one to tell
    t.expire(n.due)
    assert t.get(node_id(2)) is None and events[-1] == ("neighbour", node_id(2), "down")


def test_touch_keeps_a_neighbour_and_ignores_a_stranger():
    t, _ = _table()
    n = t.heard(node_id(2), -50, 0)
    due = n.due
    t.touch(node_id(3), 5000)
    t.touch(node_id(2), 5000)
    assert n.due == 5000 + 10000 > due and n.last_ms == 5000
    assert t.next_deadline() == n.due


def test_the_earliest_deadline_stays_right_through_random_events():
    rng = Rng(7)
    t, _ = _table(4000, min_timeout_ms=200)
    now = 0
    for _ in range(600):
        now += rng.below(300)
        i = 2 + rng.below(6)
        op = rng.below(10)
        if op < 6:
            t.heard(node_id(i), -50, now, boot=1, ctr=now)
        elif op < 8:
            t.touch(node_id(i), now)
        elif op < 9:
            t.drop(node_id(i))
        else:
            t.expire(now)
        dues = [n.due for n in t.values()]
        assert t.next_deadline() == (min(dues) if dues else None)


def test_a_full_table_evicts_the_weakest_unadmitted_neighbour_before_any_admitted_one():
    events = []
    t = NeighbourTable(3, 10000, events.append)
    admitted = []
    t.on_admit = admitted.append
    for ctr in range(3):                              # 2: three frames in a row, admitted
        t.heard(node_id(2), -50, 10 + ctr, boot=1, ctr=ctr)
    t.heard(node_id(3), -50, 20, boot=1, ctr=0)       # 3 and 4: one frame each
    t.heard(node_id(4), -50, 30, boot=1, ctr=0)
    assert [n.id for n in admitted] == [node_id(2)] and t.get(node_id(2)).stable
    t.heard(node_id(5), -50, 40, boot=1, ctr=0)       # full: 3 goes, though 2 is older
    assert t.get(node_id(2)) is not None and t.get(node_id(3)) is None
    assert ("neighbour", node_id(3), "down") in events
    t.get(node_id(5)).q_in = 40                       # 5 is weaker than 4 (96), though more recent
    t.heard(node_id(6), -50, 50, boot=1, ctr=0)
    assert t.get(node_id(5)) is None and t.get(node_id(4)) is not None
    for i, q in ((2, 200), (4, 100), (6, 100)):
        t.get(node_id(i)).stable, t.get(node_id(i)).q_in = True, q
    events.clear()
    # all admitted: the weakest, then least recent, while it is below 50 %
    # (the keep band); quietly for our neighbours (not an admitted one lost)
    t.heard(node_id(7), -50, 60, boot=1, ctr=0)
    assert t.get(node_id(4)) is None and t.get(node_id(2)) is not None and t.get(node_id(6)) is not None
    assert ("neighbour", node_id(4), "down") in events


def test_a_table_full_of_good_admitted_links_does_not_track_a_newcomer():
    t = NeighbourTable(2, 10000, [].append)
    changes = []
    t.on_change = lambda n, up: changes.append((n.id, up, n.stable))
    for i in (2, 3):
        n = t.heard(node_id(i), -50, 10, boot=1, ctr=0)
        n.stable, n.q_in = True, 128                  # admitted, heard at exactly 50 %
    assert t.heard(node_id(4), -50, 20, boot=1, ctr=0) is None
    assert t.get(node_id(4)) is None and len(t) == 2
    t.get(node_id(3)).q_in = 127                      # one slips below 50 %: it makes room
    assert t.heard(node_id(4), -50, 30, boot=1, ctr=0) is not None
    assert t.get(node_id(3)) is None
    # the evicted one is no longer counted as admitted when the policy hears of it
    assert changes[-2:] == [(node_id(3), False, False), (node_id(4), True, False)]


def test_the_timeout_covers_three_times_the_longest_recent_silence():
    # traffic in waves: short gaps, then one long quiet spell; the mean gap
    # alone (8 x 100 ms) would declare the neighbour silent in under a second
    t, _ = _table(200000, min_timeout_ms=500)
    n = t.heard(node_id(2), -50, 0)
    n.q_in = 256
    t.heard(node_id(2), -50, 60000)                 # a minute of quiet
    assert n.gap_hi == 60000
    for k in range(1, 9):
        t.heard(node_id(2), -50, 60000 + 100 * k)   # then a burst, 100 ms apart
    # forgotten at an eighth of the time that passes: 8 x 100 ms -> -100 ms
    assert n.gap_hi == 60000 - 8 * (100 // 8)
    assert n.due == 60800 + 3 * n.gap_hi            # not 8 mean gaps
    t.heard(node_id(2), -50, 60800 + 300000)        # longer than the cap: still the cap
    assert n.due == 360800 + 200000


def _rejoin_after_quiet(silence):
    rejoins = []
    t, _ = _table(1000, rejoins=rejoins)            # half the timeout: 500 ms
    n = t.heard(node_id(2), -50, 0)
    t.heard(node_id(2), -50, 100)
    n.q_in, n.gap_hi = 200, 3000                    # mean gap 100 ms, a 3 s silence lately
    t.heard(node_id(2), -50, 100 + silence)
    return rejoins


def test_a_silence_past_three_times_the_longest_one_is_a_rejoin():
    assert _rejoin_after_quiet(9000) == []          # 3 x 3 s: a normal silence here
    assert _rejoin_after_quiet(9001) == [node_id(2)]


def test_a_touch_after_a_silence_counts_that_silence_as_normal():
    t, _ = _table(200000, min_timeout_ms=500)
    n = t.heard(node_id(2), -50, 0)
    t.heard(node_id(2), -50, 100)
    assert n.gap_hi == 100
    t.touch(node_id(2), 5100)                       # its MAC acked our probe after 5 s
    assert n.gap_hi == 5000 and n.last_ms == 5100
    assert n.due == 5100 + 3 * 5000
    t.touch(node_id(2), 5200)                       # a shorter one does not lower it
    assert n.gap_hi == 5000
