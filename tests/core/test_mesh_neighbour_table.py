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


def test_a_newcomer_starts_unproven_with_no_hello_and_the_first_free_slot():
    t, events = _table()
    a = t.heard(node_id(2), -50, 700)
    assert a.as_tuple() == (node_id(2), 0, node_id(2), None, -50, 700, -1, 0, 0, 0, 96, -1, 0,
                            False, False, False, (), MAX_FRAME)
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


def _rejoin_after(silence, q_in=128, gap=100, timeout_ms=10000):
    rejoins = []
    t, _ = _table(timeout_ms, rejoins=rejoins)
    n = t.heard(node_id(2), -50, 0)
    t.heard(node_id(2), -50, gap)
    n.q_in = q_in
    t.heard(node_id(2), -50, gap + silence)
    return rejoins


def test_a_rejoin_is_a_silence_past_half_the_timeout_and_8_gaps_on_a_good_link():
    assert _rejoin_after(5001) == [node_id(2)]            # timeout 10 s: more than 5 s
    assert _rejoin_after(5000) == []
    assert _rejoin_after(5001, q_in=127) == []            # a link below 50 % is no news
    assert _rejoin_after(8001, gap=1000) == [node_id(2)]  # 8 gaps of 1 s
    assert _rejoin_after(8000, gap=1000) == []


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
