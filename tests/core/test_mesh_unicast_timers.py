# Unicast.next_deadline: the node sleeps until the earliest of its routed
# timers — a queued flood rebroadcast (0..relay_jitter_ms), a request's
# end-to-end retry (e2e_timeout_ms), a half-reassembled message
# (frag_timeout_ms) — so each must be the answer when it is the earliest,
# and never when it is not. Defaults: jitter 50, e2e 2000, frags 5000 ms.
from mesh.fragments import split
from mesh.frames import KIND_FLOODED, MAX_BODY
from meshhelp import make_node, node_id

FAR = node_id(9)          # no route to it: requests are flooded at once


def _flooded_msg(origin, req_id, body=b"hi"):
    frag, piece = split(body)[0]
    return [KIND_FLOODED, origin, FAR, req_id, 0, 8, frag, piece]


def test_nothing_pending_means_no_deadline():
    assert make_node(1).policy.unicast.next_deadline() is None


def test_the_earliest_retry_is_the_deadline():
    u = make_node(1).policy.unicast
    u.request(FAR, b"ping", 1200)
    assert u.next_deadline() == 1200 + 2000
    u.request(FAR, b"ping", 1000)            # sent later, due earlier
    u.request(FAR, b"ping", 1500)
    assert u.next_deadline() == 1000 + 2000


def test_a_queued_rebroadcast_comes_before_the_retries_then_they_follow():
    u = make_node(1).policy.unicast
    u.request(FAR, b"ping", 1000)
    u.handle(b"\x02" * 6, _flooded_msg(node_id(3), 7), 1300)
    due = u.next_deadline()
    assert 1300 <= due <= 1300 + 50
    assert len(u.tick(due)) == 1              # the rebroadcast, one frame
    assert u.next_deadline() == 1000 + 2000   # back to the retry


def test_the_earliest_of_several_rebroadcasts():
    u = make_node(1).policy.unicast
    u.handle(b"\x02" * 6, _flooded_msg(node_id(3), 7), 1000)
    u.handle(b"\x02" * 6, _flooded_msg(node_id(4), 8), 1100)  # due after the first
    first = u.next_deadline()
    assert 1000 <= first <= 1050
    assert len(u.tick(first)) == 1
    second = u.next_deadline()
    assert 1100 <= second <= 1150
    assert len(u.tick(second)) == 1 and u.next_deadline() is None


def test_a_half_reassembled_message_sets_the_deadline_until_a_retry_is_earlier():
    n = make_node(1)
    u = n.policy.unicast
    frag, piece = split(bytes(MAX_BODY + 1))[0]          # the first of two pieces
    assert u.handle(b"\x02" * 6, [0, node_id(3), n.id, 5, 0, 8, frag, piece], 1000) == []
    assert u.next_deadline() == 1000 + 5000
    u.request(FAR, b"ping", 2000)
    assert u.next_deadline() == 2000 + 2000
    u.tick(4000)                                         # the retry goes out, due later
    assert u.next_deadline() == 1000 + 5000
