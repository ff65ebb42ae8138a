# The Trickle timer (RFC 6206): doubling while consistent, reset on news,
# suppression after k consistent copies. Plain test functions: run under
# pytest and MicroPython.
from mesh.prng import Rng
from mesh.trickle import Trickle


def _fires(t, start, end, step=10):
    out = []
    for now in range(start, end, step):
        if t.due(now):
            out.append(now)
    return out


def test_interval_doubles_up_to_imax_and_fires_once_per_interval():
    t = Trickle(1000, 8000, 0, Rng(1), 0)
    fires = _fires(t, 0, 40000)
    gaps = [b - a for a, b in zip(fires, fires[1:])]
    # intervals 1, 2, 4, 8, 8, 8 s ...: one fire in the second half of each
    assert len(fires) == 7, fires
    assert 500 <= fires[0] < 1000
    assert all(g <= 8000 * 3 // 2 + 10 for g in gaps) and max(gaps) > 4000
    assert t.interval == 8000


def test_reset_returns_to_imin_and_is_idempotent_there():
    t = Trickle(1000, 64000, 0, Rng(2), 0)
    _fires(t, 0, 60000)
    assert t.interval >= 16000
    t.reset(60000)
    assert t.interval == 1000 and 60500 <= t.next_deadline() < 61000
    d = t.next_deadline()
    t.reset(60100)                  # a second piece of news in the same burst
    assert t.next_deadline() == d
    assert _fires(t, 60000, 61010) != []


def test_k_consistent_copies_suppress_the_transmission():
    t = Trickle(1000, 1000, 2, Rng(3), 0)
    t.heard_consistent()
    t.heard_consistent()
    assert _fires(t, 0, 1000) == []             # two copies heard: silent
    assert len(_fires(t, 1000, 2000)) == 1      # new interval, counter cleared


def test_next_deadline_is_fire_then_interval_end():
    t = Trickle(1000, 4000, 0, Rng(4), 0)
    fire = t.next_deadline()
    assert 500 <= fire < 1000 and not t.due(fire - 1) and t.due(fire)
    assert t.next_deadline() == 1000 and not t.due(999)


def test_fewer_than_k_consistent_copies_do_not_suppress():
    t = Trickle(1000, 1000, 2, Rng(3), 0)
    t.heard_consistent()                        # one copy of two needed
    assert len(_fires(t, 0, 1000)) == 1


def test_an_imin_below_one_ms_is_one_ms():
    # a zero interval would fire at every call and never double
    t = Trickle(0, 0, 0, Rng(5), 0)
    assert t.imin == 1 and t.imax == 1 and t.interval == 1
    assert _fires(t, 0, 4, step=1) == [0, 1, 2, 3]
