# Requests that other nodes send us through the mesh (kinds in
# docs/console-protocol.md): a message (D), a read-only command anyone in the
# mesh may run (C), or a command that changes this node, which runs only with
# the operator's authorisation (A: a token from mesh/admin.py). Everything
# here came over the radio: each field is checked before it is used.
from mesh.admin import AdminError, verify

from .port_requests import _radio_json
from .commands import ADMIN, REMOTE_OK, CommandError, hex_id, run

# mesh.admin's reasons, as the target explains them in its answer
_ADMIN_REASONS = {
    "unsigned": "not signed with the operator key",
    "no_key": "this node has no operator key installed (deploy it again)",
    "tag": "wrong signature (not this node's operator key)",
    "node": "signed for another node",
    "boot": "signed for another boot of this node (a replay, or it rebooted since)",
    "seq": "already used (a replay)",
    "malformed": "malformed token",
    "command": "not an admin command",
}


def answer(app, sender, kind, body):
    """A request from sender -> the answer object to send back."""
    if kind == b"D":
        _message(app, sender, body)
        return {"ok": True}
    if kind == b"C":
        return _command(app, sender, body)
    if kind == b"A":
        return _admin_command(app, sender, body)
    if kind == b"U":
        return _app_request(app, sender, body)
    return {"ok": False, "error": "unknown request"}


def _message(app, sender, body):
    try:
        app.console.event("message", id=hex_id(sender), data=body.decode())
    except UnicodeError:          # not UTF-8: shown as hex, never dropped silently
        app.console.event("message", id=hex_id(sender), data=None, data_hex=body.hex())


def _command(app, sender, body):
    """An unsigned command: read-only ones run for any node of the mesh."""
    cmd = _radio_json(body)
    if not isinstance(cmd, dict) or not isinstance(cmd.get("cmd"), str):
        return {"ok": False, "error": "bad command object"}
    name = cmd["cmd"]
    if name == "app" and _open_app_command(app, cmd.get("args")):
        return _run(app, name, cmd.get("args"))
    if name in ADMIN:
        return _refused(app, sender, name, "unsigned")
    if name not in REMOTE_OK:
        return {"ok": False, "error": "not allowed remotely"}
    return _run(app, name, cmd.get("args"))


def _open_app_command(app, args):
    # the app marked this command open: anyone in the mesh may run it
    return app.user is not None and isinstance(args, dict) and app.user.mesh.command_open(args.get("name"))


def _app_request(app, sender, body):
    """Another node's app asks ours (mesh.request -> mesh.on_request)."""
    req = _radio_json(body)
    if app.user is None:
        return {"ok": False, "error": "no app on this node"}
    if not isinstance(req, dict) or not isinstance(req.get("n"), str):
        return {"ok": False, "error": "bad app request"}
    try:
        return {"ok": True, "data": app.user.mesh.answer_request(sender, req["n"], req.get("d"))}
    except CommandError as e:
        return {"ok": False, "error": str(e)}


def _admin_command(app, sender, token):
    """A token the operator key signed for this node, this boot and a new
    sequence number: a recorded one never works again."""
    try:
        seq, text = verify(app.admin_key, app.node.id, app.node.boot, app.admin_seq, token)
        cmd = _radio_json(text)
        if not isinstance(cmd, dict) or cmd.get("cmd") not in ADMIN:
            raise AdminError("command")
    except AdminError as e:
        return _refused(app, sender, "admin", e.reason)
    app.admin_seq = seq
    return _run(app, cmd["cmd"], cmd.get("args"))


def _refused(app, sender, name, reason):
    app.node.count("admin_rejected")
    app.console.event("admin_rejected", id=hex_id(sender), cmd=name, reason=reason)
    return {"ok": False, "reason": reason,
            "error": "%s refused: %s (nowmesh reboot/config-set --node sign with the operator key)"
                     % (name, _ADMIN_REASONS.get(reason, reason))}


def _run(app, name, args):
    try:
        data = run(app, name, args or {})
    except (ValueError, KeyError, TypeError, AttributeError, CommandError) as e:
        return {"ok": False, "error": str(e)}
    return {"ok": True, "data": data}
