# LMS verification (mesh/lms.py) on golden vectors: the same bytes verify on
# MicroPython and CPython; any change to message, signature or key is refused.
from mesh import lms
from mesh.lms import SignatureError
import ota_lms_vectors as v

PUB = bytes.fromhex(v.PUBLIC_KEY_HEX)
SIG = bytes.fromhex("".join(v.SIGNATURE_HEX))


def _refused(pub, message, sig, reason):
    try:
        lms.verify(pub, message, sig)
    except SignatureError as exc:
        assert exc.reason == reason, exc.reason
        return
    raise AssertionError("accepted")


def _flip(data, index):
    data = bytearray(data)
    data[index] ^= 0x01
    return bytes(data)


def test_golden_signature_verifies_and_names_its_leaf():
    assert lms.verify(PUB, v.MESSAGE, SIG) == v.LEAF
    assert lms.verify(bytearray(PUB), memoryview(v.MESSAGE), memoryview(SIG)) == v.LEAF


def test_other_message_refused():
    _refused(PUB, v.MESSAGE + b"!", SIG, "signature")
    _refused(PUB, _flip(v.MESSAGE, 0), SIG, "signature")


def test_every_region_of_the_signature_is_checked():
    # q, C, first and last chain value, lms type, first and last path node
    ots_end = 8 + 32 * 68
    for index, reason in ((3, "signature"), (8, "signature"), (40, "signature"),
                          (ots_end - 1, "signature"), (ots_end + 3, "malformed"),
                          (ots_end + 4, "signature"), (len(SIG) - 1, "signature")):
        _refused(PUB, v.MESSAGE, _flip(SIG, index), reason)


def test_leaf_index_outside_the_tree_refused():
    _refused(PUB, v.MESSAGE, bytes([0, 0, 0, 32]) + SIG[4:], "malformed")
    _refused(PUB, v.MESSAGE, b"\xff\xff\xff\xff" + SIG[4:], "malformed")


def test_other_key_refused():
    _refused(_flip(PUB, 30), v.MESSAGE, SIG, "signature")     # other I
    _refused(_flip(PUB, 55), v.MESSAGE, SIG, "signature")     # other root


def test_malformed_inputs_refused_with_one_reason():
    _refused(PUB, v.MESSAGE, SIG[:-1], "malformed")
    _refused(PUB, v.MESSAGE, SIG + b"\x00", "malformed")
    _refused(PUB, v.MESSAGE, b"", "malformed")
    _refused(PUB[:-1], v.MESSAGE, SIG, "key")
    _refused(b"\x00\x00\x00\x63" + PUB[4:], v.MESSAGE, SIG, "key")     # unknown lms type
    _refused(PUB[:4] + b"\x00\x00\x00\x04" + PUB[8:], v.MESSAGE, SIG, "malformed")  # w8 key, w4 sig


def test_coef_digits_match_rfc_example():
    # RFC 8554 section 3.1.3: S = 0x1234, w = 4 -> 1, 2, 3, 4; w = 1 -> bits
    s = b"\x12\x34"
    assert [lms.coef(s, i, 4) for i in range(4)] == [1, 2, 3, 4]
    assert [lms.coef(s, i, 1) for i in range(8)] == [0, 0, 0, 1, 0, 0, 1, 0]
    assert [lms.coef(s, i, 8) for i in range(2)] == [0x12, 0x34]
