# Golden bytes of the mesh protocol's payloads (docs/protocol.md), both ways:
# values -> bytes (pack) and bytes -> values (parse). A change to any layout
# breaks these on purpose: boards of two firmware versions must agree on the
# air. Plain test functions: pytest and MicroPython run them.
from mesh import frames
from meshhelp import raises_frame_error

A = bytes.fromhex("024e4d000001")
B = bytes.fromhex("024e4d000002")
C = bytes.fromhex("024e4d000003")

# T_HELLO: name_len "n1" | flags 1 (just booted), held 0x0102 (u16), 2 entries |
# B heard at q 100 and picked as relay (0x80 | 100), C heard at q 5.
HELLO = (("n1", frames.HELLO_SYNC, 0x0102, [(B, 100, True), (C, 5, False)]),
         "02" "6e31" "01" "0201" "02" "024e4d000002" "e4" "024e4d000003" "05")

# T_PULL, repair: flags 0 | responder B | 2 haves | A boot 3 seq 0x1234, C boot 0 seq 0 (none held).
PULL = ((0, B, [(A, 3, 0x1234), (C, 0, 0)]),
        "00" "024e4d000002" "02" "024e4d000001" "0300" "3412" "024e4d000003" "0000" "0000")
# T_PULL, full sync to anyone: flags PULL_FULL | zeros | no haves.
PULL_FULL = ((frames.PULL_FULL, None, []), "01" "000000000000" "00")

# Routed T_DATA: kind reply|attempt 1 (0x11) | origin A | dst C | req_id 0x0203 | hops 1 |
# limit 7 | frag 0x12 (part 2 of 3) | body "pong".
ROUTED = ((0x11, A, C, 0x0203, 1, 7, 0x12, b"pong"),
          "11" "024e4d000001" "024e4d000003" "0302" "01" "07" "12" "706f6e67")


def test_hello_packs_to_its_golden_bytes():
    assert frames.encode_hello(*HELLO[0]).hex() == HELLO[1]


def test_hello_parses_from_its_golden_bytes():
    name, flags, held, entries = HELLO[0]
    assert frames.decode_hello(bytes.fromhex(HELLO[1])) == (name, flags, held, entries)


def test_pull_packs_to_its_golden_bytes():
    flags, responder, haves = PULL[0]
    assert frames.encode_pull(flags, haves, responder).hex() == PULL[1]
    assert frames.encode_pull(PULL_FULL[0][0], []).hex() == PULL_FULL[1]


def test_pull_parses_from_its_golden_bytes():
    assert frames.decode_pull(bytes.fromhex(PULL[1])) == PULL[0]
    assert frames.decode_pull(bytes.fromhex(PULL_FULL[1])) == PULL_FULL[0]


def test_routed_data_packs_to_its_golden_bytes():
    assert frames.encode_routed(*ROUTED[0]).hex() == ROUTED[1]


def test_routed_data_parses_from_its_golden_bytes():
    assert frames.decode_routed(bytes.fromhex(ROUTED[1])) == list(ROUTED[0])
    # the packet's name on every hop: everything but hops and limit
    golden = bytes.fromhex(ROUTED[1])
    assert frames.packet_key(golden) == golden[:15] + golden[17:18]


def test_golden_bytes_one_off_are_refused():
    raises_frame_error(lambda: frames.decode_hello(bytes.fromhex(HELLO[1])[:-1]))
    raises_frame_error(lambda: frames.decode_pull(bytes.fromhex(PULL[1]) + b"\x00"))
    raises_frame_error(lambda: frames.decode_routed(bytes.fromhex(ROUTED[1])[:17]))
