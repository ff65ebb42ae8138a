"""The radio world shared by the simulator (nowmesh.sim) and the live
emulation (nowmesh.emulation): ESP-NOW's radio model, the shared medium
(carrier sense, collisions, ACKs, retries), the event queue, the topology and
scenario readers, and how nodes are named. It imports nothing from either
of its users (docs/architecture.md).

- `model`: path loss, shadowing, SINR, PHY rates (RadioModel, ENVIRONMENTS)
- `medium`: one shared channel per Wi-Fi channel: transmissions, MAC ACKs, retries
- `events`: the event queue both run on (virtual time, or real time in the medium)
- `topology`: line/grid/random layouts and topology files; `make_topology`
- `scenario`: scenario files (kill, revive, move, partition, heal, loss)
- `identity`: `node_mac(index)` and the test network key
"""
