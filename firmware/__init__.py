# Not part of the firmware (never shipped: see manifest.py). It makes this
# folder the package data `nowmesh.bundle.firmware` of the host tools, so a
# built wheel carries the firmware tree (setup.py maps it).
