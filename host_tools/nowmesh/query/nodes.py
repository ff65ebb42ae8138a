"""Every node the mesh knows, as the connected node sees it, and node names.

A node knows other nodes from their readings (every node publishes one),
its routes (next hop, metric, hop estimate) and its neighbour table (radio
link quality). Names travel only in hellos, which reach direct neighbours;
the node learns a farther node's name when it answers a remote command, so
`known_nodes` asks each unnamed node for its `hello` once (several at a
time) and from then on the node itself names it.
"""
from nowmesh.errors import InputError
from nowmesh.query.session import is_node_id

# Reading values that describe the node itself, shown as their own columns.
_HEALTH_VALUES = {"uptime": "uptime_s", "heap": "heap_free"}


def _node_entry(node_id):
    return {"name": None, "id": node_id, "hops": None, "last_heard_s": None, "next_hop": None,
            "metric": None, "rssi": None, "cost": None, "seq": None, "uptime_s": None,
            "heap_free": None, "local": False}


def merge_views(hello, readings, routes, neighbours):
    """The local node's three tables -> {id: node entry} (pure; tested alone)."""
    local_id = hello["id"]
    nodes = {}

    def entry(node_id):
        return nodes.setdefault(node_id, _node_entry(node_id))

    me = entry(local_id)
    me.update(name=hello.get("name"), hops=0, last_heard_s=0, local=True)
    for r in readings or ():
        e = entry(r["id"])
        e["name"] = e["name"] or r.get("name")
        e["seq"] = r.get("seq")
        if r["id"] != local_id:
            e["last_heard_s"] = r.get("age_s")
        for name, value, _unit in r.get("values") or ():
            if name in _HEALTH_VALUES:
                e[_HEALTH_VALUES[name]] = int(value) if isinstance(value, (int, float)) else value
    for r in routes or ():
        e = entry(r["id"])
        e.update(next_hop=r.get("next_hop"), metric=r.get("metric"), hops=r.get("hops"))
        e["name"] = e["name"] or r.get("name")
    for n in neighbours or ():
        e = entry(n["id"])
        e["name"] = e["name"] or n.get("name")
        if (n.get("cost") or 255) < 255:      # a usable direct link (not one heard one way)
            e.update(rssi=n.get("rssi"), cost=n.get("cost"))
            if e["hops"] is None:
                e["hops"] = 1
    return nodes


def sort_key(entry):
    hops = entry["hops"] if entry["hops"] is not None else 999
    return (hops, entry["name"] or "~", entry["id"])


def known_nodes(session, learn_names=True):
    """[node entry] sorted by hops then name: the connected node first."""
    outcomes = session.run_many([("readings", None, None), ("routes", None, None),
                                 ("neighbours", None, None)])
    readings, routes, neighbours = [o.value(what) for o, what in
                                    zip(outcomes, ("readings", "routes", "neighbours"))]
    nodes = merge_views(session.hello, readings, routes, neighbours)
    if learn_names:
        _learn_names(session, [e for e in nodes.values() if not e["name"]])
    for e in nodes.values():
        if e["name"]:
            session.names[e["id"]] = e["name"]
    return sorted(nodes.values(), key=sort_key)


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
    if ref is None or ref in (session.local_id, session.local_name):
        return None
    if is_node_id(ref):
        return ref.lower()
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
