# The OTA page store seam (docs/ota.md): where a node keeps the signed
# manifest and the pages it holds of the bundle it is fetching or serving.
# The core only calls this interface; the board passes one that writes each
# page to flash as it arrives (meshport), the simulator and the tests this
# RAM one. Pages are held in order (Deluge): `held` pages 0..held-1.


class MemoryPageStore:
    """A page store in a dict: the simulator's and the tests'."""

    def __init__(self):
        self._manifest = None
        self._pages = []

    def manifest(self):
        """The signed manifest held (bytes), or None."""
        return self._manifest

    def start(self, blob):
        """A new bundle: keep its signed manifest, drop the old pages."""
        self._manifest = bytes(blob)
        self._pages = []

    def held(self):
        return len(self._pages)

    def append(self, data):
        """Page number held() arrives (already verified against the manifest)."""
        self._pages.append(bytes(data))

    def read(self, index, offset, length):
        """Bytes of a held page, to serve a neighbour."""
        return self._pages[index][offset:offset + length]
