"""nowmesh host tools: simulator, emulator and board tools for ESP-NOW meshes."""
__version__ = "0.1.0"
