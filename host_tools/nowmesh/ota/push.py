"""Hand a signed bundle to the board on a port and follow the mesh taking it.

`offer` sends the signed manifest and every page to the connected node over
its console (`ota_put` pieces that fit a 512-byte console line); the node
checks each item exactly as one from the radio. The mesh then disseminates
it (firmware/mesh/ota.py); `follow` asks every node for its `hello`, whose
`fw` is the bundle it runs and `ota` [version, bundle id, pages held, pages
total, install state]; once every node holds the bundle it sends each the
operator's go (`ota_install`, unless the manifest says "now"), and ends
when every node runs the new bundle, or names the nodes that rolled back,
refused it, or did not get there in time. docs/ota.md.
"""
import base64
import time

from nowmesh.errors import ToolError
from nowmesh.query.nodes import known_nodes

PIECE = 288               # raw bytes per ota_put: 384 base64 characters + JSON fit 512
POLL_S = 2.0
ACTIVATE_AGAIN_S = 10.0   # a node that holds but does not run yet is asked again after this


class OtaFailed(ToolError):
    """Some node did not take the bundle; the message names each and why."""


def _pieces(item, blob):
    for offset in range(0, len(blob), PIECE):
        chunk = blob[offset:offset + PIECE]
        yield {"item": item, "size": len(blob), "offset": offset,
               "data": base64.b64encode(chunk).decode("ascii")}


def offer(session, signed, image, page_size, progress=None):
    """The manifest, then each page, to the node on the session's port.
    -> its [version, bundle, held, total]. ConsoleError (the node's reason,
    e.g. "refused: old") when it refuses an item."""
    state = None
    for args in _pieces("manifest", signed):
        state = session.command("ota_put", args)
    pages = [image[i:i + page_size] for i in range(0, len(image), page_size)]
    for index, page in enumerate(pages):
        if index < state[2]:
            continue                      # already held (an earlier, interrupted run)
        for args in _pieces(index, page):
            state = session.command("ota_put", args)
        if progress:
            progress("offered page %d/%d to %s" % (index + 1, len(pages), session.local_name))
    return state


def node_states(session, node_ids):
    """{node id: (hello or None, error or None)}: each node's `fw` (the bundle
    it runs) and `ota` ([version, bundle, held, total, install state])."""
    local = session.command("hello")
    out = {session.local_id: (local, None)}
    remote = [n for n in node_ids if n != session.local_id]
    for node_id, outcome in zip(remote, session.run_many([("hello", None, n) for n in remote])):
        if outcome.ok and isinstance(outcome.data, dict):
            out[node_id] = (outcome.data, None)
        else:
            out[node_id] = (None, outcome.error)
    return out


def _ota(hello):
    state = hello.get("ota") if isinstance(hello, dict) else None
    return state if isinstance(state, list) and len(state) >= 4 else None


def _holds(hello, version, bundle):
    s = _ota(hello)
    return s is not None and s[0] == version and s[1] == bundle[:16] and s[3] > 0 and s[2] == s[3]


def _runs(hello, bundle):
    return isinstance(hello, dict) and hello.get("fw") == bundle[:16]


def _failed(hello, version):
    """The node's own word that it will not run this version: rolled back, refused."""
    s = _ota(hello)
    state = s[4] if s is not None and len(s) > 4 else None
    if isinstance(state, str):
        for prefix in ("rolled back %d:" % version, "refused %d:" % version):
            if state.startswith(prefix):
                return state
    return None


class _Round:
    """One polling round's view of every node."""

    def __init__(self, states, version, bundle):
        self.states = states
        self.running = set(n for n, (h, _e) in states.items() if _runs(h, bundle))
        self.holding = set(n for n, (h, _e) in states.items() if _holds(h, version, bundle)) - self.running
        self.failed = dict((n, _failed(h, version)) for n, (h, _e) in states.items() if _failed(h, version))


def known_names(session):
    """{node id: name or None} of every node the node on the session knows."""
    return dict((e["id"], e["name"]) for e in known_nodes(session))


def follow(connect, version, bundle, timeout_s, progress=None, activate=None,
           clock=time.monotonic, sleep=time.sleep, nodes=None):
    """Poll every node until each *runs* the bundle -> [per-node result];
    OtaFailed naming each node that did not (rolled back, refused, still
    holding, no answer) and why. connect() opens a session to the node on
    the port (again each round: that node restarts too). activate(session,
    node id): the operator's go for a node that holds the bundle, sent once
    every node holds it (two-phase); None when the manifest says "now".
    nodes: {id: name} to follow (default: every node the mesh knows now)."""
    if nodes is None:
        with connect() as session:
            nodes = known_names(session)
    deadline, asked = clock() + timeout_s, {}
    states = dict((n, (None, "no answer")) for n in nodes)
    while True:
        try:
            with connect() as session:
                states.update(node_states(session, nodes))
                now = _Round(states, version, bundle)
                if activate is not None and len(now.holding | now.running | set(now.failed)) == len(nodes):
                    waiting = now.holding - set(now.failed)
                    for node_id in sorted(waiting, key=lambda n: (n == session.local_id, n)):
                        if clock() - asked.get(node_id, -1e9) >= ACTIVATE_AGAIN_S:
                            asked[node_id] = clock()
                            activate(session, node_id)   # the local node last: it restarts
        except ToolError as exc:          # the node on the port restarted under us: next round
            if progress:
                progress("(%s)" % exc)
        now = _Round(states, version, bundle)
        if progress:
            progress("%d/%d nodes run bundle %s, %d more hold it" % (
                len(now.running), len(nodes), bundle[:16], len(now.holding)))
        if len(now.running) + len(now.failed) == len(nodes) or clock() >= deadline:
            break
        sleep(POLL_S)
    results = [_result(n, nodes[n], states[n], version, bundle) for n in sorted(nodes)]
    missing = [r for r in results if not r["ok"]]
    if missing:
        failed = OtaFailed("; ".join("%s: %s" % (r["name"] or r["id"], r["reason"]) for r in missing))
        failed.results = results
        raise failed
    return results


def activate_with(operator_key, version):
    """-> activate(session, node id): `ota_install` on the node, signed with
    the operator key when it is another node (docs/protocol.md, "Operator key")."""
    from nowmesh.query.admin import authorised

    def activate(session, node_id):
        args = {"version": version}
        try:
            if node_id == session.local_id:
                session.command("ota_install", args)
            else:
                session.command("ota_install", authorised(session, node_id, "ota_install", args,
                                                          operator_key), node=node_id)
        except ToolError:
            pass                          # asked again next round (ACTIVATE_AGAIN_S)
    return activate


def _result(node_id, name, state, version, bundle):
    hello, error = state
    result = {"id": node_id, "name": name, "ok": _runs(hello, bundle), "ota": _ota(hello),
              "fw": hello.get("fw") if isinstance(hello, dict) else None}
    if not result["ok"]:
        result["reason"] = _why(hello, error, version, bundle)
    return result


def _why(hello, error, version, bundle):
    if error is not None:
        return "no answer (%s)" % error
    status = _ota(hello)
    if status is None:
        return "takes no part in OTA (a gateway, or no ota_key: deploy it again)"
    if _failed(hello, version):
        return _failed(hello, version)
    if status[0] != version:
        return "still on version %d (it has not taken the manifest)" % status[0]
    if status[2] != status[3]:
        return "holds %d of %d pages" % (status[2], status[3])
    return "holds the bundle but runs %s (%s)" % (hello.get("fw"), status[4] if len(status) > 4 else "not installed")
