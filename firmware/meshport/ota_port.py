# Plugs the OTA dissemination part (mesh/ota.py) into the board's node at
# boot, when deploy installed the operator's LMS public key (`ota_key` in
# nowmesh.json). Without a key the board takes no part in OTA: it could not
# tell a signed bundle from a forged one. Imported and run at boot (the
# emulated heap fragments: docs/heap.md). docs/ota.md.
import binascii
import os

from mesh import ota as mesh_ota

from .ota_install import Installer
from .store import _exists, _remove, read_json, write_atomic

DIR = "ota"
RUNNING = "ota/running.json"        # {"version": u32, "bundle": hex}: the bundle installed by OTA
FLASH_MARGIN = 16384                # bytes left free for settings, logs and the switch
# Chunks per OTA data frame this board sends: a 7-chunk v2 frame (1.3 KB)
# costs several allocations that size (read, frame, seal, send); on the
# emulated 256K heap they failed (MemoryError, every answer: docs/ota.md).
MAX_RUN = 2


# The board's OTA page store (docs/ota.md): the seam mesh/ota_store.py
# describes, on flash. Every page goes to its own file as it arrives, so the
# heap never holds more than the one page being assembled, and a power cut
# keeps the pages already written (the fetch resumes from them).
#
#   ota/manifest   the signed manifest of the bundle being fetched or served
#   ota/staged     a manifest arriving piece by piece (radio or console),
#                  checked from the file, then renamed to ota/manifest
#   ota/p<N>       page N, written atomically (meshport.store.write_atomic)
#
# held() is the run of pages 0..k present. A new bundle removes the old
# pages from the highest down before its manifest is written: a cut at any
# moment leaves a prefix of the old bundle's pages under its own manifest.
# At boot the store discards what a cut may have left: temporary files of a
# write that never finished, pages after a gap, and (check()) pages that do
# not match the manifest, one page in RAM at a time.
def _page_number(name):
    """'p12' -> 12; None for any other name."""
    if len(name) < 2 or name[0] != "p" or not name[1:].isdigit():
        return None
    return int(name[1:])


class FlashPageStore:
    def __init__(self, root=DIR):
        self.root = root
        try:
            os.mkdir(root)
        except OSError:
            pass                          # already there
        self._held = 0
        while _exists(self._page(self._held)):
            self._held += 1
        self._tidy()

    def _page(self, index):
        return "%s/p%d" % (self.root, index)

    def _tidy(self):
        """Remove half-written files and pages beyond the held run."""
        _remove(self.root + "/staged")
        for name in os.listdir(self.root):
            index = _page_number(name)
            if name.endswith(".tmp") or (index is not None and index >= self._held):
                _remove(self.root + "/" + name)

    def check(self, manifest):
        """Keep only the pages that match `manifest` (a flipped bit, a file
        a cut left short): the held run ends before the first bad page."""
        for index in range(self._held):
            with open(self._page(index), "rb") as f:
                data = f.read()
            if not manifest.page_ok(index, data):
                self.truncate(index)
                return

    def truncate(self, count):
        """Forget pages count.. (highest first, so a cut keeps a prefix)."""
        for index in range(self._held - 1, count - 1, -1):
            _remove(self._page(index))
        self._held = min(self._held, count)

    def manifest_size(self):
        return _size(self.root + "/manifest")

    def read_manifest(self, offset, length):
        return _read_at(self.root + "/manifest", offset, length)

    def stage_begin(self, size):
        """An incoming manifest of `size` bytes: ota/staged, zeros until its
        pieces come (in any order), written 256 bytes at a time."""
        zeros = bytes(256)
        with open(self.root + "/staged", "wb") as f:
            for offset in range(0, size, 256):
                f.write(zeros[:min(256, size - offset)])

    def stage(self, offset, data):
        """A piece of the incoming manifest at `offset` (within its size)."""
        if offset < 0 or offset + len(data) > self.staged_size():
            return
        with open(self.root + "/staged", "r+b") as f:
            f.seek(offset)
            f.write(data)

    def staged_size(self):
        return _size(self.root + "/staged") or 0

    def read_staged(self, offset, length):
        return _read_at(self.root + "/staged", offset, length)

    def adopt(self):
        """The checked staged manifest replaces the held one: the old pages
        go first (highest down), then one rename."""
        self.truncate(0)
        os.rename(self.root + "/staged", self.root + "/manifest")

    def start(self, blob):
        self.stage_begin(len(blob))
        self.stage(0, bytes(blob))
        self.adopt()

    def held(self):
        return self._held

    def append(self, data):
        write_atomic(self._page(self._held), data)
        self._held += 1

    def read(self, index, offset, length):
        with open(self._page(index), "rb") as f:
            f.seek(offset)
            return f.read(length)


def _size(path):
    try:
        return os.stat(path)[6]
    except OSError:
        return None


def _read_at(path, offset, length):
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(length)


def running_version():
    """The OTA version this board runs: 0 when it was deployed by cable."""
    try:
        data = read_json(RUNNING) or {}
    except ValueError:
        data = {}
    version = data.get("version", 0)
    return version if isinstance(version, int) and version >= 0 else 0


def free_flash():
    """Bytes a bundle may take on flash (None where statvfs is missing)."""
    try:
        st = os.statvfs("/")
    except (AttributeError, OSError):
        return None
    return max(0, st[1] * st[4] - FLASH_MARGIN)


def attach(node, ota_key_hex, now_ms, root=DIR, console=None):
    """-> the plugged OTA part, or None when no key is installed. Pages the
    manifest does not vouch for (or all of them, without a manifest the
    key verifies) are dropped before the part serves any."""
    if not ota_key_hex:
        return None
    store = FlashPageStore(root)
    part = mesh_ota.attach(node, store, bytes.fromhex(ota_key_hex), running_version(),
                           now_ms, free_flash())
    part.answer.max_run = MAX_RUN
    if part.manifest is None:
        store.truncate(0)
    else:
        store.check(part.manifest)
    # when to install what it holds, the trial of a new bundle (meshport/ota_install.py)
    part.board = Installer(part, console, now_ms, free_flash)
    return part


# ------------------------------------------------------------ the operator's console
# `nowmesh ota` hands the signed manifest and the pages to the board it is
# plugged into, in pieces that fit a console line (512 bytes): each piece is
# {"item": "manifest" or a page number, "size": bytes of the item, "offset":
# where this piece goes, "data": base64}. The item is assembled in one buffer
# and, once whole, offered to the part exactly as if it came from the radio
# (Ota.offer_manifest / offer_page: signature, version, page hash checked).
MAX_PAGE = 4096


class CommandRefused(Exception):
    pass


def _item_size(item, size):
    limit = mesh_ota.MAX_MANIFEST if item == "manifest" else MAX_PAGE
    if not isinstance(size, int) or not 0 < size <= limit:
        raise CommandRefused("ota_put: 'size' must be 1..%d" % limit)
    if item != "manifest" and (not isinstance(item, int) or item < 0):
        raise CommandRefused("ota_put: 'item' must be \"manifest\" or a page number")


def put(part, args, now_ms):
    """One piece of an item from the operator -> {"held", "total"};
    CommandRefused naming what is wrong (no key, bad piece, refused item)."""
    if part is None:
        raise CommandRefused("no OTA key on this node (nowmesh deploy installs it)")
    item, size, offset = args.get("item"), args.get("size"), args.get("offset")
    _item_size(item, size)
    try:
        data = binascii.a2b_base64(args.get("data") or "")
    except (ValueError, TypeError):
        raise CommandRefused("ota_put: 'data' is not base64")
    upload = getattr(part, "upload", None)
    if offset == 0:
        # a page is assembled in RAM (<= 4 KB); the manifest on flash, in
        # the store's staging, and checked from there (no ~10 KB buffer)
        part.rx = None                # a radio item in progress shares the buffer or the staging
        upload = part.upload = [item, None if item == "manifest" else part.page_buffer(size), 0, size]
    if upload is None or upload[0] != item or upload[3] != size or offset != upload[2]:
        part.upload = None
        raise CommandRefused("ota_put: piece out of order (start the item again at offset 0)")
    if offset + len(data) > size:
        part.upload = None
        raise CommandRefused("ota_put: more data than 'size'")
    if upload[1] is None:
        if offset == 0:
            part.store.stage_begin(size)
        part.store.stage(offset, data)
    else:
        upload[1][offset:offset + len(data)] = data
    upload[2] += len(data)
    if upload[2] == size:
        part.upload = None
        reason = (part.offer_staged(size, now_ms) if item == "manifest"
                  else part.offer_page(item, upload[1], now_ms))
        if reason is not None:
            raise CommandRefused("refused: " + reason)
    return part.status()

