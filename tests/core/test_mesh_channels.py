# Channel following (mesh/channels.py, docs/protocol.md "Channel moves"):
# golden bytes of T_CHANNEL, a gateway's move flooded and followed by the
# whole mesh, replayed and forged moves refused, and a node that missed the
# move finding the mesh by its scan. Plain functions: pytest and MicroPython.
from mesh import channels, crypto
from mesh.channels import K_HERE, K_MOVE, K_PROBE, T_CHANNEL
from meshhelp import KEY, Net, make_node, node_id, raises_frame_error

A = bytes.fromhex("024e4d000001")

# MOVE: kind 1 | origin A | boot 7 (u32) | move 0x0102 (u16) | channel 6 | delay 1000 ms (u16)
MOVE = ((A, 7, 0x0102, 6, 1000), "01" "024e4d000001" "07000000" "0201" "06" "e803")
PROBE = "02"
HERE = "030b"               # HERE, channel 11
# the MOVE above sealed by A (boot 7, counter 3, encrypted) with the test key
MOVE_FRAME = "a1a1024e4d000001070000000300000067a2687bbeac3006d2e5386fedddc679b75db399c40e192b"


def test_move_packs_and_parses_golden_bytes():
    assert channels.encode_move(*MOVE[0]).hex() == MOVE[1]
    assert channels.decode(bytes.fromhex(MOVE[1])) == (K_MOVE,) + MOVE[0]
    assert channels.decode(bytes.fromhex(PROBE)) == (K_PROBE,)
    assert channels.decode(bytes.fromhex(HERE)) == (K_HERE, 11)


def test_sealed_move_is_its_golden_frame():
    frame = crypto.seal(crypto.Keys(KEY), T_CHANNEL, A, 7, 3, channels.encode_move(*MOVE[0]))
    assert frame.hex() == MOVE_FRAME
    b = make_node(2)
    channels.attach(b, 0)
    b.receive(bytes.fromhex(MOVE_FRAME), A, -50, 10)
    assert b.stats["rejected"] == {}
    assert b.policy._plugged[T_CHANNEL].moving_to() == 6


def test_malformed_channel_payloads_are_refused():
    golden = bytes.fromhex(MOVE[1])
    for bad in (b"", golden[:-1], golden + b"\x00", b"\x02\x00", b"\x03", b"\x03\x06\x00", b"\x09",
                golden[:13] + b"\x00" + golden[14:], golden[:13] + b"\x0e" + golden[14:],
                b"\x03\x00", b"\x03\x0e"):
        raises_frame_error(lambda: channels.decode(bad))


class ChannelNet(Net):
    """Net where a node hears only the nodes on its own channel."""

    def _lost(self, table, src_id, dst_id):
        if self.nodes[src_id].config.channel != self.nodes[dst_id].config.channel:
            return True
        return Net._lost(self, table, src_id, dst_id)


def _line(count, quiet_ms=channels.QUIET_MS):
    nodes = [make_node(i + 1) for i in range(count)]
    parts = [channels.attach(n, 0, quiet_ms) for n in nodes]
    net = ChannelNet(nodes, [(nodes[i], nodes[i + 1]) for i in range(count - 1)])
    return net, nodes, parts


def test_a_move_floods_and_the_whole_mesh_switches_together():
    net, nodes, parts = _line(5)
    net.run_until(3000)
    assert [n.config.channel for n in nodes] == [1] * 5
    net.deliver(nodes[0], parts[0].announce(6, net.now))
    net.run_until(net.now + channels.MOVE_DELAY_MS - 1)
    assert [n.config.channel for n in nodes] == [1] * 5      # nobody leaves before the delay
    net.run_until(net.now + 400)
    assert [n.config.channel for n in nodes] == [6] * 5
    for n in nodes:
        assert [e[1:] for e in net.kinds(n, "channel")] == [(6, "move")]
    # every node relayed it once at most (the farthest one's copy would arrive late: none)
    moves = [f for _t, sender, _d, f in net.log if f[1] & 0x7F == T_CHANNEL]
    assert 1 < len(moves) <= 5
    # and on the new channel they still hear each other: a reading crosses the line
    net.deliver(nodes[4], nodes[4].publish([("temp", 1.0, "C")], net.now))
    net.run_until(net.now + 5000)
    assert nodes[4].id in nodes[0].readings


def test_replayed_and_forged_moves_are_refused():
    b = make_node(2)
    part = channels.attach(b, 0)
    frame = bytes.fromhex(MOVE_FRAME)
    b.receive(frame, A, -50, 10)
    assert part.moving_to() == 6
    b.tick(5000)
    assert b.config.channel == 6
    part.follow(1)          # back on 1 (as if a station held it there)
    b.receive(frame, A, -50, 6000)
    assert b.stats["rejected"] == {"replay": 1}
    assert part.moving_to() is None
    # the same move re-sealed by another member (a relay's copy): old news
    keys = crypto.Keys(KEY)
    b.receive(crypto.seal(keys, T_CHANNEL, node_id(3), 1, 0, channels.encode_move(A, 7, 0x0102, 6, 500)),
              node_id(3), -50, 6100)
    assert b.stats["channel_old"] == 1 and part.moving_to() is None
    # forged: one bit flipped, or sealed with another key
    forged = bytearray(channels.encode_move(A, 7, 0x0103, 9, 500))
    sealed = bytearray(crypto.seal(keys, T_CHANNEL, node_id(3), 1, 1, bytes(forged)))
    sealed[-12] ^= 1
    b.receive(bytes(sealed), node_id(3), -50, 6200)
    other = crypto.seal(crypto.Keys(bytes(16)), T_CHANNEL, node_id(3), 1, 2, bytes(forged))
    b.receive(other, node_id(3), -50, 6300)
    assert b.stats["rejected"] == {"replay": 1, "tag": 2}
    assert part.moving_to() is None
    b.tick(9000)
    assert b.config.channel == 1
    # a newer move of the same gateway is followed
    b.receive(crypto.seal(keys, T_CHANNEL, A, 7, 4, channels.encode_move(A, 7, 0x0103, 11, 500)), A, -50, 9100)
    assert part.moving_to() == 11


def test_a_node_that_missed_the_move_finds_the_mesh_by_scanning():
    net, nodes, parts = _line(3, quiet_ms=20000)
    net.run_until(3000)
    nodes[2].config.channel = 2          # away (on another channel) while the mesh moves
    net.deliver(nodes[0], parts[0].announce(9, net.now))
    net.run_until(net.now + 2000)
    assert [n.config.channel for n in nodes] == [9, 9, 2]
    nodes[2].config.channel = 1          # back, on the mesh's old channel: it hears nobody
    # the others' own quiet checks are answered by each other; node 3 scans
    net.run_until(net.now + 20000 + 13 * channels.DWELL_MS + 1000)
    assert nodes[2].config.channel == 9
    assert [e[2] for e in net.kinds(nodes[2], "channel")][-1] == "found"
    assert nodes[2].stats["channel_scans"] >= 1
    assert [n.config.channel for n in nodes[:2]] == [9, 9]


def test_a_lone_node_scans_every_channel_then_waits_longer_at_home():
    net, nodes, parts = _line(1, quiet_ms=10000)
    part = parts[0]
    net.run_until(10000 + 14 * channels.DWELL_MS + 100)
    visited = [e[1] for e in net.kinds(nodes[0], "channel")]
    assert visited == list(range(2, 14)) + [1]
    probes = [f for _t, _s, _d, f in net.log if f[1] & 0x7F == T_CHANNEL]
    assert len(probes) == 14             # home first, then each channel once
    assert nodes[0].config.channel == 1 and part._wait_ms == 20000
    for _ in range(12):
        net.run_until(net.now + part._wait_ms + 14 * channels.DWELL_MS + 100)
    assert part._wait_ms == channels.QUIET_MAX_MS


def test_a_pinned_node_neither_follows_nor_scans():
    net, nodes, parts = _line(2, quiet_ms=10000)
    parts[1].pinned = True
    net.deliver(nodes[0], parts[0].announce(6, 100))
    net.run_until(30000)
    assert nodes[1].config.channel == 1 and net.kinds(nodes[1], "channel") == []
    assert nodes[1].stats.get("channel_scans", 0) == 0


def test_the_table_of_gateways_is_bounded():
    b = make_node(2)
    part = channels.attach(b, 0)
    keys = crypto.Keys(KEY)
    for i in range(40):
        origin = node_id(100 + i)
        b.receive(crypto.seal(keys, T_CHANNEL, origin, 1, 0, channels.encode_move(origin, 1, 1, 2 + i % 10, 500)),
                  origin, -50, 10 * i)
        assert len(part._moves) <= channels.MAX_ORIGINS
    assert part.moving_to() == 2 + 39 % 10
