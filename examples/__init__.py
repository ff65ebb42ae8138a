# Not an example: it makes this folder the package data
# `nowmesh.bundle.examples` of the host tools (the simulator's demo reads
# farm.json), so a built wheel carries them (setup.py maps it).
