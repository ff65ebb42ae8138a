# The signed OTA manifest and its pages (docs/ota.md, "Manifest").
#
#   signed manifest = b"NMOT" | u8 format | u16 body length | body | LMS signature
#   body            = u16 meta length | meta (JSON) | u16 file count | files | page hashes
#   meta            = {"version": u32, "bundle": 16 hex, "downgrade": bool,
#                      "page_size": int, "size": int,
#                      optional "activate": "hold" (default) | "now",
#                      optional "confirm_s": 5..3600 (default 60)}
#   a file          = u8 path length | path (printable ASCII) | u32 size
#   page hashes     = the 16-byte SHA-256 prefix of every page, in order
# (integers little-endian). No per-file digest: the page hashes cover every
# byte of every file. A board assembles the manifest on flash and checks it
# from there (accept_from): the body is streamed into the signature check,
# the ~130-byte meta is parsed, files and page hashes are read one at a time
# when needed, so the heap never needs a piece larger than a page.
# The bundle image is the files' bytes concatenated in manifest order, cut in
# pages of page_size (the last one shorter). A page is checked against its
# hash before it is stored or forwarded, so one bad neighbour costs a
# re-request, never a bad install. The manifest comes from the radio: hostile
# until the signature and every field have been checked.
import hashlib
import json
import struct
from micropython import const

from . import lms

MAGIC = b"NMOT"
FORMAT = const(2)              # 2: binary page hashes after the meta, no file digests
HEAD_LEN = const(7)
PAGE_HASH_LEN = const(16)
MAX_BODY = const(16384)        # bounds the RAM a manifest can ask for
MAX_PAGES = const(1024)
MAX_FILES = const(128)
MIN_PAGE, MAX_PAGE = const(64), const(4096)


class OtaError(Exception):
    """A manifest or page refused; .reason is one word (docs/ota.md)."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def page_hash(data):
    return hashlib.sha256(data).digest()[:PAGE_HASH_LEN]


def pack(body, signature):
    """The signed manifest: what the laptop sends (nowmesh.ota)."""
    return MAGIC + struct.pack("<BH", FORMAT, len(body)) + bytes(body) + bytes(signature)


def body_len(head):
    """-> the body length a signed manifest's head (its first HEAD_LEN
    bytes) announces; OtaError('malformed')."""
    if len(head) < HEAD_LEN or bytes(head[:4]) != MAGIC:
        raise OtaError("malformed")
    fmt, length = struct.unpack_from("<BH", head, 4)
    if fmt != FORMAT or length > MAX_BODY:
        raise OtaError("malformed")
    return length


def split(blob):
    """-> (body, signature) of a signed manifest; OtaError('malformed')."""
    blob = bytes(blob)
    length = body_len(blob)
    if len(blob) < HEAD_LEN + length:
        raise OtaError("malformed")
    # the body as a view: one ~8 KB copy fewer on the board's heap
    return memoryview(blob)[HEAD_LEN:HEAD_LEN + length], blob[HEAD_LEN + length:]


class Manifest:
    """A checked manifest: every field typed and bounded."""

    def __init__(self, fields, read, files_at, hashes_at):
        self.version = fields["version"]
        self.bundle = fields["bundle"]
        self.downgrade = fields["downgrade"]
        self.page_size = fields["page_size"]
        self.size = fields["size"]
        self.pages = (self.size + self.page_size - 1) // self.page_size
        # install as soon as held ("now"), or on the operator's ota_install ("hold")
        self.activate = fields.get("activate", "hold")
        self.confirm_s = fields.get("confirm_s", 60)   # a new bundle confirms itself within this
        self.read, self.files_at, self.hashes_at = read, files_at, hashes_at

    def files(self):
        """-> iterator of (board path, size), in image order (main.py last)."""
        return _records(self.read, self.files_at, self.hashes_at)[0]

    def rebind(self, read):
        """The signed manifest moved (staged -> held): read it from there."""
        self.read = read

    def page_len(self, index):
        if index == self.pages - 1:
            return self.size - index * self.page_size
        return self.page_size

    def page_ok(self, index, data):
        """True if data is page `index` of this bundle."""
        if not 0 <= index < self.pages or len(data) != self.page_len(index):
            return False
        want = self.read(self.hashes_at + index * PAGE_HASH_LEN, PAGE_HASH_LEN)
        return page_hash(data) == bytes(want)


def _is_int(value, low, high):
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _record(read, at, end):
    """-> (path, size, next offset) of the file record at `at`; OtaError."""
    if at + 1 > end:
        raise OtaError("malformed")
    n = read(at, 1)[0]
    if not 0 < n or at + 1 + n + 4 > end:
        raise OtaError("malformed")
    raw = bytes(read(at + 1, n))
    for c in raw:
        if not 0x21 <= c <= 0x7E:
            raise OtaError("malformed")
    path = raw.decode()
    if ".." in path or path[0] == "/":
        raise OtaError("malformed")
    return path, struct.unpack("<I", read(at + 1 + n, 4))[0], at + 1 + n + 4


def _records(read, at, end):
    """-> (list or iterator of (path, size), offset after the table, total
    size); the table's count and every record checked. OtaError."""
    if at + 2 > end:
        raise OtaError("malformed")
    count = struct.unpack("<H", read(at, 2))[0]
    if not 0 < count <= MAX_FILES:
        raise OtaError("malformed")
    at += 2
    first, total = at, 0
    for _ in range(count):
        _path, size, at = _record(read, at, end)
        if size > 1 << 24:
            raise OtaError("malformed")
        total += size
    return _walk(read, first, count, end), at, total


def _walk(read, at, count, end):
    for _ in range(count):
        path, size, at = _record(read, at, end)
        yield path, size


def pack_body(fields, files, page_hashes):
    """The body the laptop signs (nowmesh.bundle.build.ota_bundle): meta
    fields, [(path, size), ...] and the page hashes, in the format above."""
    meta = json.dumps(fields).encode()
    out = [struct.pack("<H", len(meta)), meta, struct.pack("<H", len(files))]
    for path, size in files:
        raw = path.encode()
        out.append(struct.pack("<B", len(raw)) + raw + struct.pack("<I", size))
    out.append(bytes(page_hashes))
    return b"".join(out)


def parse_body(body):
    """-> Manifest from a body in RAM, every field checked; OtaError."""
    body = bytes(body)
    return parse_at(lambda offset, n: body[offset:offset + n], 0, len(body))


def parse_at(read, start, length):
    """-> Manifest from the body of `length` bytes at `start` of what
    read(offset, n) returns; only the meta is read whole. OtaError."""
    if length < 2:
        raise OtaError("malformed")
    meta_len = struct.unpack("<H", read(start, 2))[0]
    try:
        fields = json.loads(bytes(read(start + 2, meta_len))) if 2 + meta_len <= length else None
    except ValueError:
        fields = None
    if not isinstance(fields, dict):
        raise OtaError("malformed")
    end = start + length
    files_at = start + 2 + meta_len
    _files, hashes_at, total = _records(read, files_at, end)
    bundle, page_size, size = fields.get("bundle"), fields.get("page_size"), fields.get("size")
    if not _is_int(fields.get("version"), 1, 0xFFFFFFFF) or not isinstance(bundle, str) \
            or len(bundle) != 16 or not isinstance(fields.get("downgrade"), bool) \
            or not _is_int(page_size, MIN_PAGE, MAX_PAGE) or not _is_int(size, 1, MAX_PAGES * MAX_PAGE):
        raise OtaError("malformed")
    if fields.get("activate", "hold") not in ("hold", "now") \
            or not _is_int(fields.get("confirm_s", 60), 5, 3600):
        raise OtaError("malformed")
    if total != size or end - hashes_at != PAGE_HASH_LEN * ((size + page_size - 1) // page_size):
        raise OtaError("malformed")
    return Manifest(fields, read, files_at, hashes_at)


def accept(public_key, blob, running_version, free_bytes=None):
    """The board's whole check of a signed manifest held in RAM (accept_from)."""
    blob = bytes(blob)
    return accept_from(public_key, lambda offset, n: blob[offset:offset + n], len(blob),
                       running_version, free_bytes)


READ_PIECE = const(512)


def _pieces(read, offset, length):
    end = offset + length
    while offset < end:
        n = min(READ_PIECE, end - offset)
        yield read(offset, n)
        offset += n


def accept_from(public_key, read, total, running_version, free_bytes=None):
    """The board's whole check of a signed manifest of `total` bytes that
    read(offset, n) returns (a file on flash, or a blob): signature by the
    operator, then fields, then no downgrade unless signed as one, then room.
    The body is hashed piece by piece and parsed once: the heap never holds
    the signed manifest whole. -> Manifest; OtaError(reason) with reason
    malformed, signature, old, same or space."""
    length = body_len(read(0, HEAD_LEN))
    if total <= HEAD_LEN + length:
        raise OtaError("malformed")
    sig_at = HEAD_LEN + length
    try:
        lms.verify_at(public_key, _pieces(read, HEAD_LEN, length),
                      lambda offset, n: read(sig_at + offset, n), total - sig_at)
    except lms.SignatureError as exc:
        raise OtaError("malformed" if exc.reason == "malformed" else "signature")
    manifest = parse_at(read, HEAD_LEN, length)
    if manifest.version == running_version:
        raise OtaError("same")
    if manifest.version < running_version and not manifest.downgrade:
        raise OtaError("old")
    if free_bytes is not None and manifest.size > free_bytes:
        raise OtaError("space")
    return manifest
