# Crypto and admin tokens at their boundaries: the HMAC key at exactly one
# block, the board's HMAC path (no hash copy()), CTR keystreams that end
# mid-block and run long, a tag differing in its first byte only, a build
# without AES, admin tokens at the top of the u32 range and with an empty
# command, and the messages callers see. Goldens were computed once and
# cross-checked against CPython's hmac and an independent AES-ECB keystream.
import hashlib

from mesh import admin, crypto, wire
from meshhelp import raises_frame_error

KEY = bytes(range(16))
SENDER = bytes.fromhex("020000000001")
NONCE = bytes(range(100, 114))
ADMIN_KEY = bytes(range(32))


def _raises_value_error(fn, words):
    try:
        fn()
    except ValueError as e:
        assert words in str(e), str(e)
        return
    assert False, "no ValueError"


def test_hmac_key_of_exactly_one_block_is_not_hashed_first():
    # RFC 2104: only keys LONGER than the 64-byte block are hashed first
    key = bytes(range(64))
    assert crypto.hmac_sha256(key, b"nowmesh 64-byte key boundary").hex() == (
        "b4d6c304c5861bf3b14b9da74426f1ba17f729c36b9ded051fdc264870808a59")


def test_hmac_without_hash_copy_gives_the_same_digests():
    # MicroPython's sha256 has no copy(): the board rehashes the pads each
    # time. Force that path here too (it is the only one on a board).
    for key, msg, want in (
            (b"\x0b" * 20, b"Hi There",
             "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"),
            (b"\xaa" * 131, b"Test Using Larger Than Block-Size Key - Hash Key First",
             "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")):
        mac = crypto.Hmac(key)
        mac._inner = None
        assert mac.digest(msg).hex() == want
        assert mac.digest(msg).hex() == want      # and again: no state carried over


def test_ctr_keystream_mid_block_and_long():
    k = crypto.Keys(KEY)
    if crypto.cryptolib is None:
        return                              # a build without AES has no CTR
    assert k.has_aes
    # 17 bytes: the second counter block is needed for one byte
    ks = k.ctr_xor(NONCE, bytes(17))
    assert len(ks) == 17
    assert hashlib.sha256(ks).digest().hex() == (
        "256acf905bfb72f415cbf8e0e9906431dc8753768d05dc5a18cf3c5069f9f391")
    ks = k.ctr_xor(NONCE, bytes(1000))      # 63 blocks, a v2-sized payload
    assert hashlib.sha256(ks).digest().hex() == (
        "58eed7eac797b5541b9703d4f086d6229f2489b8f1c4a61936f67f6e34b92596")
    assert k.ctr_xor(NONCE, b"") == b""


def test_keys_use_aes_whenever_the_build_has_it():
    assert crypto.Keys(KEY).has_aes == (crypto.cryptolib is not None)


def test_keys_build_without_aes():
    saved = crypto.cryptolib
    crypto.cryptolib = None
    try:
        k = crypto.Keys(KEY)
    finally:
        crypto.cryptolib = saved
    assert not k.has_aes
    frame = crypto.seal(k, 1, SENDER, 7, 3, b"\x07kitchen")
    assert frame[1] & 0x80 == 0                    # sent authenticated, in clear
    assert crypto.open_frame(k, frame)[4] == b"\x07kitchen"


def test_tag_differing_only_in_its_first_byte_is_refused():
    k = crypto.Keys(KEY)
    good = crypto.seal(k, 1, SENDER, 7, 3, b"\x07kitchen", encrypt=False)
    first = len(good) - wire.TAG_LEN
    bad = good[:first] + bytes((good[first] ^ 1,)) + good[first + 1:]
    raises_frame_error(lambda: crypto.open_frame(k, bad), "tag")
    assert not crypto._tags_equal(b"\x01\x00", b"\x00\x00")
    assert crypto._tags_equal(b"\x01\x02", b"\x01\x02")


def test_open_calls_unconvertible_input_malformed():
    raises_frame_error(lambda: crypto.open_frame(crypto.Keys(KEY), object()), "malformed")


def test_bad_arguments_say_what_is_wrong():
    _raises_value_error(lambda: crypto.Keys(bytes(15)), "16 or 32 bytes")
    k = crypto.Keys(KEY)
    _raises_value_error(lambda: crypto.seal(k, 3, SENDER, 1, 1, bytes(wire.MAX_PAYLOAD_V2 + 1)),
                        "too long")
    _raises_value_error(lambda: crypto.seal(k, 3, SENDER[:5], 1, 1, b"x"), "6 bytes")


def test_admin_token_at_the_top_of_the_u32_range():
    token = admin.sign(ADMIN_KEY, SENDER, 0xFFFFFFFF, 0x80000000, b"reboot")
    assert token.hex() == ("020000000001" "ffffffff" "00000080" "7265626f6f74"
                           "e7490547c7191aa247efdadf7cde3a9d")
    assert admin.verify(ADMIN_KEY, SENDER, 0xFFFFFFFF, 0x7FFFFFFF, token) == (0x80000000, b"reboot")
    try:
        admin.verify(ADMIN_KEY, SENDER, 0xFFFFFFFF, 0x80000000, token)
        assert False, "replayed seq accepted"
    except admin.AdminError as e:
        assert e.reason == "seq" and str(e) == "seq"


def test_admin_token_with_an_empty_command_is_the_shortest_valid():
    token = admin.sign(ADMIN_KEY, SENDER, 1, 1, b"")
    assert len(token) == 14 + admin.ADMIN_TAG_LEN
    assert admin.verify(ADMIN_KEY, SENDER, 1, 0, token) == (1, b"")
    try:
        admin.verify(ADMIN_KEY, SENDER, 1, 0, token[1:])
        assert False, "short token accepted"
    except admin.AdminError as e:
        assert e.reason == "malformed"


def test_one_byte_payload_is_encrypted_too():
    k = crypto.Keys(KEY)
    frame = crypto.seal(k, 3, SENDER, 1, 1, b"\x2a")
    if k.has_aes:
        assert frame.hex() == "a183" "020000000001" "01000000" "01000000" "16" "c38e3632f4f39422"
    assert crypto.open_frame(k, frame)[4] == b"\x2a"


def test_tags_of_different_lengths_are_unequal():
    assert not crypto._tags_equal(b"\x01\x02", b"\x01")
    assert not crypto._tags_equal(b"", b"\x00")
