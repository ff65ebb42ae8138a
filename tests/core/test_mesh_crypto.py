# Crypto: published vectors for the primitives, golden frames both ways.
# The encrypted goldens must come out identical on MicroPython and CPython.
from mesh import crypto, wire
import legacy_flood
from mesh.wire import FrameError
from meshhelp import raises_frame_error

KEY = bytes(range(16))
SENDER = bytes.fromhex("020000000001")

BEACON_PLAIN_HEX = ("a101" "020000000001" "07000000" "03000000"
                    "076b69746368656e"          # "\x07kitchen"
                    "e77648e51f74d1e9")        # tag
BEACON_ENC_HEX = ("a181" "020000000001" "07000000" "03000000"
                  "0fe1c5990dbc1cb5"
                  "5f80ea3e9dfea105")
# T_READINGS, boot 7, ctr 4, the reading of test_mesh_wire with hop count 2.
READINGS_ENC_HEX = ("a182" "020000000001" "07000000" "04000000"
                    "7f06179750fc8446754db697be5d4997443349e1653b42cc57e88d17d21bdd54"
                    "b20701c6b2fc31844e"       # 41 bytes of ciphertext
                    "11e82385eaab279f")      # tag
READINGS_PLAIN_PAYLOAD_HEX = ("0102000000000105002a0040e2010003010000ac410200002142000477696e64"
                              "036d2f73000040c002")


def _keys():
    return crypto.Keys(KEY)


_raises = raises_frame_error


def test_hmac_rfc4231_case1_and_2():
    assert crypto.hmac_sha256(b"\x0b" * 20, b"Hi There").hex() == (
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7")
    assert crypto.hmac_sha256(b"Jefe", b"what do ya want for nothing?").hex() == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")


def test_hmac_rfc4231_case6_long_key():
    key = b"\xaa" * 131
    msg = b"Test Using Larger Than Block-Size Key - Hash Key First"
    assert crypto.hmac_sha256(key, msg).hex() == (
        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")


def test_aes_fips197_vector():
    if not _keys().has_aes:
        return
    import cryptolib
    aes = cryptolib.aes(bytes.fromhex("000102030405060708090a0b0c0d0e0f"), 1)
    out = aes.encrypt(bytes.fromhex("00112233445566778899aabbccddeeff"))
    assert bytes(out).hex() == "69c4e0d86a7b0430d8cdb78070b4c55a"


def test_key_derivation_golden():
    k = _keys()
    assert k.k_enc.hex() == "370199756a26e658ab6c5434576c747d"
    assert k.network_key == KEY
    assert crypto.Keys(bytes(32)).k_enc != crypto.Keys(bytes(16)).k_enc
    for bad in (b"", bytes(15), bytes(24)):
        try:
            crypto.Keys(bad)
            assert False
        except ValueError:
            pass


def test_plain_beacon_golden_both_ways():
    k = _keys()
    frame = crypto.seal(k, wire.T_BEACON, SENDER, 7, 3, legacy_flood.encode_beacon("kitchen"), encrypt=False)
    assert frame.hex() == BEACON_PLAIN_HEX
    ftype, sender, boot, ctr, payload = crypto.open_frame(k, bytes.fromhex(BEACON_PLAIN_HEX))
    assert (ftype, sender, boot, ctr) == (wire.T_BEACON, SENDER, 7, 3)
    assert wire.decode_beacon(payload) == "kitchen"


def test_encrypted_beacon_golden_both_ways():
    k = _keys()
    if not k.has_aes:
        return
    frame = crypto.seal(k, wire.T_BEACON, SENDER, 7, 3, legacy_flood.encode_beacon("kitchen"))
    assert frame.hex() == BEACON_ENC_HEX
    assert crypto.open_frame(k, bytes.fromhex(BEACON_ENC_HEX)) == (1, SENDER, 7, 3, b"\x07kitchen")


def test_encrypted_readings_golden_both_ways():
    k = _keys()
    if not k.has_aes:
        return
    payload = bytes.fromhex(READINGS_PLAIN_PAYLOAD_HEX)
    assert len(payload) > 32  # spans three CTR blocks
    frame = crypto.seal(k, wire.T_READINGS, SENDER, 7, 4, payload)
    assert frame.hex() == READINGS_ENC_HEX
    ftype, sender, boot, ctr, back = crypto.open_frame(k, bytes.fromhex(READINGS_ENC_HEX))
    assert (ftype, sender, boot, ctr, back) == (wire.T_READINGS, SENDER, 7, 4, payload)
    ((r, hops),) = legacy_flood.decode_readings_frame(back)
    assert hops == 2 and r.values[0] == ("temp", 21.5, "C")


def test_distinct_nonces_give_distinct_ciphertext():
    k = _keys()
    if not k.has_aes:
        return
    p = bytes(40)
    a = crypto.seal(k, 2, SENDER, 7, 4, p)
    b = crypto.seal(k, 2, SENDER, 7, 5, p)
    c = crypto.seal(k, 2, SENDER, 8, 4, p)
    d = crypto.seal(k, 2, b"\x02\x00\x00\x00\x00\x02", 7, 4, p)
    bodies = [f[16:56] for f in (a, b, c, d)]
    for i in range(4):
        for j in range(i + 1, 4):
            assert bodies[i] != bodies[j]


def test_open_rejects_by_reason():
    k = _keys()
    good = bytes.fromhex(BEACON_PLAIN_HEX)
    _raises(lambda: crypto.open_frame(k, good[:23]), "short")
    _raises(lambda: crypto.open_frame(k, b""), "short")
    _raises(lambda: crypto.open_frame(k, b"\x51" + good[1:]), "magic")
    _raises(lambda: crypto.open_frame(k, b"\xa2" + good[1:]), "version")
    _raises(lambda: crypto.open_frame(k, good[:-1] + bytes((good[-1] ^ 1,))), "tag")
    _raises(lambda: crypto.open_frame(k, good[:20] + b"X" + good[21:]), "tag")
    _raises(lambda: crypto.open_frame(k, good[:-1]), "tag")
    _raises(lambda: crypto.open_frame(crypto.Keys(bytes(16)), good), "tag")
    # longer than a v1 frame is a legal ESP-NOW v2 length: the tag decides
    _raises(lambda: crypto.open_frame(k, good + bytes(230)), "tag")
    _raises(lambda: crypto.open_frame(k, good + bytes(wire.MAX_FRAME_V2)), "malformed")
    # flipping the encrypted bit is caught by the tag (the flags byte is MACed)
    _raises(lambda: crypto.open_frame(k, good[:1] + b"\x81" + good[2:]), "tag")


def test_open_without_aes_refuses_encrypted():
    k = _keys()
    k.has_aes = False
    _raises(lambda: crypto.open_frame(k, bytes.fromhex(BEACON_ENC_HEX)), "no_aes")
    # and sealing falls back to authenticated plaintext
    assert crypto.seal(k, 1, SENDER, 7, 3, b"\x07kitchen").hex() == BEACON_PLAIN_HEX


def test_seal_limits():
    k = _keys()
    assert len(crypto.seal(k, 3, SENDER, 1, 1, bytes(wire.MAX_PAYLOAD))) == wire.MAX_FRAME
    big = crypto.seal(k, 3, SENDER, 1, 1, bytes(wire.MAX_PAYLOAD_V2))
    assert len(big) == wire.MAX_FRAME_V2 == 1470
    assert crypto.open_frame(k, big)[4] == bytes(wire.MAX_PAYLOAD_V2)
    try:
        crypto.seal(k, 3, SENDER, 1, 1, bytes(wire.MAX_PAYLOAD_V2 + 1))
        assert False
    except ValueError:
        pass
    assert len(crypto.seal(k, 3, SENDER, 1, 1, b"")) == 24
    assert crypto.open_frame(k, crypto.seal(k, 3, SENDER, 1, 1, b""))[4] == b""
