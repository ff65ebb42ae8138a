# Link state (mesh/hello.py) at its edges: what a neighbour's hello tells us
# (symmetry, whether it relays, its two-hop links with their hysteresis, a
# bigger table), which neighbours our relaying decision weighs, what our
# hello says, and the probe of a silent neighbour (sent once, answered or
# not, given up after two waits).
# Neighbours are entered through the table's own `heard` (what Node.receive
# calls for an authenticated frame), their link estimates set where a
# boundary is the point. Plain test functions: run under pytest and MicroPython.
from meshhelp import full_pulls, make_node, node_id

from mesh.frames import HELLO_RELAYS, HELLO_SYNC, HELLO_V2, T_HELLO, T_PULL, decode_hello, encode_pull
from mesh.unicast import BROADCAST
from mesh.wire import T_BEACON

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


def _hello(a, i, entries, held=0, now=0, name="n", flags=0):
    a.policy.links.on_hello(node_id(i), (name, flags, held, entries), now)
    return a.neighbours.get(node_id(i))


def _decide(links):
    links.dirty = True              # what every hello we send does: admissions lapse unannounced
    links.update_relaying()
    return links.relays_all


# ------------------------------------------------------------ on_hello

def test_a_hello_listing_us_makes_the_link_symmetric_and_says_if_we_relay():
    a, _links = _node()
    _nbr(a, 2)
    n = _hello(a, 2, [(ME, 100, False)], name="bee", flags=HELLO_RELAYS)
    assert (n.name, n.hello, n.sym, n.relays, n.q_out) == ("bee", True, True, True, 100)
    n = _hello(a, 2, [(node_id(3), 100, True)])
    assert (n.sym, n.relays, n.q_out) == (False, False, -1)
    assert n.cost() == 255          # it no longer hears us


def test_two_hop_links_count_from_75_and_stay_down_to_62_percent():
    a, _links = _node()
    _nbr(a, 2)
    c, d, e, f = node_id(3), node_id(4), node_id(5), node_id(6)
    n = _hello(a, 2, [(c, 96, False), (d, 95, False), (e, 80, False), (f, 79, False)])
    assert n.two_hop == (c,)        # a new two-hop link needs 96
    n = _hello(a, 2, [(c, 80, False), (d, 80, False)])
    assert n.two_hop == (c,)        # a counted one stays at 80, a new one at 80 does not count
    n = _hello(a, 2, [(c, 79, False)])
    assert n.two_hop == ()


def test_relaying_is_decided_again_only_when_a_hello_changes_the_neighbourhood():
    a, links = _node()
    _nbr(a, 2)
    c = node_id(3)
    links.update_relaying()
    assert not links.dirty
    _hello(a, 2, [(c, 100, False)])
    assert links.dirty                      # a new two-hop link
    links.update_relaying()
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


# ------------------------------------------------------------ relaying

def _sym(a, i, two, q_in=256):
    """Neighbour i hears us and lists `two` (heard at 100 of 127)."""
    _nbr(a, i, q_in=q_in)
    return _hello(a, i, [(ME, 120, False)] + [(t, 100, False) for t in two])


def test_we_relay_while_two_of_our_neighbours_are_linked_only_through_us():
    a, links = _node()
    assert not links.relays_all              # nothing known yet (the start-up flood relays meanwhile)
    b, c = node_id(2), node_id(3)
    _sym(a, 2, [])
    assert not _decide(links)                # one neighbour: a leaf never relays
    _sym(a, 3, [])
    assert _decide(links)                    # b and c hear only us
    _sym(a, 2, [c])
    assert not _decide(links)                # b hears c well: whatever one sends, the other hears
    _hello(a, 2, [(ME, 120, False), (c, 90, False)])
    assert not _decide(links)                # 90 of 127 (71 %): a counted link stays down to 80
    _hello(a, 2, [(ME, 120, False), (c, 79, False)])
    assert _decide(links) and b in [n.id for n in a.neighbours.values()]


def test_only_admitted_neighbours_that_hear_us_are_weighed():
    a, links = _node()
    _sym(a, 2, [])
    _nbr(a, 3)                               # heard, no hello from it yet: not yet one of ours
    assert not _decide(links)
    _hello(a, 3, [(node_id(7), 120, False)]) # its hello does not list us
    assert not _decide(links)
    _sym(a, 3, [])
    assert _decide(links)
    a.neighbours.get(node_id(3)).stable = False   # its admission lapsed
    assert not _decide(links)


def test_our_hello_says_whether_we_relay_and_sets_every_relay_bit():
    a, links = _node()
    _sym(a, 2, [])
    _sym(a, 3, [])
    for relays in (True, False):
        if not relays:
            _sym(a, 2, [node_id(3)])
        _name, flags, _held, entries = decode_hello(links._payload(0))
        assert bool(flags & HELLO_RELAYS) == relays
        assert len(entries) == 2 and [e[2] for e in entries] == [True, True]


def test_a_change_of_relaying_is_no_news():
    a, links = _node(hello_min_ms=1000, beacon_ms=60000)
    t = _grown(a, links)
    _sym(a, 2, [])
    assert not _decide(links)
    _sym(a, 3, [])
    links._news = []                          # the admissions were news; not what is tested
    snap = links.trickle.snapshot()
    assert _decide(links)                     # from not relaying to relaying
    assert links._news == [] and links.trickle.snapshot() == snap
    assert _hellos_sent(a, t, t + 30000) == []      # the next regular hello carries it


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


def test_news_while_trickle_runs_fast_or_already_owed_adds_no_hello():
    a, links = _node(hello_min_ms=1000, beacon_ms=60000)
    links.reset(0)                            # just booted: Trickle at imin says it soon anyway
    assert links._news == []
    t = _grown(a, links)
    links.reset(t)
    owed = list(links._news)
    links.reset(t + 10)                       # a burst of news: the same two hellos
    assert links._news == owed and len(owed) == 2


def _kinds_sent(a, start, count, also=None):
    """Tick a through its deadlines with nothing else sent, its neighbours
    kept alive -> per hello due: [(frame kind, length)]; also(t, frames)."""
    names = {T_HELLO: "hello", T_BEACON: "beacon"}
    kinds, t = [], start
    while len(kinds) < count:
        t = max(t, a.next_deadline())
        for nid in list(a.neighbours.table):
            a.neighbours.touch(nid, t)
        frames = [f for dst, f in a.tick(t) if dst == BROADCAST and f[1] & 0x7F in names]
        if frames:
            kinds.append([(names[f[1] & 0x7F], len(f)) for f in frames])
            if also is not None:
                also(t, frames)
    return kinds


def test_a_hello_saying_nothing_new_shrinks_to_a_beacon_when_nothing_else_was_sent():
    a, links = _node(hello_min_ms=1000, beacon_ms=60000)
    t = _grown(a, links)
    for i in range(2, 12):
        _sym(a, i, [], q_in=256)          # news: a full hello lists ten neighbours
    b = make_node(12)
    heard = []

    def hear(t, frames):
        for f in frames:
            b.receive(f, ME, -50, t)
        n = b.neighbours.get(ME)
        heard.append(n is not None and n.last_ms == t and n.name == a.name)
    kinds = _kinds_sent(a, t, 20, hear)
    said = [k[0][0] for k in kinds]
    last = len(said) - 1 - said[::-1].index("hello", 0, 12)    # past the news, the interval grown
    steady = said[last - 7:last + 1]
    assert steady == ["beacon", "beacon", "beacon", "hello"] * 2, said
    size = dict([k[0] for k in kinds])
    assert size["beacon"] < size["hello"] - 60          # ten entries of 7 bytes left out
    assert a.stats["hello_short"] >= 6
    assert heard == [True] * len(heard)                 # a sign of life to every neighbour, and our name


def test_a_hello_saying_nothing_new_is_skipped_after_other_broadcasts_three_times_at_most():
    a, links = _node(hello_min_ms=1000, beacon_ms=60000)
    t = _grown(a, links)
    said = [k[0][0] for k in _kinds_sent(a, t, 4)]     # nothing else sent: beacons and hellos keep us alive
    while said[-1] != "hello":                          # ... until a full one
        said = [k[0][0] for k in _kinds_sent(a, t, 1)]
    t = a.next_deadline() + 1
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
    _sym(a, 2, [], q_in=256)                        # news: a new neighbour listed
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


def test_a_one_way_neighbour_is_not_probed_and_lasts_the_configured_failure_time():
    # its hello does not list us: it does not hear us, a probe could only
    # fail (and dropping it at once churned our hellos)
    a, links = _node()
    b = _nbr(a, 2, now=1000)
    _hello(a, 2, [(node_id(3), 120, True)], now=1000)
    timeout = a.neighbours.timeout_ms
    assert links.silent(b, 5000) == 1000 + timeout - 5000
    assert [dst for dst, _f in links.tick(5000, lambda mac: False) if dst == b.mac] == []
    assert a.stats.get("probes", 0) == 0
    assert links.silent(b, 1000 + timeout) is None       # then dropped, as any silent neighbour
    # once its hello lists us, silence is probed again
    _hello(a, 2, [(a.id, 120, True)], now=1000)
    assert links.silent(b, 5000) == PROBE_WAIT


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
