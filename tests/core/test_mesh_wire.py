# Wire format: golden bytes both ways, strict decoders. Runs on MicroPython too.
from mesh import wire
import legacy_flood
from mesh.wire import FrameError, Reading
from meshhelp import raises_frame_error

SENDER = bytes.fromhex("020000000001")

# Header: beacon type, plaintext, boot 7, ctr 0x01020304.
HEADER_HEX = "a1010200000000010700000004030201"

# Reading from SENDER, boot 0x10005 (travels as 5), seq 42, t 123456 ms:
# temp 21.5 C (code 1), rh 40.25 % (code 2), custom wind -3.0 m/s (code 0).
READING_HEX = ("020000000001" "0500" "2a00" "40e20100" "03"
               "01" "0000ac41"
               "02" "00002142"
               "00" "0477696e64" "036d2f73" "000040c0")


def _reading():
    return Reading(SENDER, 0x10005, 42, 123456, [("temp", 21.5, "C"), ("rh", 40.25, "%"), ("wind", -3.0, "m/s")])


_raises = raises_frame_error


def test_constants():
    assert (wire.HEADER_LEN, wire.TAG_LEN, wire.MAX_FRAME, wire.MAX_PAYLOAD) == (16, 8, 250, 226)
    assert (wire.T_BEACON, wire.T_READINGS, wire.T_DATA) == (1, 2, 3)
    assert wire.VERSION == 1 and wire.MAGIC | wire.VERSION == 0xA1


def test_header_golden_encode():
    assert wire.build_header(wire.T_BEACON, False, SENDER, 7, 0x01020304).hex() == HEADER_HEX
    buf = bytearray(20)
    wire.pack_header(buf, wire.T_READINGS, True, SENDER, 7, 0x01020304)
    assert buf[1] == 0x82 and bytes(buf[2:16]) == bytes.fromhex(HEADER_HEX)[2:]


def test_header_golden_decode():
    assert wire.parse_header(bytes.fromhex(HEADER_HEX)) == (1, False, 1, SENDER, 7, 0x01020304)


def test_header_rejects_short_and_magic():
    _raises(lambda: wire.parse_header(b"\xa1" * 15), "short")
    _raises(lambda: wire.parse_header(b"\xb1" + bytes(15)), "magic")


def test_reading_golden_encode():
    assert wire.encode_reading(_reading()).hex() == READING_HEX
    assert wire.encode_readings([_reading()]).hex() == "01" + READING_HEX


def test_reading_golden_decode():
    (r,) = wire.decode_readings(bytes.fromhex("01" + READING_HEX))
    assert r.origin == SENDER and (r.boot, r.seq, r.t_ms) == (5, 42, 123456)
    assert r.values == [("temp", 21.5, "C"), ("rh", 40.25, "%"), ("wind", -3.0, "m/s")]
    assert r.key() == (SENDER, 5, 42)
    assert r == _reading()


def test_readings_block_aggregates():
    a = _reading()
    b = Reading(b"\x02\x00\x00\x00\x00\x09", 1, 2, 3, [])
    out = wire.decode_readings(wire.encode_readings([a, b]))
    assert out == [a, b]
    assert wire.decode_readings(b"\x00") == []


def test_all_quantity_codes_round_trip():
    values = [(q[0], 1.0, q[1]) for q in wire.QUANTITIES[1:]]
    r = Reading(SENDER, 1, 1, 0, values)
    raw = wire.encode_reading(r)
    assert len(raw) == 15 + 5 * len(values)  # every known pair is one byte code
    assert wire.decode_readings(b"\x01" + raw)[0].values == values
    assert wire.quantity_code("temp", "F") == 0  # unit matters


def test_float32_is_approximate():
    r = Reading(SENDER, 1, 1, 0, [("temp", 21.3, "C"), ("big", 1e39, "")])
    (back,) = wire.decode_readings(wire.encode_readings([r]))
    v = back.values[0][1]
    assert v != 21.3 and abs(v - 21.3) < 1e-5
    assert back.values[1] == ("big", float("inf"), "")


def test_decode_truncated_at_every_length():
    raw = bytes.fromhex("01" + READING_HEX)
    for n in range(len(raw)):
        _raises(lambda: wire.decode_readings(raw[:n]))


def test_decode_rejects_inconsistent():
    raw = bytes.fromhex("01" + READING_HEX)
    _raises(lambda: wire.decode_readings(raw + b"\x00"))          # trailing byte
    _raises(lambda: wire.decode_readings(b"\x02" + raw[1:]))      # count too high
    bad_code = bytearray(raw)
    bad_code[16] = 200                                            # unknown quantity code
    _raises(lambda: wire.decode_readings(bytes(bad_code)))
    non_ascii = bytearray(raw)
    non_ascii[28] = 0xC3                                          # inside "wind"
    _raises(lambda: wire.decode_readings(bytes(non_ascii)))
    empty_name = bytes.fromhex("01" + READING_HEX[:28] + "01" + "00" + "00" + "00" + "00000000")
    _raises(lambda: wire.decode_readings(empty_name))


def test_encode_refuses_bad_local_values():
    for values in ([("wïnd", 1.0, "")], [("", 1.0, "x")], [("a\n", 1.0, "")]):
        try:
            wire.encode_reading(Reading(SENDER, 1, 1, 0, values))
            assert False, values
        except ValueError:
            pass


def test_serial_newer():
    assert wire.serial_newer(1, 0) and not wire.serial_newer(0, 1)
    assert wire.serial_newer(0, 0xFFFF)            # wrap: 0 follows 65535
    assert not wire.serial_newer(5, 5)
    assert not wire.serial_newer(0x8000, 0)        # exactly half way: not newer
    a = Reading(SENDER, 3, 1, 0, [])
    b = Reading(SENDER, 2, 900, 0, [])
    assert a.is_newer_than(b) and not b.is_newer_than(a)   # boot dominates seq
    c = Reading(SENDER, 3, 2, 0, [])
    assert c.is_newer_than(a) and not a.is_newer_than(a)
    assert Reading(SENDER, 0, 1, 0, []).is_newer_than(Reading(SENDER, 0xFFFF, 7, 0, []))


def test_beacon_payload():
    assert wire.encode_beacon("kitchen") == b"\x07kitchen"
    assert legacy_flood.encode_beacon is wire.encode_beacon
    assert wire.decode_beacon(b"\x07kitchen") == "kitchen"
    _raises(lambda: wire.decode_beacon(b"\x07kitche"))
    _raises(lambda: wire.decode_beacon(b"\x07kitchenX"))
    _raises(lambda: wire.decode_beacon(b"\x00"))
    _raises(lambda: wire.decode_beacon(b""))


def test_readings_frame_payload_with_hops():
    r = _reading()
    payload = legacy_flood.encode_readings_frame([r, r], [0, 3])
    assert payload == wire.encode_readings([r, r]) + b"\x00\x03"
    assert legacy_flood.decode_readings_frame(payload) == [(r, 0), (r, 3)]
    _raises(lambda: legacy_flood.decode_readings_frame(payload[:-1]))
    _raises(lambda: legacy_flood.decode_readings_frame(payload + b"\x00"))


def test_data_payload():
    dst = b"\x02\x00\x00\x00\x00\x07"
    raw = legacy_flood.encode_data(legacy_flood.DATA_REQUEST, SENDER, dst, 0x1234, 1, 7, b"ping")
    assert raw.hex() == "00" "020000000001" "020000000007" "3412" "01" "07" + "70696e67"
    assert legacy_flood.decode_data(raw) == (0, SENDER, dst, 0x1234, 1, 7, b"ping")
    _raises(lambda: legacy_flood.decode_data(raw[:16]))
    _raises(lambda: legacy_flood.decode_data(b"\x02" + raw[1:]))              # unknown kind
    _raises(lambda: legacy_flood.decode_data(raw[:15] + b"\x07\x07" + raw[17:]))  # hops >= limit


def test_readings_block_decoded_at_an_offset():
    block = wire.encode_readings([_reading()])
    rs, end = wire.decode_readings_at(b"xyz" + block + b"tail", 3)
    assert rs == [_reading()] and end == 3 + len(block)
    assert wire.decode_readings_at(block)[1] == len(block)      # from the start by default


def test_ids():
    assert wire.parse_id("AA:bb:0c:dd:ee:0f") == b"\xaa\xbb\x0c\xdd\xee\x0f"
    assert wire.format_id(b"\xaa\xbb\x0c\xdd\xee\x0f") == "aa:bb:0c:dd:ee:0f"
    # every refusal says what is wrong (a user typed it: the console and CLI show it)
    for bad, why in (("aa:bb:cc:dd:ee", "6 ':'-separated"), ("aabbccddeeff", "6 ':'-separated"),
                     ("aa:bb:cc:dd:ee:fg", "2 hex digits"), ("aa:bb:cc:dd:ee:+f", "2 hex digits"),
                     ("aa:bb:cc:dd:ee:g0", "2 hex digits"), ("a:bb:cc:dd:ee:ff", "2 hex digits"),
                     ("aa:bb:cc:dd:ee:fff", "2 hex digits")):
        try:
            wire.parse_id(bad)
            assert False, bad
        except ValueError as e:
            assert why in str(e), (bad, str(e))


def test_readings_block_holds_at_most_255():
    r = Reading(SENDER, 1, 1, 0, [])
    block = wire.encode_readings([r] * 255)
    assert block[0] == 255 and len(wire.decode_readings(block)) == 255
    try:
        wire.encode_readings([r] * 256)
        assert False
    except ValueError as e:
        assert str(e) == "too many readings"


def test_reading_equality_looks_at_everything():
    r = _reading()
    same = Reading(SENDER, 0x10005, 42, 123456, list(r.values))
    assert r == same and not (r != same)
    for other in (Reading(SENDER, 5, 43, 123456, r.values), Reading(SENDER, 5, 42, 123457, r.values),
                  Reading(SENDER, 5, 42, 123456, r.values[:2]), Reading(b"\x02" * 6, 5, 42, 123456, r.values)):
        assert r != other and not (r == other)
    assert r != (SENDER, 5, 42) and not (r == None)  # noqa: E711
    assert repr(Reading(SENDER, 2, 3, 4, [("temp", 1.5, "C")])) == \
        "Reading(02:00:00:00:00:01, 2, 3, 4, [('temp', 1.5, 'C')])"


def test_frame_error_carries_its_reason():
    e = wire.FrameError("tag")
    assert e.reason == "tag" and str(e) == "tag"
