"""The laptop's LMS signer against the independent hsslms package (both
ways), the golden vectors the boards' tests use, and the leaf counter."""
import json
import os
import sys

import pytest
from hsslms import LMOTS_ALGORITHM_TYPE, LMS_ALGORITHM_TYPE, LMS_Priv, LMS_Pub

from nowmesh.errors import InputError
from nowmesh.ota.signer import LmsKey, Signer, State, _lms

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(__file__)), "core"))
import ota_lms_vectors as vectors  # noqa: E402

H5, W4 = 5, 3


@pytest.fixture(scope="module")
def reference():
    return LMS_Priv(LMS_ALGORITHM_TYPE.LMS_SHA256_M32_H5, LMOTS_ALGORITHM_TYPE.LMOTS_SHA256_N32_W4,
                    num_cores=1)


def test_same_seed_gives_hsslms_public_key(reference):
    ours = LmsKey(reference.SEED, reference.I, lms_type=H5, ots_type=W4)
    assert ours.public_key() == reference.gen_pub().get_pubkey()


def test_hsslms_signature_verifies_on_board_code(reference):
    lms = _lms()
    pub = reference.gen_pub().get_pubkey()
    sig = reference.sign(b"manifest from hsslms")
    lms.verify(pub, b"manifest from hsslms", sig)
    with pytest.raises(lms.SignatureError):
        lms.verify(pub, b"manifest from hsslmS", sig)


def test_our_signature_verifies_in_hsslms(reference):
    ours = LmsKey(reference.SEED, reference.I, lms_type=H5, ots_type=W4)
    sig = ours.sign(9, b"manifest from nowmesh")
    LMS_Pub(ours.public_key()).verify(b"manifest from nowmesh", sig)   # raises if bad


def test_golden_vectors_regenerate_identically():
    key = LmsKey(bytes.fromhex(vectors.SEED_HEX), bytes.fromhex(vectors.IDENT_HEX),
                 lms_type=H5, ots_type=W4)
    assert key.public_key().hex() == vectors.PUBLIC_KEY_HEX
    sig = key.sign(vectors.LEAF, vectors.MESSAGE, bytes.fromhex(vectors.RANDOMISER_HEX))
    assert sig.hex() == "".join(vectors.SIGNATURE_HEX)
    LMS_Pub(key.public_key()).verify(vectors.MESSAGE, sig)


def test_signer_never_reuses_a_leaf_and_refuses_when_used_up(tmp_path):
    lms = _lms()
    path = str(tmp_path / "nowmesh-ota-state.json")
    signer = Signer("ab" * 32, path, lms_type=H5)
    pub = signer.public_key()
    leaves = [lms.verify(pub, b"m%d" % i, signer.sign(b"m%d" % i)) for i in range(32)]
    assert leaves == list(range(32))
    assert json.load(open(path))["next_leaf"] == 32
    assert signer.remaining() == 0
    with pytest.raises(InputError, match="used up"):
        signer.sign(b"one more")
    # a second signer on the same state file continues, it does not restart
    again = Signer("ab" * 32, path, lms_type=H5)
    with pytest.raises(InputError, match="used up"):
        again.sign(b"one more")


def test_leaf_is_reserved_on_disk_before_signing(tmp_path, monkeypatch):
    path = str(tmp_path / "state.json")
    signer = Signer("cd" * 32, path, lms_type=H5)

    def crash(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(signer.key, "sign", crash)
    with pytest.raises(KeyboardInterrupt):
        signer.sign(b"x")
    assert State(path).read()["next_leaf"] == 1      # leaf 0 is burnt, never reused


def test_corrupt_state_refused_with_clear_error(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("{not json")
    with pytest.raises(InputError, match="never delete"):
        Signer("ef" * 32, str(path), lms_type=H5).sign(b"x")
    path.write_text(json.dumps({"next_leaf": -3}))
    with pytest.raises(InputError):
        Signer("ef" * 32, str(path), lms_type=H5).sign(b"x")


def test_network_key_holder_cannot_sign():
    # a node's secrets (network key, its admin key) are not the operator key:
    # a key derived from anything else verifies nothing the operator signed
    lms = _lms()
    operator = LmsKey.from_operator_key("01" * 32, lms_type=H5)
    insider = LmsKey.from_operator_key("02" * 32, lms_type=H5)
    forged = insider.sign(0, b"evil manifest")
    with pytest.raises(lms.SignatureError):
        lms.verify(operator.public_key(), b"evil manifest", forged)
