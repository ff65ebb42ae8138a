# The OTA manifest's bounds one at a time (mesh/ota_manifest.py): bodies in
# which exactly one field is wrong (the files' sizes still add up to the
# bundle's size and the page count still matches), and each limit at its
# value and one past it. Plain test functions: run under pytest and MicroPython.
import json
import struct

from mesh import ota_manifest as om
from mesh.ota_manifest import MAX_BODY, MAX_FILES, OtaError

def _table(files):
    out = [struct.pack("<H", len(files))]
    for path, size in files:
        raw = path.encode()
        out.append(struct.pack("<B", len(raw)) + raw + struct.pack("<I", size & 0xFFFFFFFF))
    return b"".join(out)


def _body(files=None, size=None, page_size=64, table=None, **extra):
    if files is None:
        files = [["main.py", 100]]
    if size is None:
        size = sum([f[1] for f in files])
    fields = {"version": 7, "bundle": "0123456789abcdef", "downgrade": False,
              "page_size": page_size, "size": size}
    for k in extra:
        fields[k] = extra[k]
    meta = json.dumps(fields).encode()
    pages = (size + page_size - 1) // page_size if isinstance(size, int) and isinstance(page_size, int) else 1
    return (struct.pack("<H", len(meta)) + meta + (_table(files) if table is None else table)
            + bytes(16 * max(0, pages)))


def _ok(body):
    return om.parse_body(body)


def _refused(fn, *args):
    try:
        fn(*args)
    except OtaError as exc:
        assert exc.reason == "malformed", exc.reason
        return
    raise AssertionError("accepted")


def _files(body):
    return list(_ok(body).files())


def test_file_count_from_one_to_the_limit():
    assert len(_files(_body([["a", 64]]))) == 1
    many = [["f%d" % i, 1] for i in range(MAX_FILES)]
    assert len(_files(_body(many))) == MAX_FILES
    _refused(_ok, _body(many + [["x", 1]]))
    _refused(_ok, _body([["a", 64]], table=struct.pack("<H", 0)))       # no file at all


def test_each_path_rule_alone():
    for path in ("a/../b", "..", "/boot.py", "/", "", "a b", "caf\u00e9", "tab\t"):
        _refused(_ok, _body([[path, 64]]))
    assert _files(_body([["lib/a.b.py", 64]]))[0] == ("lib/a.b.py", 64)


def test_each_file_size_and_record_rule_alone():
    assert _ok(_body([["empty.py", 0], ["a", 64]])).size == 64
    _refused(_ok, _body([["a", -1], ["b", 65]], size=64))   # adds up modulo 2**32, one huge
    good = _table([["a", 64]])
    _refused(_ok, _body([["a", 64]], table=good[:-1]))      # the record runs into the hashes
    _refused(_ok, _body([["a", 64]], table=good[:2] + b"\x09" + good[3:]))   # its length lies
    _refused(_ok, _body([["a", 64]], table=struct.pack("<H", 2) + good[2:]))   # the count lies


def test_version_from_one_to_the_u32_top():
    assert _ok(_body(version=1)).version == 1
    assert _ok(_body(version=0xFFFFFFFF)).version == 0xFFFFFFFF
    _refused(_ok, _body(version=0x100000000))


def test_page_count_at_the_edges_of_a_page():
    for size, pages in ((1, 1), (63, 1), (64, 1), (65, 2), (128, 2), (129, 3)):
        m = _ok(_body([["a", size]]))
        assert m.pages == pages and m.page_len(pages - 1) == size - (pages - 1) * 64


def test_split_takes_an_empty_body_and_no_signature_and_refuses_less():
    assert om.split(om.pack(b"", b"")) == (b"", b"")
    assert om.split(om.pack(b"abc", b"")) == (b"abc", b"")
    assert om.split(om.pack(b"abc", b"sig")) == (b"abc", b"sig")
    _refused(om.split, om.pack(b"abc", b"")[:-1])
    _refused(om.split, om.pack(b"", b"")[:-1])


def test_split_bounds_the_body_length():
    body = b"x" * MAX_BODY
    assert om.split(om.pack(body, b"s")) == (body, b"s")
    _refused(om.split, om.pack(body + b"x", b"s"))
    _refused(om.split, om.pack(b"x" * 40000, b""))          # past a signed 16-bit length
    _refused(om.split, b"NMOT\x01\xff\xff" + bytes(100))    # claims 65535 bytes
