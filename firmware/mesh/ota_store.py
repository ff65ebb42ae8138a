# The OTA page store seam (docs/ota.md): where a node keeps the signed
# manifest and the pages it holds of the bundle it is fetching or serving.
# The core only calls this interface; the board passes one that writes to
# flash (meshport/ota_port.FlashPageStore), the simulator and the tests this
# RAM one. Pages are held in order (Deluge): `held` pages 0..held-1.
#
# A manifest arrives in pieces, in any order, into a *staging* area of its
# size (stage_begin, stage), is checked from there (read_staged: mesh/ota_manifest.accept_from) and only then adopted as
# the manifest of the bundle held; a refused one never replaces the held one.


class MemoryPageStore:
    """A page store in RAM: the simulator's and the tests'."""

    def __init__(self):
        self._manifest = None
        self._staged = bytearray()
        self._pages = []

    def manifest_size(self):
        """Bytes of the signed manifest held, or None."""
        return None if self._manifest is None else len(self._manifest)

    def read_manifest(self, offset, length):
        return self._manifest[offset:offset + length]

    def stage_begin(self, size):
        """An incoming manifest of `size` bytes: a fresh staging area."""
        self._staged = None
        self._staged = bytearray(size)

    def stage(self, offset, data):
        """A piece of the incoming manifest at `offset` (within its size)."""
        if 0 <= offset and offset + len(data) <= len(self._staged):
            self._staged[offset:offset + len(data)] = data

    def staged_size(self):
        return len(self._staged)

    def read_staged(self, offset, length):
        return bytes(self._staged[offset:offset + length])

    def adopt(self):
        """The staged manifest (checked) becomes the held one; its old pages go."""
        self._manifest, self._staged = bytes(self._staged), bytearray()
        self._pages = []

    def start(self, blob):
        """Hold `blob` as the manifest at once (tests; a resumed store)."""
        self.stage_begin(len(blob))
        self.stage(0, blob)
        self.adopt()

    def held(self):
        return len(self._pages)

    def append(self, data):
        """Page number held() arrives (already verified against the manifest)."""
        self._pages.append(bytes(data))

    def read(self, index, offset, length):
        """Bytes of a held page, to serve a neighbour."""
        return self._pages[index][offset:offset + length]
