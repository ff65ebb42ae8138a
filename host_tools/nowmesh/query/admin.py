"""Operator authorisation of commands that change a remote node (reboot,
config-set): the laptop signs, the plugged-in node only carries the token.

The target's open `status` gives its boot counter, the last token sequence
number it accepted and its admin id; the token (mesh/admin.py) is signed with
that node's admin key, derived here from the operator key, so it works on
that node, during that boot, once. docs/protocol.md, "Operator key".

    with MeshSession(port) as mesh:
        target = resolve(mesh, "barn")
        mesh.command("reboot", authorised(mesh, target, "reboot", {}, operator_key), node=target)
"""
import json

from nowmesh.bundle import core
from nowmesh.errors import ToolError
from nowmesh.query.session import FirmwareError


def authorised(session, target, command, args, operator_key):
    """args for `command` on node `target` (an id) with the operator's token
    added; operator_key is the master key as hex (nowmesh-operator-key.json)."""
    status = session.command("status", node=target)
    return signed_args(status, target, session.names.get(target, target), command, args, operator_key)


def signed_args(status, target, where, command, args, operator_key):
    """The token step alone, from the target's `status` answer (the MQTT bridge
    asks for it without blocking); `where` names the target in errors."""
    core.load()         # the token is the firmware's own (mesh/admin.py), run here
    from mesh.admin import node_admin_key, sign
    from mesh.wire import parse_id
    boot, seq, admin_id = status.get("boot"), status.get("admin_seq"), status.get("admin_id")
    if not isinstance(boot, int) or not isinstance(seq, int):
        raise FirmwareError("%s runs a nowmesh firmware without operator authorisation: update it "
                            "(nowmesh deploy)" % where)
    if not isinstance(admin_id, str) or not admin_id:
        raise ToolError("%s has no operator key installed, so it refuses %s from the mesh: deploy it "
                        "again (nowmesh deploy installs its admin key)" % (where, command))
    key = node_admin_key(bytes.fromhex(operator_key), admin_id)
    body = json.dumps({"cmd": command, "args": args or {}}).encode()
    token = sign(key, parse_id(target), boot, seq + 1, body)
    return dict(args or {}, auth=token.hex())
