"""Property tests for the mesh core (CPython only: hypothesis).

Remote input must never raise out of a Node and, when rejected, must change
nothing but counters. Wire encoders and decoders must round-trip. The crypto
is cross-checked against independent implementations (stdlib hmac, the
`cryptography` package's AES-CTR).
"""
import hashlib
import hmac
import os
import struct
import sys

from nowmesh.bundle import core

core.load()     # explicit: this runs the firmware's mesh core (`mesh`) on CPython
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fuzzcount import counted

from mesh import crypto, wire
from mesh.node import Node
from mesh.wire import FrameError, Reading

# The retired flood policy's payload codecs live with the core tests (test-only).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "core"))
import legacy_flood  # noqa: E402

KEY = bytes(range(16))


def _id(i):
    return bytes((2, 0, 0, 0, 0, i))


def _node(i):
    return Node({"id": _id(i), "name": "n%d" % i, "key": KEY}, 1, bytes((i,)), 0)


def _primed_pair():
    """b has heard a reading, a beacon and a request from a: non-trivial state."""
    a, b = _node(1), _node(2)
    frames = a.publish([("temp", 20.0, "C"), ("x", 1.0, "y")], 10)
    frames += a.request(_id(3), b"ping", 20)[1] + a.tick(a.next_deadline())
    for _, f in frames:
        b.receive(f, a.id, -40, 30)
    b.pop_events()
    return a, b, [f for _, f in frames]


def _assert_only_counters_changed(node, frame):
    before = node.snapshot()
    rejected_before = sum(node.stats["rejected"].values())
    assert node.receive(frame, _id(7), -80, 1000) == []
    assert sum(node.stats["rejected"].values()) == rejected_before + 1
    assert node.snapshot() == before
    events = node.pop_events()
    assert len(events) == 1 and events[0][0] == "rejected"


@given(st.binary(max_size=300))
@counted
def test_random_bytes_never_raise_or_change_state(data):
    _, b, _ = _primed_pair()
    _assert_only_counters_changed(b, data)


@st.composite
def _mutation(draw):
    kind = draw(st.sampled_from(["flip", "truncate", "extend", "splice"]))
    pos = draw(st.integers(min_value=0, max_value=249))
    bit = draw(st.integers(min_value=0, max_value=7))
    extra = draw(st.binary(min_size=1, max_size=20))
    which = draw(st.integers(min_value=0, max_value=10))
    return kind, pos, bit, extra, which


def _mutate(frame, m):
    kind, pos, bit, extra, _ = m
    pos %= len(frame)
    if kind == "flip":
        return frame[:pos] + bytes((frame[pos] ^ (1 << bit),)) + frame[pos + 1:]
    if kind == "truncate":
        return frame[:pos]
    if kind == "extend":
        return frame + extra
    return frame[:pos] + extra + frame[pos + len(extra):]


@given(_mutation())
@counted
def test_mutated_valid_frames_are_dropped_without_state_change(m):
    a, _, _ = _primed_pair()
    fresh = a.publish([("temp", 25.0, "C")], 500) + a.request(_id(2), b"status", 500)[1]
    _, b, _ = _primed_pair()
    frame = fresh[m[4] % len(fresh)][1]
    mutated = _mutate(frame, m)
    if mutated == frame:
        return
    _assert_only_counters_changed(b, mutated)


@given(st.integers(min_value=0, max_value=0x7F), st.binary(max_size=wire.MAX_PAYLOAD),
       st.booleans())
@counted
def test_authentic_garbage_payloads_never_raise(ftype, payload, encrypt):
    """Validly tagged frames with arbitrary payloads reach the decoders."""
    _, b, _ = _primed_pair()
    frame = crypto.seal(b.keys, ftype, _id(1), 1, 10000, payload, encrypt)
    before = b.snapshot()
    rejected_before = dict(b.stats["rejected"])
    b.receive(frame, _id(1), -40, 1000)
    if b.stats["rejected"] != rejected_before:
        assert b.snapshot() == before
        assert set(b.stats["rejected"]) <= {"malformed", "type"}


def _valid_payloads():
    r = Reading(_id(5), 3, 9, 77, [("temp", 1.5, "C"), ("wind", 2.0, "m/s")])
    return [
        (wire.T_READINGS, legacy_flood.encode_readings_frame([r, r], [0, 1])),
        (wire.T_BEACON, legacy_flood.encode_beacon("garden")),
        (wire.T_DATA, legacy_flood.encode_data(legacy_flood.DATA_REQUEST, _id(5), _id(2), 7, 0, 7, b"ping")),
        (wire.T_DATA, legacy_flood.encode_data(legacy_flood.DATA_REPLY, _id(5), _id(2), 7, 1, 7, b"pong")),
    ]


@given(_mutation())
@counted
def test_authentic_mutated_payloads_never_raise(m):
    """Near-valid payloads, correctly sealed: the decoders' error paths."""
    _, b, _ = _primed_pair()
    ftype, payload = _valid_payloads()[m[4] % 4]
    payload = _mutate(payload, m)[:wire.MAX_PAYLOAD]
    before = b.snapshot()
    rejected_before = dict(b.stats["rejected"])
    b.receive(crypto.seal(b.keys, ftype, _id(1), 1, 10000, payload), _id(1), -40, 1000)
    if b.stats["rejected"] != rejected_before:
        assert b.snapshot() == before
        assert set(b.stats["rejected"]) <= {"malformed"}


@given(st.sampled_from([0, 1, 2]))
@counted
def test_replays_of_every_accepted_frame_are_dropped(_):
    _, b, frames = _primed_pair()
    for f in frames:
        _assert_only_counters_changed(b, f)


# ---------------------------------------------------------------- wire round trips

_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=12)
_value = st.tuples(
    st.one_of(st.sampled_from([q[0] for q in wire.QUANTITIES[1:]]), _text.filter(bool)),
    st.floats(width=32, allow_nan=False),
    st.one_of(st.sampled_from([q[1] for q in wire.QUANTITIES[1:]]), _text),
)
_reading = st.builds(
    Reading,
    st.binary(min_size=6, max_size=6),
    st.integers(min_value=0, max_value=0xFFFF),
    st.integers(min_value=0, max_value=0xFFFF),
    st.integers(min_value=0, max_value=0xFFFFFFFF),
    st.lists(_value, max_size=6),
)


@given(st.lists(_reading, max_size=4), st.lists(st.integers(0, 255), min_size=4, max_size=4))
@counted
def test_readings_round_trip(readings, hops):
    assert wire.decode_readings(wire.encode_readings(readings)) == readings
    payload = legacy_flood.encode_readings_frame(readings, hops[:len(readings)])
    assert legacy_flood.decode_readings_frame(payload) == list(zip(readings, hops[:len(readings)]))


@given(st.binary(max_size=260))
@counted
def test_decoders_raise_only_frame_error(data):
    for decode in (wire.decode_readings, legacy_flood.decode_readings_frame, wire.decode_beacon, legacy_flood.decode_data):
        try:
            decode(data)
        except FrameError as e:
            assert e.reason == "malformed"


@given(st.integers(0, 0x7F), st.binary(min_size=6, max_size=6), st.integers(0, 0xFFFFFFFF),
       st.integers(0, 0xFFFFFFFF), st.binary(max_size=wire.MAX_PAYLOAD), st.booleans())
@counted
def test_seal_open_round_trip(ftype, sender, boot, ctr, payload, encrypt):
    keys = crypto.Keys(KEY)
    frame = crypto.seal(keys, ftype, sender, boot, ctr, payload, encrypt)
    assert len(frame) == 24 + len(payload) <= wire.MAX_FRAME
    assert crypto.open_frame(keys, frame) == (ftype, sender, boot, ctr, payload)


@given(st.binary(min_size=6, max_size=6), st.integers(0, 0xFFFFFFFF), st.integers(0, 0xFFFFFFFF),
       st.binary(max_size=wire.MAX_PAYLOAD))
@counted
def test_matches_independent_hmac_and_aes_ctr(sender, boot, ctr, payload):
    """Our CTR/HMAC equal the stdlib hmac and cryptography's AES-CTR, block by block."""
    keys = crypto.Keys(KEY)
    frame = crypto.seal(keys, wire.T_DATA, sender, boot, ctr, payload)
    k_enc = hashlib.sha256(b"nowmesh/enc" + KEY).digest()[:16]
    k_mac = hashlib.sha256(b"nowmesh/mac" + KEY).digest()
    assert frame[-8:] == hmac.new(k_mac, frame[:-8], hashlib.sha256).digest()[:8]
    nonce = sender + struct.pack("<II", boot, ctr)
    plain = b""
    body = frame[16:-8]
    for i in range(0, len(body), 16):
        dec = Cipher(algorithms.AES(k_enc), modes.CTR(nonce + struct.pack("<H", i // 16))).decryptor()
        plain += dec.update(body[i:i + 16])
    assert plain == payload
