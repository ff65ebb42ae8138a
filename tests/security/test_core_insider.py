"""The core against an insider: frames sealed with the network key, of every
payload layout (hello, pull, routed data at its real length, readings,
beacon), whole or mutated, from a pool of senders larger than any table.

Whatever arrives: nothing raises out of Node, every table stays within its
configured bound, every frame the node sends fits ESP-NOW, and an input the
node rejects changes nothing but counters. An outsider (no key) and a
replayed frame are never accepted."""
from hypothesis import given
from hypothesis import strategies as st

import insider
from fuzzcount import counted
from insider import Insider, ME, POOL, _id, layout_payloads, mutate, mutations, over_bounds
from mesh import wire

senders = st.integers(1, POOL).filter(lambda i: i != ME)


def _receive(n, frame, sender_id, now):
    out = n.receive(frame, sender_id, -60, now)
    for mac, sent in out:
        assert len(mac) == 6 and len(sent) <= wire.MAX_FRAME
    return out


def _tick_until(n, now):
    """Run the node's timers up to `now` (bounded: a timer never re-arms in the past forever)."""
    for _ in range(50):
        due = n.next_deadline()
        if due is None or due > now:
            return
        for _mac, sent in n.tick(max(due, n.now_ms)):
            assert len(sent) <= wire.MAX_FRAME


@given(st.lists(st.tuples(senders, layout_payloads, st.integers(0, 3000)), min_size=1, max_size=40))
@counted
def test_sealed_frames_of_every_layout_keep_every_table_within_bounds(script):
    n, now = insider.node(), 0
    crowd = {}
    for index, (ftype, payload), step in script:
        sender = crowd.setdefault(index, Insider(index))
        now += step
        _receive(n, sender.seal(ftype, payload), sender.id, now)
        _tick_until(n, now)
        assert not over_bounds(n), over_bounds(n)
        assert len(n.pop_events()) <= n.config.events_max


@given(senders, layout_payloads, mutations(), st.booleans())
@counted
def test_mutated_layouts_sealed_by_an_insider_never_raise_and_rejections_change_nothing(index, layout, m, encrypt):
    ftype, payload = layout
    n = insider.node()
    sender = Insider(index)
    frame = sender.seal(ftype, mutate(payload, m)[:wire.MAX_PAYLOAD], encrypt)
    before, rejected = n.snapshot(), dict(n.stats["rejected"])
    _receive(n, frame, sender.id, 1000)
    if n.stats["rejected"] != rejected:
        assert n.snapshot() == before
        assert set(n.stats["rejected"]) <= {"malformed", "type"}, n.stats["rejected"]
    assert not over_bounds(n)


@given(senders, layout_payloads, st.integers(0, 0x7F))
@counted
def test_a_layout_under_any_other_frame_type_never_raises(index, layout, ftype):
    n = insider.node()
    sender = Insider(index)
    _receive(n, sender.seal(ftype, layout[1]), sender.id, 1000)
    assert not over_bounds(n)


@given(senders, layout_payloads, st.binary(min_size=16, max_size=16), st.binary(min_size=8, max_size=8))
@counted
def test_an_outsider_is_never_accepted(index, layout, wrong_key, tag):
    """No key, no entry: a frame sealed with another key, or with a made-up tag."""
    n = insider.node()
    before = n.snapshot()
    good = Insider(index).seal(*layout)
    forged = [Insider(index, key=wrong_key).seal(*layout), good[:-8] + tag]
    for frame in forged:
        if frame == good:
            continue                                     # the one-in-2^64 right guess
        assert _receive(n, frame, _id(index), 1000) == []
    assert n.snapshot() == before
    assert set(n.stats["rejected"]) <= {"tag"}


@given(st.lists(st.tuples(st.integers(3, 2 + insider.SMALL["replay_max"]), layout_payloads), min_size=1,
                max_size=12), st.data())
@counted
def test_a_replayed_frame_is_never_accepted_twice(script, data):
    """While its sender holds a place in the replay table (replay_max senders).
    A sender forced out by more senders than that starts a fresh window: see
    docs/security.md ("Replays") for what a replay can do then."""
    n, crowd, heard = insider.node(), {}, []
    for now, (index, layout) in enumerate(script, 1):
        sender = crowd.setdefault(index, Insider(index))
        frame = sender.seal(*layout)
        _receive(n, frame, sender.id, now * 100)
        heard.append((frame, sender.id))
    frame, sender_id = data.draw(st.sampled_from(heard))
    before, rejected = n.snapshot(), sum(n.stats["rejected"].values())
    assert _receive(n, frame, sender_id, 10 ** 6) == []
    assert n.snapshot() == before and sum(n.stats["rejected"].values()) == rejected + 1


@given(st.lists(st.tuples(senders, layout_payloads), min_size=1, max_size=10))
@counted
def test_two_honest_nodes_stay_within_bounds_beside_an_insider(script):
    """Whatever an insider tells one node, what it passes on keeps the next one sound."""
    a, b = insider.node(ME), insider.node(ME + POOL)
    crowd, now = {}, 0
    for index, layout in script:
        sender = crowd.setdefault(index, Insider(index))
        now += 700
        for mac, frame in _receive(a, sender.seal(*layout), sender.id, now) + a.tick(now):
            _receive(b, frame, a.id, now)
    for mac, frame in a.tick(now + 100000):
        _receive(b, frame, a.id, now + 100000)
    assert not over_bounds(a) and not over_bounds(b)


def test_the_bounds_are_reachable():
    """The suite's limits are small enough that a flood reaches them (else the
    bound checks above could not fail)."""
    n, now = insider.node(), 0
    from mesh import frames
    from mesh.wire import Reading, encode_reading
    for i in range(1, POOL + 1):
        if i == ME:
            continue
        sender = Insider(i)
        raw = encode_reading(Reading(_id(i), 1, 1, 0, [("temp", 1.0, "C")]))
        now += 10
        _receive(n, sender.seal(frames.T_HELLO, frames.encode_hello("x", 0, 0, [(n.id, 100, True)])), sender.id, now)
        _receive(n, sender.seal(wire.T_READINGS, frames.encode_readings_items([raw], [0], [8])), sender.id, now)
    sizes = insider.table_sizes(n)
    for table in ("replay", "neighbours"):
        assert sizes[table][0] == sizes[table][1], (table, sizes[table])
    assert n.others_held() == n.config.readings_max
