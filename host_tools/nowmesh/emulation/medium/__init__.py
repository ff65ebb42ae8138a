"""The radio medium of a live emulation: one server process carries ESP-NOW
frames between the emulated boards' `micropython` processes in real time,
with the radio model of nowmesh.sim (docs/emulation.md)."""
