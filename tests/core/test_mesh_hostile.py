# Issue 11: what a holder of the network key (an insider) or a recorded frame
# (an outsider) can send must never crash a node, grow a table beyond its
# configured bound, misdirect unicasts, or administer a node without the
# operator's authorisation. Plain functions: they run under MicroPython too.
import gc

from mesh import admin, crypto, frames, wire
from mesh.frames import encode_readings_items, encode_routed
from mesh.wire import Reading, encode_reading
from meshhelp import KEY, make_node, node_id, raises_frame_error

BROADCAST = b"\xff" * 6


def _mem_meter():
    """() -> bytes allocated now: gc.mem_alloc() on MicroPython, tracemalloc on CPython."""
    if hasattr(gc, "mem_alloc"):
        def used():
            gc.collect()
            return gc.mem_alloc()
        return used, lambda: None
    import tracemalloc
    tracemalloc.start()

    def used():
        gc.collect()
        return tracemalloc.get_traced_memory()[0]
    return used, tracemalloc.stop


class _Insider:
    """A neighbour holding the network key that seals whatever it likes."""

    def __init__(self, index, boot=1):
        self.id = node_id(index)
        self.keys = crypto.Keys(KEY)
        self.boot = boot
        self.ctr = 0

    def seal(self, ftype, payload):
        self.ctr += 1
        return crypto.seal(self.keys, ftype, self.id, self.boot, self.ctr, payload)


def _readings_frame(insider, readings, hops=0):
    raws = [encode_reading(r) for r in readings]
    return insider.seal(wire.T_READINGS, encode_readings_items(raws, [hops] * len(raws), [8] * len(raws)))


# ------------------------------------------------------------------ finding 5

def test_unauthenticated_source_mac_cannot_redirect_a_neighbour():
    a, b = make_node(1), make_node(2)
    for _, f in a.publish([("temp", 1.0, "C")], 0):
        b.receive(f, a.id, -40, 0)
    assert b.neighbours.get(a.id).mac == a.id
    # a's next frame, put on the air again by someone else's radio (a wormhole)
    frame = a.publish([("temp", 2.0, "C")], 100)[0][1]
    b.pop_events()
    assert b.receive(frame, node_id(99), -40, 100) == []
    assert b.neighbours.get(a.id).mac == a.id           # unicasts still go to a itself
    assert ("rejected", "mac") in b.pop_events()


# ------------------------------------------------------------------ finding 3

def test_routed_packets_naming_the_broadcast_address_are_malformed():
    for origin, dst in ((BROADCAST, node_id(2)), (node_id(1), BROADCAST)):
        payload = encode_routed(0, origin, dst, 7, 0, 16, 0, b"Dhi")
        raises_frame_error(lambda: frames.decode_routed(payload))
    b = make_node(2)
    evil = _Insider(1)
    b.receive(evil.seal(wire.T_DATA, encode_routed(0, BROADCAST, b.id, 7, 0, 16, 0, b"Dhi")), evil.id, -40, 0)
    assert not [e for e in b.pop_events() if e[0] == "request"]
    assert b.stats["rejected"].get("malformed") == 1


# ------------------------------------------------------------------ finding 4

def test_antientropy_wheel_and_batch_stay_bounded_under_a_flood():
    # One origin learnt at a 1-hour interval, then thousands of newer readings
    # of it: each used to leave a wheel entry due an hour later (20k sealed
    # frames left 199,999). Plus distinct origins far beyond readings_max
    # between two batch flushes.
    node = make_node(50, readings_max=16, replay_max=8, neighbours_max=8)
    evil = _Insider(51)
    origin = node_id(60)
    used, stop = _mem_meter()
    try:
        base = None
        for seq in range(1, 1201):
            r = Reading(origin, 1, seq, seq * 3600000, [("temp", 1.0, "C")])
            node.receive(_readings_frame(evil, [r]), evil.id, -40, seq)
            if seq == 200:
                base = used()
        wheel = node.policy.ae._wheel
        assert len(wheel) <= len(node.readings), len(wheel)
        for i in range(600):        # distinct origins, no tick in between: one batch window
            r = Reading(bytes((0x06, 0, 0, 0, i >> 8, i & 0xFF)), 1, 1, 0, [("temp", 1.0, "C")])
            node.receive(_readings_frame(evil, [r]), evil.id, -40, 1300)
        assert len(node.policy._batch) <= node.config.readings_max + 1
        assert len(node.readings) <= node.config.readings_max + 1
        assert len(wheel) <= len(node.readings)
        node.pop_events()
        grown = used() - base
    finally:
        stop()
    # 1000 more readings of one origin and 600 origins that were evicted
    # again leave about nothing behind (readings_max entries of ~100 B each)
    assert grown < 8 * 1024, grown


# ------------------------------------------------------------------ finding 2

MASTER = bytes(range(32, 64))


def test_admin_token_binds_key_node_boot_and_sequence():
    nid = node_id(3)
    key = admin.node_admin_key(MASTER, "02:00:00:00:00:03")
    token = admin.sign(key, nid, 7, 1, b'{"cmd": "reboot"}')
    assert admin.verify(key, nid, 7, 0, token) == (1, b'{"cmd": "reboot"}')

    def refused(reason, *args):
        try:
            admin.verify(*args)
        except admin.AdminError as e:
            assert e.reason == reason, e.reason
            return
        assert False, "accepted: %s" % reason
    refused("no_key", None, nid, 7, 0, token)
    refused("tag", crypto.hmac_sha256(KEY, b"network key only"), nid, 7, 0, token)
    refused("tag", admin.node_admin_key(MASTER, "02:00:00:00:00:04"), nid, 7, 0, token)
    refused("node", key, node_id(4), 7, 0, token)
    refused("boot", key, nid, 8, 0, token)          # recorded before the target rebooted
    refused("seq", key, nid, 7, 1, token)           # replayed in the same boot
    refused("malformed", key, nid, 7, 0, token[:20])
    tampered = bytearray(token)
    tampered[15] ^= 1
    refused("tag", key, nid, 7, 0, bytes(tampered))
