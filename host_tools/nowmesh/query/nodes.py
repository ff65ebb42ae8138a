"""Every node the mesh knows, as the connected node sees it, and node names.

A node knows other nodes from their readings (every node publishes one),
its routes (next hop, metric, hop estimate) and its neighbour table (radio
link quality); its `nodes` console command gives all three in one compact
row per node, a page at a time. Names travel only in hellos, which reach direct neighbours;
the node learns a farther node's name when it answers a remote command, so
`known_nodes` asks each unnamed node for its `hello` once (several at a
time) and from then on the node itself names it.
"""
from nowmesh.console.connection import PAGE_ROWS
from nowmesh.errors import InputError
from nowmesh.query.session import is_node_id


def entries_from_rows(fields, rows, local_id):
    """The node's `nodes` rows (arrays in `fields` order) -> node entries (pure)."""
    nodes = []
    for row in rows:
        entry = dict(zip(fields, row))
        entry["last_heard_s"] = entry.pop("age_s", None)
        entry["local"] = entry["id"] == local_id
        nodes.append(entry)
    return nodes


def fetch_rows(session, node=None):
    """All of a node's `nodes` rows, page by page -> (fields, rows)."""
    first = session.command("nodes", {"offset": 0, "limit": PAGE_ROWS}, node=node)
    rows = list(first["rows"])
    offsets = range(PAGE_ROWS, first["total"], PAGE_ROWS)
    outcomes = session.run_many([("nodes", {"offset": o, "limit": PAGE_ROWS}, node) for o in offsets])
    for outcome in outcomes:
        rows += outcome.value("nodes")["rows"]
    return first["fields"], rows


def fetch_list(session, command, node=None, page=PAGE_ROWS):
    """A list command (readings, routes) page by page: a page shorter than
    asked for is the last."""
    return session.command(command, node=node, page=page)


def sort_key(entry):
    hops = entry["hops"] if entry["hops"] is not None else 999
    return (hops, entry["name"] or "~", entry["id"])


def known_nodes(session, learn_names=True):
    """[node entry] sorted by hops then name: the connected node first.

    An entry: name, id, hops, last_heard_s, seq, next_hop, metric, rssi and
    cost (of a direct link), uptime_s and heap_free (from its reading), local."""
    fields, rows = fetch_rows(session)
    nodes = entries_from_rows(fields, rows, session.local_id)
    if learn_names:
        _learn_names(session, [e for e in nodes if not e["name"]])
    for e in nodes:
        if e["name"]:
            session.names[e["id"]] = e["name"]
    return sorted(nodes, key=sort_key)


def add_fw(session, nodes):
    """Each entry's `fw`: the bundle id it runs (an OTA's) or its firmware
    version, from its hello (one request per node; docs/ota.md)."""
    ask = [e for e in nodes if "fw" not in e and not e.get("local")]
    for e, outcome in zip(ask, session.run_many([("hello", None, e["id"]) for e in ask])):
        e["fw"] = outcome.data.get("fw") if outcome.ok and isinstance(outcome.data, dict) else None
    for e in nodes:
        if e.get("local"):
            e["fw"] = session.command("hello").get("fw")
    return nodes


def _learn_names(session, unnamed):
    if not unnamed:
        return
    outcomes = session.run_many([("hello", None, e["id"]) for e in unnamed])
    for e, outcome in zip(unnamed, outcomes):
        if outcome.ok and isinstance(outcome.data, dict):
            e["name"] = outcome.data.get("name")
            e["fw"] = outcome.data.get("fw")
        else:
            e["unreachable"] = outcome.error


def resolve(session, ref, option="--node"):
    """A node named by the user -> its id, or None for the connected node itself.

    InputError (exit 2) naming the known nodes if the mesh has none by that name."""
    if is_node_id(ref):
        ref = ref.lower()
    if ref is None or ref in (session.local_id, session.local_name):
        return None
    if is_node_id(ref):
        return ref
    for node_id, name in session.names.items():
        if name == ref:
            return node_id
    nodes = known_nodes(session)
    for e in nodes:
        if e["name"] == ref:
            return e["id"]
    known = ", ".join(e["name"] or e["id"] for e in nodes)
    raise InputError("command line", option, 'no node "%s" in the mesh as %s sees it (known: %s)'
                     % (ref, session.local_name or session.url, known))


def name_of(session, node_id):
    if node_id == session.local_id:
        return session.local_name
    return session.names.get(node_id)
