# The OTA manifest's bounds one at a time (mesh/ota_manifest.py): bodies in
# which exactly one field is wrong (the files' sizes still add up to the
# bundle's size and the page count still matches), and each limit at its
# value and one past it. Plain test functions: run under pytest and MicroPython.
import json

from mesh import ota_manifest as om
from mesh.ota_manifest import MAX_BODY, MAX_FILES, OtaError

DIGEST = "0" * 64


def _body(files=None, size=None, page_size=64, **extra):
    if files is None:
        files = [["main.py", 100, DIGEST]]
    if size is None:
        size = sum([f[1] for f in files if isinstance(f[1], int)])
    fields = {"version": 7, "bundle": "0123456789abcdef", "downgrade": False,
              "page_size": page_size, "size": size, "files": files,
              "pages": "00" * 16 * ((size + page_size - 1) // page_size)}
    for k in extra:
        fields[k] = extra[k]
    return json.dumps(fields).encode()


def _ok(body):
    return om.parse_body(body)


def _refused(fn, *args):
    try:
        fn(*args)
    except OtaError as exc:
        assert exc.reason == "malformed", exc.reason
        return
    raise AssertionError("accepted")


def test_file_count_from_one_to_the_limit():
    assert len(_ok(_body([["a", 64, DIGEST]])).files) == 1
    many = [["f%d" % i, 1, DIGEST] for i in range(MAX_FILES)]
    assert len(_ok(_body(many)).files) == MAX_FILES
    _refused(_ok, _body(many + [["x", 1, DIGEST]]))


def test_each_path_rule_alone():
    for path in ("a/../b", "..", "/boot.py", "/", ""):
        _refused(_ok, _body([[path, 64, DIGEST]]))
    _refused(_ok, _body([[5, 64, DIGEST]]))
    assert _ok(_body([["lib/a.b.py", 64, DIGEST]])).files[0][0] == "lib/a.b.py"


def test_each_file_size_and_digest_rule_alone():
    assert _ok(_body([["empty.py", 0, DIGEST], ["a", 64, DIGEST]])).size == 64
    _refused(_ok, _body([["a", -1, DIGEST], ["b", 65, DIGEST]], size=64))   # adds up, one negative
    _refused(_ok, _body([["a", 64, [0] * 64]]))                             # 64 long, not text
    _refused(_ok, _body([["a", 64, DIGEST[:-1]]]))
    _refused(_ok, _body([["a", 64, DIGEST + "0"]]))


def test_version_from_one_to_the_u32_top():
    assert _ok(_body(version=1)).version == 1
    assert _ok(_body(version=0xFFFFFFFF)).version == 0xFFFFFFFF
    _refused(_ok, _body(version=0x100000000))


def test_page_count_at_the_edges_of_a_page():
    for size, pages in ((1, 1), (63, 1), (64, 1), (65, 2), (128, 2), (129, 3)):
        m = _ok(_body([["a", size, DIGEST]]))
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
