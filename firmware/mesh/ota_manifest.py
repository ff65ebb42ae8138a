# The signed OTA manifest and its pages (docs/ota.md, "Manifest").
#
#   signed manifest = b"NMOT" | u8 format | u16 body length | body | LMS signature
#   body (JSON)     = {"version": u32, "bundle": 16 hex, "downgrade": bool,
#                      "page_size": int, "size": int,
#                      "files": [[board path, size, sha256 hex], ...],
#                      "pages": hex of the 16-byte SHA-256 prefix of every page}
#
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
FORMAT = const(1)
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


def split(blob):
    """-> (body, signature) of a signed manifest; OtaError('malformed')."""
    blob = bytes(blob)
    if len(blob) < HEAD_LEN or blob[:4] != MAGIC:
        raise OtaError("malformed")
    fmt, length = struct.unpack_from("<BH", blob, 4)
    if fmt != FORMAT or length > MAX_BODY or len(blob) < HEAD_LEN + length:
        raise OtaError("malformed")
    return blob[HEAD_LEN:HEAD_LEN + length], blob[HEAD_LEN + length:]


class Manifest:
    """A checked manifest: every field typed and bounded."""

    def __init__(self, fields):
        self.version = fields["version"]
        self.bundle = fields["bundle"]
        self.downgrade = fields["downgrade"]
        self.page_size = fields["page_size"]
        self.size = fields["size"]
        self.files = fields["files"]
        self.hashes = fields["pages"]

    @property
    def pages(self):
        return len(self.hashes) // PAGE_HASH_LEN

    def page_len(self, index):
        if index == self.pages - 1:
            return self.size - index * self.page_size
        return self.page_size

    def page_ok(self, index, data):
        """True if data is page `index` of this bundle."""
        if not 0 <= index < self.pages or len(data) != self.page_len(index):
            return False
        want = self.hashes[index * PAGE_HASH_LEN:(index + 1) * PAGE_HASH_LEN]
        return page_hash(data) == want


def _is_int(value, low, high):
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _check_files(files):
    if not isinstance(files, list) or not 0 < len(files) <= MAX_FILES:
        raise OtaError("malformed")
    total = 0
    for entry in files:
        if not isinstance(entry, list) or len(entry) != 3:
            raise OtaError("malformed")
        path, size, digest = entry
        if not isinstance(path, str) or not path or ".." in path or path[0] == "/" \
                or not _is_int(size, 0, 1 << 24) or not isinstance(digest, str) or len(digest) != 64:
            raise OtaError("malformed")
        total += size
    return total


def parse_body(body):
    """-> Manifest from the JSON body, every field checked; OtaError."""
    try:
        fields = json.loads(bytes(body))
        hashes = bytes.fromhex(fields["pages"])
    except (ValueError, KeyError, TypeError):
        raise OtaError("malformed")
    if not isinstance(fields, dict):
        raise OtaError("malformed")
    bundle, page_size, size = fields.get("bundle"), fields.get("page_size"), fields.get("size")
    if not _is_int(fields.get("version"), 1, 0xFFFFFFFF) or not isinstance(bundle, str) \
            or len(bundle) != 16 or not isinstance(fields.get("downgrade"), bool) \
            or not _is_int(page_size, MIN_PAGE, MAX_PAGE) or not _is_int(size, 1, MAX_PAGES * MAX_PAGE):
        raise OtaError("malformed")
    if _check_files(fields.get("files")) != size or len(hashes) % PAGE_HASH_LEN:
        raise OtaError("malformed")
    if len(hashes) // PAGE_HASH_LEN != (size + page_size - 1) // page_size:
        raise OtaError("malformed")
    fields["pages"] = hashes
    return Manifest(fields)


def accept(public_key, blob, running_version, free_bytes=None):
    """The board's whole check of a signed manifest: signature by the
    operator, then fields, then no downgrade unless signed as one, then room.
    -> Manifest; OtaError(reason) with reason malformed, signature, old,
    same or space."""
    body, signature = split(blob)
    try:
        lms.verify(public_key, body, signature)
    except lms.SignatureError as exc:
        raise OtaError("malformed" if exc.reason == "malformed" else "signature")
    manifest = parse_body(body)
    if manifest.version == running_version:
        raise OtaError("same")
    if manifest.version < running_version and not manifest.downgrade:
        raise OtaError("old")
    if free_bytes is not None and manifest.size > free_bytes:
        raise OtaError("space")
    return manifest
