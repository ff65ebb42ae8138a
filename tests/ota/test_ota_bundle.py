"""The OTA bundle from the real firmware tree: built by the one bundle
builder (board_files + ota_bundle), signed by the operator's LMS key, and
accepted, page by page, by the board's own check (mesh/ota_manifest.py)."""
import os
import sys

import pytest

from nowmesh.bundle import Compiler, board_files
from nowmesh.bundle.build import ota_bundle
from nowmesh.ota.manifest import build_signed
from nowmesh.ota.signer import Signer, _lms


@pytest.fixture(scope="module")
def compiler():
    return Compiler.native()


def _signer(tmp_path):
    return Signer("42" * 32, str(tmp_path / "state.json"), lms_type=5)


def test_signed_bundle_of_the_firmware_is_accepted_and_every_page_checks(tmp_path, compiler):
    _lms()
    from mesh import ota_manifest as om
    signer = _signer(tmp_path)
    signed, image, bundle_id = build_signed(compiler, "42" * 32, str(tmp_path / "k.json"),
                                            version=1000, signer=signer)
    m = om.accept(signer.public_key(), signed, 999)
    assert m.bundle == bundle_id and m.size == len(image)
    files = board_files(compiler)
    assert sum(len(b) for b in files.values()) == len(image)
    listed = list(m.files())
    assert listed[-1][0] == "main.py" and {f[0] for f in listed} == set(files)
    for i in range(m.pages):
        assert m.page_ok(i, image[i * m.page_size:(i + 1) * m.page_size])
    offset = 0                              # the image splits back into the files
    for path, size in listed:
        assert image[offset:offset + size] == files[path]
        offset += size


def test_bundle_id_names_the_files_not_the_version(compiler):
    files = board_files(compiler)
    body_a, _ = ota_bundle(files, 1)
    body_b, _ = ota_bundle(files, 2)
    changed = dict(files, **{"main.py": files["main.py"] + b"\n# changed\n"})
    body_c, _ = ota_bundle(changed, 2)
    _lms()
    from mesh.ota_manifest import parse_body
    assert parse_body(body_a).bundle == parse_body(body_b).bundle
    assert parse_body(body_c).bundle != parse_body(body_b).bundle


def test_the_network_key_signs_nothing_a_board_accepts(tmp_path, compiler):
    _lms()
    from mesh import ota_manifest as om
    operator = _signer(tmp_path)
    insider = Signer("99" * 32, str(tmp_path / "other.json"), lms_type=5)
    forged, _, _ = build_signed(compiler, "99" * 32, str(tmp_path / "o.json"), version=5000,
                                signer=insider)
    with pytest.raises(om.OtaError) as exc:
        om.accept(operator.public_key(), forged, 0)
    assert exc.value.reason == "signature"


def test_golden_manifest_vectors_are_current():
    # the boards' tests (tests/core, tests/port) read them: made by the builder and signer of today
    sys.path.insert(0, os.path.dirname(__file__))
    import ota_vectors_gen
    with open(ota_vectors_gen.TARGET) as f:
        assert f.read() == ota_vectors_gen.source()
