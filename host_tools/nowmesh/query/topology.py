"""The mesh as a graph: every known node's neighbour table, merged into links.

Each node is asked for its neighbour table (the connected node directly,
the others through the mesh, several at a time). Node A's entry for B says
how A hears B (rssi) and the ETX of the link as A measures it from both
directions (cost, 1/8 ETX units, 255 = unusable). `merge_links` pairs A's
view of B with B's view of A, so each radio link appears once:

- rssi is the weaker of the two ends' figures (each end hears the other
  through its own shadowing: the weaker direction limits the link);
- cost is the worse of the two ends' ETX figures: each end joins its own
  fresh delivery ratio of one direction with the other end's report of the
  other direction, up to a hello interval old, so a fringe pair can look
  good from one end for a while (a few lucky frames in a row at the other
  end, reported in its hello); a link is good only when both ends say so;
- a link whose ends both list each other, with a cost of at most
  `max_cost`, is in `links`; one worse than that (but usable by the mesh,
  cost < 255) is in `weak_links`, as are links heard in one direction only;
- when one end did not answer, the other end's view is used alone
  (`"one_sided": true`).

The default bar, cost 24 (ETX 3), keeps the links the mesh relies on and
leaves out the fringe pairs that hear each other now and then at the edge
of range (in a live emulated line: good links measure ETX 1-1.5, the
fringe pair two spacings apart ETX 2.8-10 from one end, 4-10 from the other).
"""
DEFAULT_MAX_COST = 24
UNUSABLE = 255


PAGE = 12                  # neighbours per reply (a node builds it in its small heap)


def gather(session, nodes):
    """nodes: known_nodes(session) -> {id: neighbour entries, or None if no answer}.

    Every node is asked at once for its first page; a full page asks for
    the next (nowmesh.console.connection pages)."""
    requests = [("neighbours", None, None if e["id"] == session.local_id else e["id"], PAGE)
                for e in nodes]
    outcomes = session.run_many(requests)
    return {e["id"]: outcome.data if outcome.ok else None for e, outcome in zip(nodes, outcomes)}


def merge_links(tables, names, max_cost=DEFAULT_MAX_COST):
    """tables: {id: [{"id", "rssi", "cost", ...}] or None}; names: {id: name}
    -> (links, weak_links), each link once, sorted, a before b."""
    heard = {}                               # (listener, heard) -> (rssi, cost)
    for listener, entries in tables.items():
        for n in entries or ():
            heard[(listener, n["id"])] = (n.get("rssi"), n.get("cost"))
    links, weak = [], []
    for pair in sorted({tuple(sorted(key)) for key in heard}, key=lambda p: _label_pair(p, names)):
        link = _merge_pair(pair, heard, tables, names)
        if link is None:
            continue
        good = not link.get("one_way") and link["cost"] is not None and link["cost"] <= max_cost
        (links if good else weak).append(link)
    return links, weak


def _label_pair(pair, names):
    return tuple(sorted(names.get(i) or i for i in pair))


def _merge_pair(pair, heard, tables, names):
    a, b = sorted(pair, key=lambda i: names.get(i) or i)
    at_a, at_b = heard.get((a, b)), heard.get((b, a))
    one_sided = (at_a is None and tables.get(a) is None) or (at_b is None and tables.get(b) is None)
    views = [v for v in (at_a, at_b) if v is not None]
    rssis = [v[0] for v in views if v[0] is not None]
    costs = [v[1] for v in views if v[1] is not None]
    usable = [c for c in costs if c < UNUSABLE]
    if costs and not usable:
        return None                           # heard, but neither end can use it
    # one way: an end does not list the other, or says its hellos miss us
    one_way = not one_sided and (at_a is None or at_b is None or len(usable) < len(costs))
    cost = max(usable) if usable else None
    link = {"a": names.get(a) or a, "b": names.get(b) or b, "a_id": a, "b_id": b,
            "rssi": min(rssis) if rssis else None, "cost": cost,
            "etx": None if cost is None else round(cost / 8.0, 2),
            "rssi_at_a": at_a[0] if at_a else None, "rssi_at_b": at_b[0] if at_b else None,
            "cost_at_a": at_a[1] if at_a else None, "cost_at_b": at_b[1] if at_b else None}
    if one_sided:
        link["one_sided"] = True
    if one_way:
        link["one_way"] = True
    return link


def build(session, nodes, max_cost=DEFAULT_MAX_COST):
    """The topology document: {"node", "nodes", "links", "weak_links", "max_cost"}."""
    tables = gather(session, nodes)
    names = {e["id"]: e["name"] for e in nodes if e["name"]}
    links, weak = merge_links(tables, names, max_cost)
    return {"node": session.local_name, "max_cost": max_cost,
            "nodes": [{"name": e["name"] or e["id"], "id": e["id"], "hops": e["hops"],
                       "local": e["local"], "answered": tables.get(e["id"]) is not None}
                      for e in nodes],
            "links": links, "weak_links": weak}
