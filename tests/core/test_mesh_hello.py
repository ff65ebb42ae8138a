# Link state (mesh/hello.py) at its edges: what a neighbour's hello tells us
# (symmetry, whether it picked us, its two-hop links with their hysteresis,
# a bigger table), which neighbours are relay candidates (cost limits and
# the keep margin for current relays), what our hello says, and the probe of
# a silent neighbour (sent once, answered or not, given up after two waits).
# Neighbours are entered through the table's own `heard` (what Node.receive
# calls for an authenticated frame), their link estimates set where a
# boundary is the point. Plain test functions: run under pytest and MicroPython.
from meshhelp import full_pulls, make_node, node_id

from mesh.frames import HELLO_SYNC, HELLO_V2, T_HELLO, T_PULL, decode_hello, encode_pull
from mesh.unicast import BROADCAST

ME = node_id(1)
PROBE_WAIT = 1000


def _node(**cfg):
    a = make_node(1, **cfg)
    return a, a.policy.links


def _nbr(a, i, q_in=256, rssi=-50, now=0, stable=True):
    n = a.neighbours.heard(node_id(i), rssi, now)
    n.q_in = q_in
    n.stable = stable           # admitted (neighbours.py's hysteresis, tested there)
    return n


def _hello(a, i, entries, held=0, now=0, name="n"):
    a.policy.links.on_hello(node_id(i), (name, 0, held, entries), now)
    return a.neighbours.get(node_id(i))


def _choose(links, now=0):
    links.dirty = True              # what every hello we send does: costs drift
    links.update_relays(now)
    return links.relays


# ------------------------------------------------------------ on_hello

def test_a_hello_listing_us_makes_the_link_symmetric_and_says_if_we_relay():
    a, _links = _node()
    _nbr(a, 2)
    n = _hello(a, 2, [(ME, 100, True)], name="bee")
    assert (n.name, n.hello, n.sym, n.selects_me, n.q_out) == ("bee", True, True, True, 100)
    n = _hello(a, 2, [(node_id(3), 100, True)])
    assert (n.sym, n.selects_me, n.q_out) == (False, False, -1)
    assert n.cost() == 255          # it no longer hears us


def test_two_hop_links_count_from_half_and_stay_down_to_38_percent():
    a, _links = _node()
    _nbr(a, 2)
    c, d, e, f = node_id(3), node_id(4), node_id(5), node_id(6)
    n = _hello(a, 2, [(c, 64, False), (d, 63, False), (e, 48, False), (f, 47, False)])
    assert n.two_hop == (c,)        # a new two-hop link needs 64
    n = _hello(a, 2, [(c, 48, False), (d, 48, False)])
    assert n.two_hop == (c,)        # a counted one stays at 48, a new one at 48 does not count
    n = _hello(a, 2, [(c, 47, False)])
    assert n.two_hop == ()


def test_relays_are_chosen_again_only_when_a_hello_changes_the_neighbourhood():
    a, links = _node()
    _nbr(a, 2)
    c = node_id(3)
    links.update_relays(0)
    assert not links.dirty
    _hello(a, 2, [(c, 100, False)])
    assert links.dirty                      # a new two-hop link
    links.update_relays(0)
    _hello(a, 2, [(c, 100, False)])
    assert not links.dirty                  # the same hello again
    _hello(a, 2, [(c, 100, False), (ME, 100, False)])
    assert links.dirty                      # same two-hop links, now symmetric


def test_a_neighbour_holding_two_more_readings_than_us_gets_a_sync():
    a, _links = _node()
    c = make_node(3)
    a.publish([("temp", 1.0, "C")], 0)
    for _dst, frame in c.publish([("temp", 2.0, "C")], 0):   # c: the strongest neighbour
        a.receive(frame, c.id, -40, 0)
    _nbr(a, 2, rssi=-90)
    t = 0
    while t < 6000:                                          # the boot sync (to c), then quiet
        t = max(t, a.next_deadline())
        a.tick(t)
    assert a.policy.ae.synced and len(a.readings) == 2
    pulls_b = pulls_c = 0
    for held, at in ((3, 6000), (4, 6100)):
        _hello(a, 2, [(ME, 120, False)], held=held, now=at)
        for now in range(at, at + 100):
            out = a.tick(now)
            pulls_b += full_pulls(a, out, node_id(2))
            pulls_c += full_pulls(a, out, c.id)
        if held == 3:
            assert pulls_b == 0                              # one more: no sync
    assert (pulls_b, pulls_c) == (1, 0)                      # two more: a sync with it


# ------------------------------------------------------------ relay choice

def _sym(a, i, q_out, two, q_in=128):
    """Neighbour i hears us at q_out (0..127) and lists `two`; cost from q_in."""
    _nbr(a, i, q_in=q_in)
    return _hello(a, i, [(ME, q_out, False)] + [(t, 100, False) for t in two])


def test_a_neighbour_is_a_relay_candidate_up_to_etx_4():
    x = node_id(9)
    for q_out, cost, picked in ((63, 32, True), (61, 33, False)):
        a, links = _node()
        n = _sym(a, 2, q_out, [x])
        assert n.cost() == cost
        assert _choose(links) == ([node_id(2)] if picked else [])


def test_a_current_relay_is_kept_up_to_etx_5_5_and_a_new_one_not_taken_there():
    x = node_id(9)
    for q_out, cost, kept in ((45, 44, True), (44, 45, False)):
        a, links = _node()
        n = _sym(a, 2, 100, [x])
        assert _choose(links) == [node_id(2)]
        _hello(a, 2, [(ME, q_out, False), (x, 100, False)])
        assert n.cost() == cost
        assert _choose(links) == ([node_id(2)] if kept else [])
    a, links = _node()
    _sym(a, 2, 45, [x])                      # ETX 5.5, never a relay: not taken
    assert _choose(links) == []


def test_a_neighbour_that_does_not_hear_us_yet_is_no_relay_and_still_needs_covering():
    a, links = _node()
    x = node_id(9)
    _nbr(a, 9)                               # heard, no hello from it yet
    _sym(a, 2, 100, [x])                     # b hears x: our only way to reach x well
    assert _choose(links) == [node_id(2)]


def test_the_current_relay_is_kept_when_a_cheaper_one_covers_the_same():
    a, links = _node()
    x = node_id(9)
    _sym(a, 2, 63, [x])                      # ETX 4
    assert _choose(links) == [node_id(2)]
    _sym(a, 3, 127, [x], q_in=256)           # cheaper, same coverage
    assert _choose(links) == [node_id(2)]


def _grown(a, links):
    """a alone for two minutes: its hello interval has grown to beacon_ms."""
    t = 0
    while t < 120000:
        t = max(t, a.next_deadline())
        a.tick(t)
    assert links.trickle.interval == 60000
    return t


def _hellos_sent(a, start, until):
    """Tick a through its deadlines -> the times of the broadcast hellos it sent."""
    sent, t = [], start
    while t < until:
        t = max(t, a.next_deadline())
        sent += [t for dst, f in a.tick(t) if dst == BROADCAST and f[1] & 0x7F == T_HELLO]
    return sent


def test_a_new_relay_is_news_two_hellos_soon_a_dropped_one_is_not():
    a, links = _node(hello_min_ms=1000, beacon_ms=60000)
    t = _grown(a, links)
    snap = links.trickle.snapshot()
    x = node_id(9)
    _sym(a, 2, 100, [x], q_in=256)
    links._news = []                          # the neighbour's admission was news; not what is tested
    _choose(links, t)
    assert links.relays == [node_id(2)]
    first = links._news[0]
    assert t + 500 <= first <= t + 1000 and links._news == [first, first + 4000]
    assert links.trickle.snapshot() == snap   # Trickle goes on where it was
    assert _hellos_sent(a, t, first + 4001) == [first, first + 4000]
    t = first + 4001
    _hello(a, 2, [(ME, 100, False)])          # x gone: no relay needed any more
    _choose(links, t)
    assert links.relays == [] and links._news == []


def test_news_while_trickle_runs_fast_or_already_owed_adds_no_hello():
    a, links = _node(hello_min_ms=1000, beacon_ms=60000)
    links.reset(0)                            # just booted: Trickle at imin says it soon anyway
    assert links._news == []
    t = _grown(a, links)
    links.reset(t)
    owed = list(links._news)
    links.reset(t + 10)                       # a burst of news: the same two hellos
    assert links._news == owed and len(owed) == 2


def test_a_hello_saying_nothing_new_is_skipped_after_other_broadcasts_three_times_at_most():
    a, links = _node(hello_min_ms=1000, beacon_ms=60000)
    t = _grown(a, links)
    assert _hellos_sent(a, t, t + 60000) != []           # nothing else sent: hellos keep us alive
    t += 60000
    sent = []
    while len(sent) < 8:
        t = links.trickle.next_deadline()
        if links.trickle.snapshot()[4]:              # fired in this interval: roll over
            a.tick(t)
            continue
        a.publish([("temp", 1.0, "C")], t - 1)       # another broadcast since the last hello
        a.tick(t - 1)
        sent.append([1 for dst, f in a.tick(t) if f[1] & 0x7F == T_HELLO] != [])
    assert sent == [False, False, False, True] * 2    # three skipped, then a full one
    assert a.stats["hello_skipped"] == 6
    _sym(a, 2, 100, [], q_in=256)                        # news: a new neighbour listed
    links._news = []
    a.publish([("temp", 1.0, "C")], t)
    assert _hellos_sent(a, t, t + 60000) != []           # a different hello is never skipped


# ------------------------------------------------------------ our hello

def test_our_hello_lists_admitted_neighbours_strongest_first():
    a, links = _node()
    for i, q, stable in ((2, 100, True), (3, 64, True), (4, 250, False), (5, 200, True)):
        _nbr(a, i, q_in=q, stable=stable)
    _name, _flags, held, entries = decode_hello(links._payload(0))
    assert [(nid, q) for nid, q, _mpr in entries] == [(node_id(5), 100), (node_id(2), 50),
                                                       (node_id(3), 32)]
    assert held == len(a.readings)


def test_our_hello_flags_an_empty_table_and_a_v2_radio_and_nothing_else():
    a, links = _node()
    assert decode_hello(links._payload(0))[1] == HELLO_SYNC
    a.policy.ae._synced = True
    assert decode_hello(links._payload(0))[1] == 0
    a, links = _node(max_frame=1470)
    assert decode_hello(links._payload(0))[1] == HELLO_SYNC | HELLO_V2


# ------------------------------------------------------------ probes

def _probed(now=5000):
    """a with neighbours b and c, b fallen silent at `now` and probed."""
    a, links = _node()
    b, c = _nbr(a, 2), _nbr(a, 3)
    assert links.silent(b, now) == PROBE_WAIT
    assert links.next_deadline(now) == now            # the probe is still to send
    assert ("%r" % (links.snapshot(),)).count("%r" % (b.id,)) == 1
    out = links.tick(now, lambda mac: False)
    probes = [frame for dst, frame in out if dst == b.mac]
    # an empty pull naming b: only its MAC ack matters (9 bytes, not a hello)
    opened = a.keys.open(probes[0])
    assert len(probes) == 1 and opened[0] == T_PULL and bytes(opened[4]) == encode_pull(0, [], b.id)
    assert a.stats["probes"] == 1
    return a, links, b, c


def test_a_probe_acked_keeps_the_neighbour_and_one_not_acked_drops_it():
    a, links, b, c = _probed()
    assert not links.probe_done(c.mac, True, 5010)     # not the probed one
    due = b.due
    assert links.probe_done(b.mac, True, 5010)
    assert b.due > due and a.neighbours.get(b.id) is b
    assert not links.probe_done(b.mac, True, 5020)     # answered already
    a, links, b, c = _probed()
    assert links.probe_done(b.mac, False, 5010)
    assert a.neighbours.get(b.id) is None and a.neighbours.get(c.id) is c


def test_a_probe_not_sent_yet_is_not_answered_by_another_unicast():
    a, links = _node()
    b = _nbr(a, 2)
    links.silent(b, 5000)
    assert not links.probe_done(b.mac, False, 5001)
    assert a.neighbours.get(b.id) is b


def test_a_probe_forgotten_with_its_neighbour_is_not_answered():
    a, links, b, _c = _probed()
    links.forget(b.id)
    assert not links.probe_done(b.mac, False, 5010)


def test_probes_to_two_neighbours_go_out_in_one_tick_and_a_busy_one_waits():
    a, links = _node()
    b, c, d = _nbr(a, 2), _nbr(a, 3), _nbr(a, 4)
    for n in (b, c, d):
        links.silent(n, 5000)
    out = links.tick(5000, lambda mac: mac == d.mac)
    assert sorted([dst for dst, _f in out if dst != b"\xff" * 6]) == [b.mac, c.mac]
    assert links.next_deadline(5001) == 5001            # d's probe still waits


def test_silent_again_within_two_waits_drops_after_that_probes_again():
    a, links, b, _c = _probed(5000)
    assert links.silent(b, 5000 + 2 * PROBE_WAIT) is None
    a, links, b, _c = _probed(5000)
    assert links.silent(b, 5000 + 2 * PROBE_WAIT + 1) == PROBE_WAIT


def test_a_probe_that_never_got_out_is_given_up_after_two_waits():
    a, links = _node()
    b = _nbr(a, 2)
    links.silent(b, 5000)
    busy = lambda mac: True
    links.tick(5000 + 2 * PROBE_WAIT, busy)
    assert links.next_deadline(7000) == 7000             # still waiting to go out
    links.tick(5000 + 2 * PROBE_WAIT + 1, busy)
    assert links.next_deadline(7001) != 7001
    assert ("%r" % (links.snapshot()[3],)) == "[]"


def test_equal_relay_candidates_keep_the_first_listed():
    from mesh.relays import select_relays
    b, c, x = node_id(2), node_id(3), node_id(9)
    assert select_relays(ME, [(b, (x,), 10), (c, (x,), 10)], 1) == [b]
    assert select_relays(ME, [(c, (x,), 10), (b, (x,), 10)], 1) == [c]
    assert select_relays(ME, [(b, (x,), 12), (c, (x,), 10)], 1) == [c]     # else the cheaper
