# ESP-NOW v2 frames (up to 1470 bytes) between nodes that both take them,
# negotiated through hellos, never assumed: a frame to a set of receivers fits
# the smallest of them, a broadcast fits every neighbour, and nothing larger
# than a v1 frame goes out before a hello said it may. See docs/protocol.md.
# Plain test functions: run under pytest and under MicroPython.
from mesh import wire
from mesh.wire import Reading
from meshhelp import BROADCAST, Net, make_node, node_id

V1, V2 = wire.MAX_FRAME, wire.MAX_FRAME_V2
SETTLED = 16000     # past the default startup_flood_ms: broadcasts no longer assume v1


def _star(*limits):
    """A hub (the first limit) linked to one leaf per further limit, hellos exchanged,
    the hub holding readings of 80 origins (far more than one v1 frame carries)."""
    nodes = [make_node(i + 1, max_frame=m) for i, m in enumerate(limits)]
    hub = nodes[0]
    net = Net(nodes, [(hub, leaf) for leaf in nodes[1:]])
    net.run_until(SETTLED)
    for k in range(80):
        hub.store_reading(Reading(node_id(100 + k), 1, 1, 1000, [("temp", 20.0 + k, "C")]), net.now)
    return hub, nodes[1:], net


def _sizes(frames):
    return [len(f) for _dst, f in frames]


def _carried(frames, sender):
    """How many readings a fresh node learns from these frames."""
    fresh = make_node(50, max_frame=V2)
    for _dst, frame in frames:
        fresh.receive(frame, sender.id, -50, 9000)
    assert fresh.stats["rejected"] == {}
    return fresh.others_held()


def test_hellos_say_how_large_a_frame_each_node_takes():
    hub, (v2, v1), _net = _star(V2, V2, V1)
    assert hub.neighbours.get(v2.id).max_frame == V2
    assert hub.neighbours.get(v1.id).max_frame == V1
    assert v2.neighbours.get(hub.id).max_frame == V2
    assert v1.neighbours.get(hub.id).max_frame == V2


def test_two_v2_nodes_use_1470_byte_frames():
    hub, (leaf,), _net = _star(V2, V2)
    big = hub.policy.push_all(leaf.id)
    small = make_node(9).policy  # a v1 node would need many more frames: compare below
    assert max(_sizes(big)) > V1 and max(_sizes(big)) <= V2
    assert len(big) == 2                         # 80 readings of 22 bytes: 65 fit a 1446-byte payload
    assert _carried(big, hub) == 80
    assert hub.policy.frame_limit(BROADCAST) == V2 and small.frame_limit(BROADCAST) == V1


def test_a_v1_neighbour_gets_250_byte_frames_and_caps_the_broadcast():
    hub, (v2, v1), _net = _star(V2, V2, V1)
    to_v2, to_v1, to_all = (hub.policy.push_all(v2.id), hub.policy.push_all(v1.id),
                            hub.policy.push_all(BROADCAST))
    assert max(_sizes(to_v2)) > V1
    assert max(_sizes(to_v1)) <= V1 and max(_sizes(to_all)) <= V1
    assert len(to_v1) == len(to_all) > len(to_v2)
    assert _carried(to_v1, hub) == _carried(to_all, hub) == _carried(to_v2, hub) == 80


def test_nothing_larger_than_v1_is_assumed():
    # no neighbour yet: a broadcast fits v1
    alone = make_node(1, max_frame=V2)
    assert alone.policy.frame_limit(BROADCAST) == V1
    # a neighbour heard only through its readings, not yet its hello, is v1
    hub, leaf = make_node(1, max_frame=V2), make_node(2, max_frame=V2)
    for _dst, frame in leaf.publish([("temp", 21.0, "C")], 10):
        hub.receive(frame, leaf.id, -50, 10)
    n = hub.neighbours.get(leaf.id)
    assert n is not None and not n.hello
    assert hub.policy.frame_limit(leaf.id) == V1 and hub.policy.frame_limit(BROADCAST) == V1


def test_a_v1_node_never_sends_more_than_250_bytes():
    hub, (leaf,), _net = _star(V1, V2)
    assert hub.neighbours.get(leaf.id).max_frame == V2
    assert max(_sizes(hub.policy.push_all(leaf.id))) <= V1
    assert max(_sizes(hub.policy.push_all(BROADCAST))) <= V1


def test_a_v2_neighbour_that_reboots_as_v1_is_believed():
    hub, (leaf,), net = _star(V2, V2)
    assert hub.policy.frame_limit(leaf.id) == V2
    v1_again = make_node(2, boot=2, now_ms=net.now, max_frame=V1)   # reflashed with a v1 build
    net.nodes[v1_again.id] = v1_again
    net.run_until(net.now + 3000)
    assert hub.neighbours.get(leaf.id).max_frame == V1
    assert max(_sizes(hub.policy.push_all(leaf.id))) <= V1


def test_broadcasts_fit_v1_while_the_neighbourhood_forms():
    # nodes powered on together say their hellos in any order: a v1 one
    # not heard yet must not miss the first broadcasts
    hub, leaf = make_node(1, max_frame=V2), make_node(2, max_frame=V2)
    net = Net([hub, leaf], [(hub, leaf)])
    net.run_until(3000)
    assert hub.neighbours.get(leaf.id).max_frame == V2
    assert hub.policy.frame_limit(leaf.id) == V2          # unicast: its hello said so
    assert hub.policy.frame_limit(BROADCAST) == V1
    net.run_until(SETTLED)
    assert hub.policy.frame_limit(BROADCAST) == V2


def test_a_dropped_v1_neighbour_keeps_broadcasts_small_for_a_failure_time():
    # a v1 neighbour dropped (rebooting, a failed unicast) is back before we
    # hear it: a 447-byte broadcast once reached a restarted v1 board so
    hub, (v2, v1), net = _star(V2, V2, V1)
    hub.now_ms = net.now
    hub.policy.link_failed(v1.id, net.now)
    assert hub.neighbours.get(v1.id) is None
    assert hub.policy.frame_limit(BROADCAST) == V1
    hub.now_ms = net.now + hub.config.neighbour_timeout_ms - 1
    assert hub.policy.frame_limit(BROADCAST) == V1
    hub.now_ms = net.now + hub.config.neighbour_timeout_ms
    assert hub.policy.frame_limit(BROADCAST) == V2
    # a v2 neighbour dropped leaves broadcasts as they are
    hub2, (v2b, _v1b), net2 = _star(V2, V2, V2)
    hub2.policy.link_failed(v2b.id, net2.now)
    assert hub2.policy.frame_limit(BROADCAST) == V2
