"""Protocols the simulator can run, by name: the mesh core and two baselines.

Each entry knows how to build a node with the core's Node interface, how to
tell control frames from data frames, and how to name a routed packet for
loop detection. Adding a protocol is adding a row here.
"""
from nowmesh.sim.protocols.baselines import FloodNode, ManagedFloodNode
from nowmesh.sim.protocols.spec import BaselineSpec, NowmeshSpec

PROTOCOLS = {
    "nowmesh": NowmeshSpec(),
    "flood": BaselineSpec("flood", FloodNode),
    "managed-flood": BaselineSpec("managed-flood", ManagedFloodNode),
}
