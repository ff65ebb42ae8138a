"""Querying a nowmesh mesh through one node's console (the library behind
`nowmesh status|nodes|neighbors|routes|readings|ping|trace|send|config-get|
config-set|reboot` and `nowmesh topology`; docs/host-tools.md).

    from nowmesh.query import MeshSession, known_nodes, ping, resolve, trace
    with MeshSession("/dev/ttyUSB0") as mesh:       # checks the node's hello
        print([n["name"] for n in known_nodes(mesh)])
        print(ping(mesh, resolve(mesh, "barn")))
        print(mesh.command("status", node=resolve(mesh, "barn")))
"""
from nowmesh.query.nodes import entries_from_rows, fetch_list, known_nodes, resolve  # noqa: F401
from nowmesh.query.paths import ping, trace  # noqa: F401
from nowmesh.query.session import FirmwareError, MeshSession, Outcome, is_node_id  # noqa: F401
