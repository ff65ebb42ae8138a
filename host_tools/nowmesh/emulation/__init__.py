"""Live emulation of ESP32 boards running the nowmesh firmware.

- `mesh`: `Emulation`, a mesh of emulated boards with their medium (a context manager)
- `medium/`: the real-time radio medium server, its wire protocol and client
- `board/`: one emulated board: a flash folder run by `micropython` behind a pty
- `rom/`: the ESP32 ROM serial bootloader (download mode) and booting from a flash file
- `device/`: what runs inside the emulated `micropython` (espnow, network,
  machine, esp32, sensors, the REPL shim, the flash-image boot); not host modules
- `control`: controlling a running emulation (kill, restart, cut, loss, scenarios)
- `registry`: the running emulations of this user, for `nowmesh ports`
- `capture`: frame captures of the medium, decoded
- `live_demo`: the second half of `make demo`

See docs/emulation.md, docs/emulated-node.md and docs/rom-bootloader.md.
"""
