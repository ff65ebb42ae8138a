"""Write the mesh's nodes and radio links, as the node on PORT can gather
them, to a file: .json, .dot (Graphviz), .svg or .png by its extension.

Every known node is asked for its neighbour table (through the mesh), and
both ends' views of each link are merged, so each radio link appears once
with its signal strength (the weaker end's rssi) and ETX (the better end's
estimate).
Links worse than --max-cost are listed apart as weak links (dashed in
pictures). The JSON shape is in docs/host-tools.md.

Examples:
  nowmesh topology /dev/ttyUSB0 --out mesh.json
  nowmesh topology /dev/ttyUSB0 --out mesh.svg
  nowmesh topology /dev/ttyUSB0 --out mesh.png
  nowmesh topology /dev/ttyUSB0 --out mesh.dot && dot -Tpdf mesh.dot > mesh.pdf
"""
import json

from nowmesh.errors import InputError
from nowmesh.query import MeshSession, known_nodes
from nowmesh.query import render
from nowmesh.query import topology as graph
from nowmesh.commands.oneshot import warn_restarts


def _cost(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 8 <= value <= 254:
        raise InputError("command line", "--max-cost", "must be a link cost from 8 (a perfect link) to 254, "
                                                       "in 1/8 ETX units; got %r" % text)
    return value


def add_arguments(p):
    p.add_argument("port", help="serial port path or pyserial URL of a node of the mesh")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="output file: .json, .dot, .svg or .png")
    p.add_argument("--max-cost", type=str, default=str(graph.DEFAULT_MAX_COST), metavar="COST",
                   help="links worse than this (1/8 ETX units; default %d = ETX 3) are weak links"
                        % graph.DEFAULT_MAX_COST)
    p.add_argument("--json", action="store_true", help="also print the topology as JSON on stdout")
    p.add_argument("--baud", type=int, default=115200)


def run(args):
    max_cost = _cost(args.max_cost)
    render.writer_for(args.out)           # a bad file name fails before the mesh is asked
    with MeshSession(args.port, args.baud) as session:
        topology = graph.build(session, known_nodes(session), max_cost)
    render.write(topology, args.out)
    warn_restarts(session)
    if args.json:
        print(json.dumps(topology, sort_keys=True))
    else:
        silent = [n["name"] for n in topology["nodes"] if not n["answered"]]
        print("%s: %d nodes, %d links, %d weak links%s" % (
            args.out, len(topology["nodes"]), len(topology["links"]), len(topology["weak_links"]),
            "; no answer from " + ", ".join(silent) if silent else ""))
    return 0
