# Bad remote input is dropped, counted by reason, and changes no other state.
from mesh import crypto, wire
import legacy_flood
from mesh.wire import Reading
from meshhelp import KEY, make_node, node_id


def _primed():
    """Receiver b that already knows sender a (one reading and a beacon)."""
    a, b = make_node(1), make_node(2)
    b.receive(a.publish([("temp", 20.0, "C")], 100)[0][1], a.id, -40, 100)
    b.receive(a.tick(a.next_deadline())[0][1], a.id, -40, 1100)
    b.pop_events()
    return a, b


def _expect_dropped(node, frame, reason):
    before = node.snapshot()
    rejected = dict(node.stats["rejected"])
    rx = node.stats["rx"]
    out = node.receive(frame, b"\x02\x00\x00\x00\x00\x63", -30, 5000)
    assert out == []
    assert node.snapshot() == before, reason
    assert node.stats["rx"] == rx + 1
    assert node.stats["rejected"].get(reason, 0) == rejected.get(reason, 0) + 1, node.stats
    assert node.pop_events() == [("rejected", reason)]


def _reading_frame(sender, boot, ctr, seq=9, key=KEY):
    r = Reading(sender, boot, seq, 0, [("temp", 1.0, "C")])
    return crypto.seal(crypto.Keys(key), wire.T_READINGS, sender, boot, ctr, legacy_flood.encode_readings_frame([r], [0]))


def test_forged_tag():
    a, b = _primed()
    good = a.publish([("temp", 21.0, "C")], 2000)[0][1]
    forged = good[:-1] + bytes((good[-1] ^ 0x80,))
    _expect_dropped(b, forged, "tag")
    tampered = good[:20] + bytes((good[20] ^ 1,)) + good[21:]
    _expect_dropped(b, tampered, "tag")
    # the untouched original is still accepted afterwards
    b.receive(good, a.id, -40, 2001)
    assert b.readings[a.id].values[0][1] == 21.0


def test_replayed_frame():
    a, b = _primed()
    frame = a.publish([("temp", 22.0, "C")], 2000)[0][1]
    b.receive(frame, a.id, -40, 2000)
    b.pop_events()
    _expect_dropped(b, frame, "replay")


def test_truncated_frames():
    a, b = _primed()
    frame = a.publish([("temp", 22.0, "C")], 2000)[0][1]
    for n in range(0, 24):
        _expect_dropped(b, frame[:n], "short")
    for n in range(24, len(frame)):
        _expect_dropped(b, frame[:n], "tag")


def test_wrong_key():
    a, b = _primed()
    _expect_dropped(b, _reading_frame(a.id, 1, 500, key=bytes(16)), "tag")


def test_wrong_version_and_magic_and_garbage():
    a, b = _primed()
    frame = a.publish([("temp", 22.0, "C")], 2000)[0][1]
    _expect_dropped(b, b"\xa2" + frame[1:], "version")
    _expect_dropped(b, b"\x00" + frame[1:], "magic")
    _expect_dropped(b, b"hello, is anybody out there? " * 3, "magic")
    _expect_dropped(b, bytes(300), "magic")
    _expect_dropped(b, b"\xa1" + bytes(1500), "malformed")   # longer than ESP-NOW v2's 1470
    _expect_dropped(b, b"\xa1" + bytes(300), "tag")          # a v2 length: the tag decides


def test_own_id_rejected():
    a, b = _primed()
    _expect_dropped(b, _reading_frame(b.id, 1, 0), "own")


def test_authentic_but_malformed_payload():
    a, b = _primed()
    k = crypto.Keys(KEY)
    _expect_dropped(b, crypto.seal(k, wire.T_READINGS, a.id, 1, 900, b"\x05\x01"), "malformed")
    _expect_dropped(b, crypto.seal(k, wire.T_BEACON, a.id, 1, 901, b"\x09ab"), "malformed")
    _expect_dropped(b, crypto.seal(k, wire.T_DATA, a.id, 1, 902, b"\x00"), "malformed")
    # malformed frames do not consume their counter: the real frame still gets in
    assert b.receive(crypto.seal(k, wire.T_BEACON, a.id, 1, 900, b"\x02ok"), a.id, -40, 5000) == []
    assert b.neighbours.get(a.id).name == "ok"


def test_unknown_and_reserved_types():
    a, b = _primed()
    k = crypto.Keys(KEY)
    for t in (0, 6, 15, 0x70, 0x7F):     # 0x70: the simulator's baselines
        _expect_dropped(b, crypto.seal(k, t, a.id, 1, 950 + t, b""), "type")


def test_encrypted_frame_without_aes():
    a, b = _primed()
    frame = a.publish([("temp", 22.0, "C")], 2000)[0][1]
    if not (frame[1] & 0x80):
        return  # this runtime has no AES at all
    b.keys.has_aes = False
    _expect_dropped(b, frame, "no_aes")


def test_reboot_accepted_and_old_boot_replay_rejected():
    a, b = _primed()
    old = a.publish([("temp", 23.0, "C")], 2000)[0][1]   # boot 1, not yet delivered
    a2 = make_node(1, boot=2)                            # same node after a reboot
    fresh = a2.publish([("temp", 5.0, "C")], 10)[0][1]   # boot 2, counter restarts at 0
    b.receive(fresh, a.id, -40, 3000)
    assert b.readings[a.id].boot == 2 and b.readings[a.id].values[0][1] == 5.0
    b.pop_events()
    _expect_dropped(b, old, "replay")                    # old boot now a replay
    _expect_dropped(b, fresh, "replay")


def test_older_reading_in_fresh_frame_is_ignored_not_rejected():
    # Readings have their own newer-than rule on top of the frame replay window.
    a, b = _primed()
    stale = _reading_frame(a.id, 1, 800, seq=0)
    b.receive(stale, a.id, -40, 3000)
    assert b.readings[a.id].seq == 1
    assert ("reading",) not in [e[:1] for e in b.pop_events()]
    assert b.stats["rejected"] == {}


def test_never_raises_on_odd_inputs():
    a, b = _primed()
    for junk in (b"", b"\xa1", bytearray(b"\xa1\x01" + bytes(30)), memoryview(bytes(40))):
        assert b.receive(junk, node_id(9), -90, 6000) == []
