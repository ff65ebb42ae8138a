"""nowmesh host tools: simulator, emulator and board tools for ESP-NOW meshes."""
from nowmesh import _deprecated

__version__ = "0.1.0"
_deprecated.install()   # old module paths of the emulation, for one release
