# A neighbour silent far longer than usual that is heard again before the
# table drops it (it was probed and then spoke): the two sides were probably
# cut apart, so the node swaps tables with it (MeshPolicy._neighbour_rejoin),
# except in the start-up flood, when everything is relayed anyway. Frames go
# from b to a only (a's own frames are looked at, never delivered), on a
# clock the test drives. Plain test functions: run under pytest and MicroPython.
from meshhelp import full_pulls, make_node, tick_through


def _run(a, until, to):
    """Tick a through its deadlines up to `until` -> full pulls it sent to `to`."""
    return sum([full_pulls(a, out, to) for _t, out in tick_through(a, until, a.now_ms)])


def _silence_then_back(startup_flood_ms, heard_for_ms, every_ms=20000, boot_ms=0):
    """b and c (stronger) publish every 20 s for heard_for_ms; then b falls
    silent while c goes on; once a has probed b (its silence passed the
    table's timeout) b publishes again. -> (full syncs a asked for before b
    came back, full pulls to b in the second after, full pulls to c then,
    whether b was still listed when it came back)"""
    a = make_node(1, now_ms=boot_ms, startup_flood_ms=startup_flood_ms)
    b, c = make_node(2), make_node(3)
    a.publish([("temp", 1.0, "C")], boot_ms)

    def hear(node, t, rssi):
        n = 0
        for _dst, frame in node.publish([("temp", t / every_ms, "C")], t):
            n += full_pulls(a, a.receive(frame, node.id, rssi, t), b.id)
        return n

    t = boot_ms
    while t < boot_ms + heard_for_ms:
        _run(a, t, b.id)
        hear(b, t, -50)
        hear(c, t, -30)
        t += every_ms
    due = a.neighbours.get(b.id).due
    while t < due:
        _run(a, t, b.id)
        hear(c, t, -30)
        t += every_ms
    _run(a, due, b.id)                       # a probes b; the probe's outcome never comes
    listed = a.neighbours.get(b.id) is not None
    before = a.stats.get("syncs", 0)
    back = due + 100
    after = hear(b, back, -50)
    to_c = 0
    for _t, out in tick_through(a, back + 1000, back):    # the next second, to b and to c
        after += full_pulls(a, out, b.id)
        to_c += full_pulls(a, out, c.id)
    return before, after, to_c, listed


def test_a_neighbour_back_after_a_long_silence_gets_a_full_sync():
    # silent 8 of its usual gaps and more than half the table's timeout
    # (neighbour_timeout_ms: 3.5 beacons, 210 s), but not yet dropped
    before, after, to_c, listed = _silence_then_back(15000, 300000, boot_ms=1000)
    assert listed                            # the rejoin path, not a new neighbour
    assert before >= 1                       # the boot sync (to c), so the one after is the rejoin's
    assert (after, to_c) == (1, 0)           # with b, not with the strongest neighbour


def test_no_rejoin_sync_inside_the_start_up_flood():
    # the start-up flood counts from a's boot (100 s on its clock)
    before, after, to_c, listed = _silence_then_back(600000, 300000, boot_ms=100000)
    assert listed and before >= 1
    assert (after, to_c) == (0, 0)
