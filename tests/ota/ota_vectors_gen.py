"""Makes tests/core/ota_manifest_vectors.py: signed OTA manifests built by
the one bundle builder (nowmesh.bundle.build.ota_bundle, page_size 64) and
signed with the golden LMS key of tests/core/ota_lms_vectors.py (leaves 1-3,
a fixed randomiser, so the output is the same every time); FORGED is signed
by another key. Run `python tests/ota/ota_vectors_gen.py` after a change of
the manifest format; tests/ota/test_ota_bundle.py checks the file is current."""
import os
import sys

from nowmesh.bundle.build import ota_bundle
from nowmesh.ota.signer import LmsKey

HERE = os.path.dirname(os.path.abspath(__file__))
CORE = os.path.join(os.path.dirname(HERE), "core")
TARGET = os.path.join(CORE, "ota_manifest_vectors.py")
H5, W4 = 5, 3
FILES = {"main.py": b"import meshport\n" * 5, "mesh/a.mpy": bytes(range(256)) * 2, "boot.py": b"# boot\n"}
RANDOMISER = bytes([0xC5]) * 32


def _golden():
    sys.path.insert(0, CORE)
    import ota_lms_vectors as lv
    return LmsKey(bytes.fromhex(lv.SEED_HEX), bytes.fromhex(lv.IDENT_HEX), lms_type=H5, ots_type=W4)


def _signed(key, leaf, version, downgrade=False):
    from mesh.ota_manifest import pack
    body, _image = ota_bundle(FILES, version, page_size=64, downgrade=downgrade)
    return pack(body, key.sign(leaf, body, RANDOMISER))


def _hex_lines(name, blob):
    text = blob.hex()
    rows = ["    %r" % text[i:i + 96] for i in range(0, len(text), 96)]
    return "%s = (\n%s\n)\n" % (name, "\n".join(rows))


def source():
    from nowmesh.bundle import core
    core.load()
    golden = _golden()
    forger = LmsKey(bytes([0x11]) * 32, bytes(16), lms_type=H5, ots_type=W4)
    _body, image = ota_bundle(FILES, 1, page_size=64)
    out = [__doc__.replace('"""', "").strip().replace("\n", "\n# ").join(("# ", "\n")),
           "FILES = %r\n" % FILES, "IMAGE = %r\n" % image,
           _hex_lines("V100_HEX", _signed(golden, 1, 100)),
           _hex_lines("V50_HEX", _signed(golden, 2, 50)),
           _hex_lines("V40_DOWNGRADE_HEX", _signed(golden, 3, 40, downgrade=True)),
           _hex_lines("FORGED_HEX", _signed(forger, 1, 200)),
           "FORGED_PUB_HEX = %r\n" % forger.public_key().hex()]
    return "".join(out)


if __name__ == "__main__":
    with open(TARGET, "w") as f:
        f.write(source())
