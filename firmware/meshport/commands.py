# Console commands, one handler per name (docs/console-protocol.md). A handler
# takes (app, args) and returns JSON-able data, raises CommandError, or
# returns PENDING when the answer comes later from the mesh (ping, remote).
import gc

from .settings import SECRET_FIELDS
from .settings import update as update_settings


class CommandError(Exception):
    pass


PENDING = object()


def hex_id(node_id):
    return ":".join(["%02x" % b for b in node_id])


def _hello(app, args):
    return app.hello()


def _status(app, args):
    node = app.node
    data = {"name": node.name, "id": hex_id(node.id), "uptime_s": app.uptime_s(),
            "heap_free": gc.mem_free(), "boot": node.boot, "channel": node.config.channel,
            # what `nowmesh reboot/config-set --node` binds its authorisation to
            "admin_seq": app.admin_seq, "admin_id": app.port.get("admin_id"),
            "admin_rejected": node.stats.get("admin_rejected", 0),
            "rx": node.stats["rx"], "tx": node.stats["tx"], "rejected": node.stats["rejected"],
            "neighbours": len(neighbour_entries(node)), "readings": node.others_held(),
            "app_errors_total": node.stats.get("app_error", 0), "fw": app.fw()}
    if app.user is not None:          # the user app's state (meshport.userapp)
        data.update(app.user.status())
    gateway = getattr(app, "gateway", None)
    if gateway is not None:           # Wi-Fi, broker link and outbox (meshport.gateway)
        data["gateway"] = gateway.status()
    return data


def neighbour_entries(node):
    # The core's neighbour table; its iteration API is settling while the
    # routing protocol lands, so accept the forms it has had.
    table = getattr(node, "neighbours", None)
    values = getattr(table, "values", None)
    if values is not None:
        return list(values())
    return list(getattr(table, "table", {}).values())


def name_of(app, node_id):
    # The port learns names from remote replies; direct neighbours name
    # themselves in their hellos.
    name = app.name_of(node_id)
    if name is None:
        name = getattr(app.node.neighbours.get(node_id), "name", None)
    return name


def _neighbours(app, args):
    out = []
    entries = neighbour_entries(app.node)
    entries.sort(key=lambda n: n.id)
    for n in _page(entries, args):
        cost = n.cost() if hasattr(n, "cost") else None
        out.append({"id": hex_id(n.id), "name": getattr(n, "name", None),
                    "rssi": getattr(n, "rssi", None), "cost": cost,
                    "age_s": (app.clock.now() - n.last_ms) // 1000})
    return out


def _route_entry(app, dst, nh, metric, hops):
    # rssi and cost describe the link to the next hop, so a host can walk
    # a path hop by hop with one small `routes` request per node.
    n = app.node.neighbours.get(nh)
    return {"id": hex_id(dst), "name": name_of(app, dst), "next_hop": hex_id(nh),
            "metric": metric, "hops": hops, "rssi": getattr(n, "rssi", None),
            "cost": n.cost() if n is not None else None}


def _routes(app, args):
    lister = getattr(app.node, "route_list", None)
    found = lister() if lister else []
    dst = args.get("dst")
    if dst is None:
        found.sort()
        return [_route_entry(app, *r) for r in _page(found, args)]
    want = app.resolve(dst)
    for r in found:
        if r[0] == want:
            return [_route_entry(app, *r)]
    n = app.node.neighbours.get(want)        # a neighbour is reachable without a route
    if n is not None and n.cost() < 255:
        return [_route_entry(app, want, want, n.cost(), 1)]
    return []


def _page(items, args):
    """The slice args 'offset'/'limit' ask for. A node's heap has room for
    a reply of a kilobyte or two, not for a whole 20-node table at once."""
    offset, limit = args.get("offset", 0), args.get("limit")
    if not isinstance(offset, int) or offset < 0 or not (limit is None or isinstance(limit, int) and limit > 0):
        raise CommandError("'offset' and 'limit' must be whole numbers (limit > 0)")
    return items[offset:] if limit is None else items[offset:offset + limit]


def _age_s(app, origin, now):
    heard = app.node_heard_ms(origin)
    return None if heard is None else (now - heard) // 1000


def _readings(app, args):
    now = app.clock.now()
    out = []
    for origin in _page(sorted(app.node.readings.keys()), args):
        r = app.node.readings[origin]
        out.append({"id": hex_id(origin), "name": name_of(app, origin), "seq": r.seq,
                    "age_s": _age_s(app, origin, now), "values": [list(v) for v in r.values]})
    return out


# One row per node for `nodes`: compact arrays (a dict per node would not
# fit a page in a reply) in this order.
NODE_FIELDS = ("id", "name", "age_s", "seq", "hops", "next_hop", "metric", "rssi", "cost",
               "uptime_s", "heap_free")
_HEALTH = {"uptime": 9, "heap": 10}      # reading value name -> NODE_FIELDS index


def _node_row(app, node_id, routes, now):
    row = [hex_id(node_id), name_of(app, node_id), _age_s(app, node_id, now), None, None, None, None,
           None, None, None, None]
    r = app.node.readings.get(node_id)
    if r is not None:
        row[3] = r.seq
        for name, value, _unit in r.values:
            if name in _HEALTH and isinstance(value, (int, float)):
                row[_HEALTH[name]] = int(value)
    route = routes.get(node_id)
    if route is not None:
        row[4], row[5], row[6] = route[3], hex_id(route[1]), route[2]
    n = app.node.neighbours.get(node_id)
    if n is not None and n.cost() < 255:      # a usable direct link
        row[7], row[8] = n.rssi, n.cost()
        if row[4] is None:
            row[4] = 1
    if node_id == app.node.id:
        row[2], row[4] = 0, 0
    return row


def _nodes(app, args):
    node = app.node
    ids = set(node.readings.keys())
    for n in neighbour_entries(node):
        if n.cost() < 255:
            ids.add(n.id)
    ids.add(node.id)
    page = _page(sorted(ids), args)
    wanted = set(page)
    routes = {}
    lister = getattr(node, "route_list", None)
    for r in (lister() if lister else ()):
        if r[0] in wanted:
            routes[r[0]] = r
    now = app.clock.now()
    return {"total": len(ids), "fields": NODE_FIELDS,
            "rows": [_node_row(app, node_id, routes, now) for node_id in page]}


def _ping(app, args):
    return app.start_request(args, b"ping")


def _send(app, args):
    data = args.get("data")
    if not isinstance(data, str):
        raise CommandError("send needs 'data' (a string)")
    return app.start_request(args, b"D" + data.encode())


def _config_get(app, args):
    shown = dict(app.raw_settings)
    for secret in SECRET_FIELDS:          # never print a key or a Wi-Fi/MQTT password
        if isinstance(shown.get(secret), str) and secret.endswith("key"):
            shown[secret] = "(set, %d bytes)" % (len(shown[secret]) // 2)
        elif shown.get(secret) is not None:
            shown[secret] = "(set)"
    field = args.get("field")
    return shown if field is None else {field: shown.get(field)}


def _config_set(app, args):
    field = args.get("field")
    if not isinstance(field, str):
        raise CommandError("config_set needs 'field'")
    try:
        app.raw_settings = update_settings(app.raw_settings, app.node.id, field, args.get("value"))
    except Exception as e:
        raise CommandError("config %s: %s" % (field, getattr(e, "message", e)))
    return {"field": field, "saved": True, "reboot_needed": True}


def _files_digest(app, args):
    # for `nowmesh deploy`: is the tree on the flash already the one to deploy?
    paths = args.get("paths")
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise CommandError("files_digest needs 'paths' (a list of file or folder names)")
    from .fsdigest import digest
    return digest(paths)


def _ota_put(app, args):
    # a piece of a signed update from `nowmesh ota` (meshport.ota_port, docs/ota.md)
    if app.ota is None:
        raise CommandError("no OTA key on this node (nowmesh deploy installs it)")
    from . import ota_port          # imported at boot with the part (app._ota)
    try:
        return ota_port.put(app.ota, args, app.clock.now())
    except ota_port.CommandRefused as exc:
        raise CommandError(str(exc))


def _ota_install(app, args):
    # the operator's go for the bundle this node holds (two-phase activation, docs/ota.md)
    version = args.get("version")
    if app.ota is None:
        raise CommandError("no OTA key on this node (nowmesh deploy installs it)")
    if not isinstance(version, int):
        raise CommandError("ota_install needs 'version' (the bundle's version number)")
    reason = app.ota.board.activate(version, app.clock.now())
    if reason is not None:
        raise CommandError(reason)
    return {"installing": version}


def _app_command(app, args):
    # an actuator of the user's app: mesh.on_command(name, handler)
    name, cmd_args = args.get("name"), args.get("args", [])
    if not isinstance(name, str) or not isinstance(cmd_args, list):
        raise CommandError("app needs 'name' (the app's command) and 'args' (a list)")
    if app.user is None:
        raise CommandError("no app on this node (nowmesh deploy PORT --app PATH)")
    return app.user.mesh.run_command(name, cmd_args)


def _reboot(app, args):
    app.reboot_requested = True
    return {"rebooting": True}


HANDLERS = {
    "hello": _hello,
    "status": _status,
    "neighbours": _neighbours,
    "routes": _routes,
    "readings": _readings,
    "nodes": _nodes,
    "ping": _ping,
    "send": _send,
    "config_get": _config_get,
    "config_set": _config_set,
    "files_digest": _files_digest,
    "reboot": _reboot,
    "ota_put": _ota_put,
    "ota_install": _ota_install,
    "app": _app_command,
}
# Commands that may run on a remote node through the mesh (answer fits a frame):
# read-only ones for any node of the mesh; those that change a node only with
# the operator's authorisation (mesh/admin.py, App._admin_command).
REMOTE_OK = ("hello", "status", "neighbours", "routes", "nodes", "config_get")
ADMIN = ("config_set", "reboot", "app", "ota_install")     # "app": unless the app marks the command open


def run(app, name, args):
    handler = HANDLERS.get(name)
    if handler is None:
        raise CommandError("unknown command %r" % name)
    if not isinstance(args, dict):
        raise CommandError("'args' must be an object")
    return handler(app, args)
