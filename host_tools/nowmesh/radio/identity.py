"""How simulated and emulated nodes are named, in one place."""

# The network key of simulations and emulated test meshes (never a real
# mesh's: `nowmesh deploy` and `nowmesh image` make a random one).
TEST_KEY = bytes(range(16))


def node_mac(index):
    """Locally administered unicast MAC for node `index` of a topology (02:4e:4d:...)."""
    return bytes((0x02, 0x4E, 0x4D)) + (index + 1).to_bytes(3, "big")
