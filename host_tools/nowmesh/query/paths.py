"""Reaching one node through the mesh: ping, and the hop-by-hop path (trace).

`trace` is walked from the host: the connected node says its next hop
towards the target (`routes` with `dst`), then that hop is asked the same
through the mesh, and so on. Each answer also carries the quality of the
link to the next hop (rssi as the asking hop hears it, cost in 1/8 ETX), so
one small request per hop gives the whole path. The walk stops at the
target, at a node without a route, at a node seen twice (a routing loop),
or after MAX_HOPS.
"""
import time

from nowmesh.query.nodes import name_of

MAX_HOPS = 16             # the mesh's hop limit
# A route is withdrawn for a moment when its next hop sends an unfeasible
# update, until the destination's next reading brings a feasible one:
# ask again a few times before calling a hop a dead end.
NO_ROUTE_TRIES, NO_ROUTE_WAIT_S = 4, 1.0


def ping(session, node_id):
    """-> {"node", "id", "ok", "rtt_ms", "hops"} (+ "error" when not ok)."""
    outcome = session.run_many([("ping", {"node": node_id}, None)])[0]
    result = {"node": name_of(session, node_id) or node_id, "id": node_id, "ok": outcome.ok,
              "rtt_ms": None, "hops": None}
    if outcome.ok:
        result["rtt_ms"] = outcome.data.get("rtt_ms")
        result["hops"] = outcome.data.get("hops")
    else:
        result["error"] = outcome.error
    return result


def trace(session, node_id):
    """-> {"node", "id", "ok", "hops", "path": [hop]} (+ "error" when the walk
    did not reach the node). A hop is {"from", "from_id", "to", "to_id",
    "rssi", "cost", "metric", "ms"}: metric is the asking hop's route metric
    to the target, ms how long its answer took."""
    path = []
    at = session.local_id
    visited = {at}
    error = None
    while error is None and len(path) < MAX_HOPS:
        hop, error = _next_hop(session, at, node_id)
        if hop is None:
            break
        path.append(hop)
        if hop["to_id"] == node_id:
            break
        if hop["to_id"] in visited:
            error = "routing loop: %s is on the path twice" % hop["to"]
        visited.add(hop["to_id"])
        at = hop["to_id"]
    reached = bool(path) and path[-1]["to_id"] == node_id and error is None
    if not reached and error is None:
        error = "no path within %d hops" % MAX_HOPS
    result = {"node": name_of(session, node_id) or node_id, "id": node_id, "ok": reached,
              "hops": len(path), "path": path}
    if not reached:
        result["error"] = error
    return result


def _next_hop(session, at, node_id):
    """(hop, None) or (None, error) for the node `at` on the way to node_id."""
    where = None if at == session.local_id else at
    for attempt in range(NO_ROUTE_TRIES):
        if attempt:
            time.sleep(NO_ROUTE_WAIT_S)
        outcome = session.run_many([("routes", {"dst": node_id}, where)])[0]
        if not outcome.ok or outcome.data:
            break
    here = name_of(session, at) or at
    if not outcome.ok:
        return None, "%s did not answer (%s)" % (here, outcome.error)
    if not outcome.data:
        return None, "%s has no route to %s" % (here, name_of(session, node_id) or node_id)
    route = outcome.data[0]
    nh = route["next_hop"]
    if route.get("name"):
        session.names.setdefault(route["id"], route["name"])
    return {"from": here, "from_id": at, "to": name_of(session, nh) or nh, "to_id": nh,
            "rssi": route.get("rssi"), "cost": route.get("cost"), "metric": route.get("metric"),
            "ms": round(outcome.seconds * 1000) if outcome.seconds is not None else None}, None
