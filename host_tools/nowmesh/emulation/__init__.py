"""Live emulation: a real-time radio medium for emulated nodes.

`medium_server` carries ESP-NOW frames between `micropython` processes with the
simulator's radio model (nowmesh.sim.radio / medium); `upy/` holds the
emulation-only `espnow`, `network` and `aioespnow` modules those processes
import. See docs/emulation.md.
"""
