# Not a board profile: it makes this folder the package data
# `nowmesh.bundle.boards` of the host tools, so a built wheel carries the
# profiles (setup.py maps it).
