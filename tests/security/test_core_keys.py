"""What the review found sound in the core's crypto, kept as tests: no frame
built without the key is accepted (every single-bit flip of valid frames,
truncations, extensions), keys are separated, the tag comparison looks at
every byte whatever the first difference, and no two sealed frames share a
CTR nonce (sender, boot, counter), not even across streams or a reboot."""
import insider
from insider import Insider, _id
from mesh import crypto, frames, wire
from mesh.wire import Reading, encode_reading


def _valid_frames():
    sender = Insider(1)
    raw = encode_reading(Reading(_id(1), 1, 3, 0, [("temp", 20.5, "C")]))
    return sender, [
        sender.seal(frames.T_HELLO, frames.encode_hello("n1", 0, 1, [(_id(2), 90, True)])),
        sender.seal(wire.T_READINGS, frames.encode_readings_items([raw], [0], [8])),
        sender.seal(wire.T_DATA, frames.encode_routed(0, _id(1), _id(2), 7, 0, 16, 0, b"ping")),
        sender.seal(frames.T_PULL, frames.encode_pull(1, [(_id(3), 1, 2)])),
    ]


def test_every_single_bit_flip_truncation_and_extension_of_a_valid_frame_is_rejected():
    sender, valid = _valid_frames()
    n = insider.node()
    before = n.snapshot()
    tried = 0
    for frame in valid:
        variants = [frame[:i] for i in range(len(frame))] + [frame + b"\x00", frame + frame[-8:]]
        for i in range(len(frame)):
            for bit in range(8):
                variants.append(frame[:i] + bytes((frame[i] ^ (1 << bit),)) + frame[i + 1:])
        for bad in variants:
            assert n.receive(bad, sender.id, -50, 1000) == []
            tried += 1
    assert n.snapshot() == before and tried > 1500
    assert sum(n.stats["rejected"].values()) == tried
    for frame in valid:                               # the originals still pass: the test can fail
        n.receive(frame, sender.id, -50, 1000)
    assert sum(n.stats["rejected"].values()) == tried


def test_keys_are_separated():
    keys = crypto.Keys(insider.KEY)
    other = crypto.Keys(bytes(16))
    assert keys.tag(b"abc") != other.tag(b"abc")
    # The MAC key is not the encryption key: a tag is not the keystream's first block.
    assert keys.tag(b"\x00" * 16)[:8] != keys.ctr_xor(b"\x00" * 14, b"\x00" * 8)


class _Counting(bytes):
    """bytes that count which positions were read."""

    def __new__(cls, data, seen):
        obj = super().__new__(cls, data)
        obj.seen = seen
        return obj

    def __getitem__(self, i):
        self.seen.add(i)
        return bytes.__getitem__(self, i)


def test_the_tag_comparison_reads_every_byte_wherever_they_first_differ():
    tag = bytes(range(8))
    for first_difference in range(8):
        seen = set()
        other = bytearray(tag)
        other[first_difference] ^= 0xFF
        assert not crypto._tags_equal(_Counting(tag, seen), _Counting(bytes(other), seen))
        assert seen == set(range(8))
    assert crypto._tags_equal(tag, bytes(tag))


def test_no_two_sealed_frames_share_a_nonce():
    """Three nodes talk for a simulated while (publish, hellos, requests,
    replies), then one reboots and talks again: every frame's (sender, boot,
    counter) is new."""
    nonces = set()
    total = 0

    def sent(out):
        nonlocal total
        for _mac, frame in out:
            key = frame[2:16]
            assert key not in nonces
            nonces.add(key)
            total += 1
        return out

    for boot in (1, 2):
        nodes = [insider.node(i, small=False, boot=boot) for i in (1, 2, 3)]
        for t in range(0, 60000, 500):
            for i, n in enumerate(nodes):
                out = sent(n.tick(t)) if (n.next_deadline() or 1 << 40) <= t else []
                if t % 5000 == 0:
                    out += sent(n.publish([("temp", 20.0 + i, "C")], t))
                if t % 7000 == 0:
                    out += sent(n.request(nodes[(i + 1) % 3].id, b"ping", t)[1])
                for other in nodes:
                    if other is not n:
                        for _mac, frame in out:
                            sent(other.receive(frame, n.id, -50, t))
    assert total > 500


def test_a_node_whose_counter_is_exhausted_goes_silent_rather_than_reuse_a_nonce():
    n = insider.node()
    n._ctr = n._uctr = 0x7FFFFFFF
    assert n.seal(wire.T_READINGS, b"\x00") is None and n.seal(wire.T_DATA, b"", unicast=True) is None
    assert n.stats["ctr_exhausted"] == 2
