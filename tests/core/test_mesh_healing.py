# Healing behaviours of the mesh policy on hand-wired topologies: reboot news
# is flooded at once, a repaired reading does not make later checks late, the
# first interval learnt arms checks for origins heard once. Runs under
# MicroPython too (plain asserts, no fixtures).
from meshhelp import Net, make_node, repair_delay

from mesh.frames import T_PULL, decode_pull


def _line(n, **cfg):
    nodes = [make_node(i + 1, **cfg) for i in range(n)]
    return nodes, Net(nodes, [(nodes[i], nodes[i + 1]) for i in range(n - 1)])


def _publish(net, node, t):
    net.now = t
    net.deliver(node, node.publish([("temp", 20.0, "C")], t))


def test_reboot_news_is_relayed_at_once_by_everyone():
    nodes, net = _line(4)
    a, b, c, d = nodes
    for k in range(3):
        net.run_until(10000 * k + 5000)
        _publish(net, a, 10000 * k + 5000)
    net.run_until(40000)
    assert d.readings.key_of(a.id) == (1, 3)
    # a reboots: a new node object with boot 2 in a's place
    a2 = make_node(1, boot=2, now_ms=40000)
    net.nodes[a.id] = a2
    net.events[a.id] = []
    _publish(net, a2, 40001)
    # without batching the news crosses three hops well inside one batch window
    net.run_until(40001 + 3 * 151)
    assert d.readings.key_of(a.id) == (2, 1)


def test_a_repaired_reading_does_not_delay_the_next_check():
    nodes, net = _line(2, pull_grace_ms=1500)
    a, b = nodes
    ae = b.policy.ae
    for k in range(3):
        _publish(net, a, 10000 * k)
        net.run_until(10000 * k + 100)
    # pretend b had to pull twice for reading 4, which then came late
    ae._tries[a.id] = 2
    frames = a.publish([("temp", 20.0, "C")], 30000)
    net.now = 30000 + 3500                # published on time, arrives 3.5 s late
    net.deliver(a, frames)
    assert ae._tries[a.id] == -2         # remembered as 'came late'
    slots = [s << 8 for origin, s in ae._wheel.items() if origin == a.id]
    # expected when it was due (30 s + 10 s + grace), not 3.5 s after that
    assert max(slots) <= 30000 + 3500 + 10000 + 1500 - 2500
    assert ae._late_ms(2) == 2500


def test_first_interval_learnt_arms_checks_for_origins_heard_once():
    nodes, net = _line(3)
    a, b, c = nodes
    _publish(net, c, 1000)        # c heard once by b: no interval known yet
    net.run_until(1100)
    ae = b.policy.ae
    assert c.id not in ae._wheel
    _publish(net, a, 2000)
    net.run_until(2100)
    _publish(net, a, 12000)       # b learns a's 10 s interval
    net.run_until(12100)
    assert c.id in ae._wheel
    # c's second reading is lost: b pulls for it instead of waiting for the third
    pulled = []
    for t in range(12100, 15000, 100):
        out = b.tick(t)
        for _dst, frame in out:
            ftype, _sender, _boot, _ctr, payload = b.keys.open(frame)
            if ftype == T_PULL:
                pulled.append(decode_pull(payload))
    assert any(c.id in [h[0] for h in haves] for _fl, _resp, haves in pulled)


def test_a_pull_overheard_for_the_same_reading_suppresses_ours():
    nodes, net = _line(3)
    a, b, c = nodes
    _publish(net, a, 1000)
    net.run_until(2000)                   # b relays after its batch window
    assert b.readings.key_of(a.id) == c.readings.key_of(a.id) == (1, 1)
    b.policy.ae._pull[a.id] = True        # b is about to ask for a's next reading
    c.policy.ae._pull[a.id] = True        # ... and so is c, which asks first
    net.now = 2100
    net.deliver(c, c.policy.ae._send_pulls(2100))
    assert a.id not in b.policy.ae._pull
    # a pull for something else does not suppress ours
    b.policy.ae._pull[c.id] = True
    c.policy.ae._pull[a.id] = True
    net.deliver(c, c.policy.ae._send_pulls(2200))
    assert c.id in b.policy.ae._pull


def test_a_repair_answers_at_once_when_named_later_when_another_was_named():
    named = repair_delay(lambda me, other: me)
    anyone = repair_delay(lambda me, other: bytes(6))
    other = repair_delay(lambda me, other: other)
    assert named is not None and named <= 21                       # asked by name: 1-20 ms
    assert anyone is not None and anyone <= 600 // 2 + 1           # anyone: within half a batch window
    assert other is not None and 600 // 2 <= other <= 600 // 2 + 600 + 1   # leaves the named one time first
