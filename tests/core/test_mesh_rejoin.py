# A neighbour silent far longer than usual that is heard again before the
# table drops it (it was probed and then spoke): the two sides were probably
# cut apart, so the node swaps tables with it (MeshPolicy._neighbour_rejoin),
# except in the start-up flood, when everything is relayed anyway. Frames go
# from b to a only (a's own frames are looked at, never delivered), on a
# clock the test drives. Plain test functions: run under pytest and MicroPython.
from meshhelp import full_pulls, make_node


def _run(a, until, to):
    """Tick a through its deadlines up to `until` -> full pulls it sent to `to`."""
    pulls = 0
    while True:
        d = a.next_deadline()
        if d is None or d > until:
            break
        pulls += full_pulls(a, a.tick(max(d, a.now_ms)), to)
    return pulls


def _silence_then_back(startup_flood_ms, heard_for_ms, every_ms=20000):
    """b publishes every 20 s for heard_for_ms, then falls silent; once a
    has probed it (its silence passed the table's timeout) b publishes again.
    -> (full pulls a sent b before the silence, after b came back, whether b
    was still listed when it came back)"""
    a = make_node(1, startup_flood_ms=startup_flood_ms)
    b = make_node(2)
    a.publish([("temp", 1.0, "C")], 0)
    before = 0
    for t in range(0, heard_for_ms, every_ms):
        before += _run(a, t, b.id)
        for _dst, frame in b.publish([("temp", t / every_ms, "C")], t):
            before += full_pulls(a, a.receive(frame, b.id, -50, t), b.id)
    due = a.neighbours.get(b.id).due
    before += _run(a, due, b.id)             # a probes b; the probe's outcome never comes
    listed = a.neighbours.get(b.id) is not None
    back = due + 100
    after = 0
    for _dst, frame in b.publish([("temp", 99.0, "C")], back):
        after += full_pulls(a, a.receive(frame, b.id, -50, back), b.id)
    after += _run(a, back + 1000, b.id)
    return before, after, listed


def test_a_neighbour_back_after_a_long_silence_gets_a_full_sync():
    # silent 8 of its usual gaps and more than half the table's timeout
    # (neighbour_timeout_ms: 3.5 beacons, 210 s), but not yet dropped
    before, after, listed = _silence_then_back(15000, 300000)
    assert listed                            # the rejoin path, not a new neighbour
    assert before >= 1                       # the boot sync, so the one after is the rejoin's
    assert after == 1


def test_no_rejoin_sync_inside_the_start_up_flood():
    before, after, listed = _silence_then_back(600000, 300000)
    assert listed and before >= 1
    assert after == 0
