# The signed OTA manifest (mesh/ota_manifest.py): the board accepts only the
# operator's signature, refuses old versions unless signed as a downgrade,
# bundles larger than its free flash, and any page that is not the bundle's.
import json
import struct

from mesh import ota_manifest as om
from mesh.ota_manifest import OtaError
import ota_lms_vectors as lv
import ota_manifest_vectors as mv

PUB = bytes.fromhex(lv.PUBLIC_KEY_HEX)
V100 = bytes.fromhex("".join(mv.V100_HEX))
V50 = bytes.fromhex("".join(mv.V50_HEX))
V40_DOWNGRADE = bytes.fromhex("".join(mv.V40_DOWNGRADE_HEX))
FORGED = bytes.fromhex("".join(mv.FORGED_HEX))


def _refused(reason, fn, *args):
    try:
        fn(*args)
    except OtaError as exc:
        assert exc.reason == reason, exc.reason
        return
    raise AssertionError("accepted")


def _body(blob):
    return bytes(om.split(blob)[0])     # split gives a view of the blob


def _meta(body):
    """-> (meta fields, rest: file table and page hashes) of a body."""
    n = struct.unpack("<H", body[:2])[0]
    return json.loads(body[2:2 + n]), body[2 + n:]


def _made(fields, rest):
    meta = json.dumps(fields).encode()
    return struct.pack("<H", len(meta)) + meta + rest


def test_operator_manifest_accepted_and_pages_check():
    m = om.accept(PUB, V100, 0)
    assert (m.version, m.page_size, m.size) == (100, 64, len(mv.IMAGE))
    assert m.pages == (len(mv.IMAGE) + 63) // 64
    for i in range(m.pages):
        assert m.page_ok(i, mv.IMAGE[i * 64:(i + 1) * 64]), i
    assert list(m.files()) == [("boot.py", 7), ("mesh/a.mpy", 512), ("main.py", 80)]   # main.py last


def test_tampered_or_misplaced_page_refused():
    m = om.accept(PUB, V100, 0)
    page = bytearray(mv.IMAGE[:64])
    page[10] ^= 1
    assert not m.page_ok(0, bytes(page))
    assert not m.page_ok(1, mv.IMAGE[:64])                  # right bytes, wrong index
    assert not m.page_ok(m.pages - 1, mv.IMAGE[-5:])        # truncated last page
    assert not m.page_ok(m.pages, b"")                      # beyond the bundle
    assert not m.page_ok(-1, mv.IMAGE[-64:])


def test_forged_manifest_refused():
    _refused("signature", om.accept, PUB, FORGED, 0)


def test_edited_body_refused_even_with_a_valid_signature():
    body, signature = om.split(V100)
    fields, hashes = _meta(bytes(body))   # split gives a view of the blob
    fields["version"] = 999
    _refused("signature", om.accept, PUB, om.pack(_made(fields, hashes), signature), 0)
    flipped = bytearray(hashes)
    flipped[-1] ^= 1                      # one bit of one page hash
    _refused("signature", om.accept, PUB, om.pack(_made(_meta(bytes(body))[0], bytes(flipped)), signature), 0)


def test_old_version_replay_refused_unless_signed_as_downgrade():
    _refused("old", om.accept, PUB, V50, 100)
    _refused("same", om.accept, PUB, V100, 100)
    assert om.accept(PUB, V40_DOWNGRADE, 100).version == 40
    assert om.accept(PUB, V50, 49).version == 50


def test_bundle_larger_than_free_flash_refused():
    _refused("space", om.accept, PUB, V100, 0, len(mv.IMAGE) - 1)
    assert om.accept(PUB, V100, 0, len(mv.IMAGE)).size == len(mv.IMAGE)


def test_truncated_or_garbage_blobs_refused_as_malformed():
    for blob in (b"", b"NMOT", V100[:6], V100[:200], V100[:-1], b"XXXX" + V100[4:],
                 V100[:4] + b"\x01" + V100[5:], bytes(3000)):
        _refused("malformed", om.accept, PUB, blob, 0)


def test_every_field_of_the_body_is_checked():
    good, rest = _meta(_body(V100))
    om.parse_body(_made(good, rest))
    bad = [("version", 0), ("version", True), ("version", "7"), ("bundle", "ab"),
           ("downgrade", 1), ("page_size", 1), ("page_size", 1 << 20), ("size", 0),
           ("size", good["size"] + 1)]
    for key, value in bad:
        fields = dict(good)
        fields[key] = value
        _refused("malformed", om.parse_body, _made(fields, rest))
    for key in good:
        fields = dict(good)
        del fields[key]
        _refused("malformed", om.parse_body, _made(fields, rest))
    for cut in (rest[:-16], rest[:-1], rest + bytes(16)):     # one page hash short or over
        _refused("malformed", om.parse_body, _made(good, cut))
    meta = json.dumps(good).encode()
    _refused("malformed", om.parse_body, struct.pack("<H", len(meta) + 5000) + meta + rest)
    _refused("malformed", om.parse_body, _made([1, 2], rest))
    _refused("malformed", om.parse_body, b"\x02\x00\xff{")
    _refused("malformed", om.parse_body, b"\x00")
