# The MQTT commands a gateway runs (docs/mqtt.md), on <base>/<node>/set,
# ping, reboot and command, when it was deployed with --allow-commands.
#
# The schema (mqtt_schema.parse_command) decides what a command means and
# whether it is allowed, for both bridges. What a gateway may run is
# narrower than the host bridge's, by the security model (docs/security.md):
# a node holds only its own admin key, never the operator key, so a gateway
# cannot sign `set` or `reboot` for another node. It runs them on itself
# (the operator enabled that with `deploy --allow-commands`, as the host
# bridge's --allow-commands runs them on its own board over USB) and
# refuses them for other nodes, saying where they can be run. `ping` is
# read-only: any node; the gateway asks the node's `hello` through the mesh
# and times the round trip. `command` (an app's mesh.on_command) runs on the
# gateway's own app, and on another node's only if that app marked it open.
import json

from mesh.wire import parse_id

from .commands import CommandError, run
from .gateway import HELLO
from .settings import check_field

NEEDS_OPERATOR = ("%s of another node needs the operator key, which a gateway does not hold "
                  "(each node has only its own admin key, docs/security.md): run it where the key is, "
                  "nowmesh config-set/reboot --node or nowmesh bridge --allow-commands")
REBOOT_WAIT_MS = 5000       # a reboot waits at most this long for its reply to reach the broker


class Commands:
    """Made only on a gateway deployed with --allow-commands (gateway.start):
    without it, gateway.py refuses commands itself, and this code is not loaded."""

    def __init__(self, gateway):
        self.gw = gateway
        self._reboot = None         # (reply key, ms) while a reboot's reply waits for the broker

    def on_message(self, topic, payload):
        gw, s = self.gw, self.gw.schema
        parts = topic.split("/")
        key, cmd = parts[-2], parts[-1]
        try:
            key, cmd, steps = s.parse_command(gw.base, topic, payload, True, check_field)
            mac = s.resolve_node(key, ((m, node[0]) for m, node in gw.nodes.items()))
            if mac != gw.mac and cmd not in ("ping", "command"):
                raise s.Refused(NEEDS_OPERATOR % cmd)
        except s.Refused as refused:
            self._answer(key, cmd, False, error=str(refused))
            return
        if cmd == "ping":
            self._ping(key, mac)
        elif cmd == "command":
            self._app_command(key, mac, steps[0][1])
        elif cmd == "reboot":
            self._reboot = (self._answer(key, cmd, True, {"rebooting": True}), gw.app.clock.now())
        else:
            for _console_cmd, args in steps:
                self._set(key, args)

    def _set(self, key, args):
        try:
            data = run(self.gw.app, "config_set", args)
        except CommandError as e:
            self._answer(key, "set", False, error=str(e), field=args["field"])
            return
        self._answer(key, "set", True, data, field=args["field"])

    def _app_command(self, key, mac, args):
        # ours: run here; another node's: asked unsigned, so it runs only if
        # that node's app marked the command open (the node says why not)
        if mac == self.gw.mac:
            try:
                self._answer(key, "command", True, run(self.gw.app, "app", args))
            except CommandError as e:
                self._answer(key, "command", False, error=str(e))
            return
        body = b"C" + json.dumps({"cmd": "app", "args": args}).encode()
        try:
            self.gw.app.start_request({"node": mac}, body, _Answered(self, key))
        except CommandError as e:
            self._answer(key, "command", False, error=str(e))

    def _ping(self, key, mac):
        if mac == self.gw.mac:
            self._answer(key, "ping", True, {"node": mac, "rtt_ms": 0, "hops": 0})
            return
        try:
            self.gw.app.start_request({"node": mac}, HELLO, _Pinged(self, key, mac))
        except CommandError as e:
            self._answer(key, "ping", False, error=str(e))

    def _answer(self, key, cmd, ok, data=None, error=None, field=None):
        s = self.gw.schema
        return self.gw.current.reply(s.response_message(self.gw.base, key, cmd, ok, data, error, field))

    def step(self, now):
        """Reboot once the reboot's reply has gone to the broker (or it could not)."""
        if self._reboot is None:
            return
        reply, asked = self._reboot
        if reply is None or reply not in self.gw.current.keys or now - asked >= REBOOT_WAIT_MS:
            self.gw.app.reboot_at = now


class _Answered:
    """An app command's waiter: the node's answer is the response."""

    def __init__(self, commands, key):
        self.commands, self.key = commands, key

    def done(self, answer):
        if not isinstance(answer, dict):
            self.commands._answer(self.key, "command", False, error="timeout")
        elif answer.get("ok"):
            self.commands._answer(self.key, "command", True, answer.get("data"))
        else:
            error = answer.get("error")
            self.commands._answer(self.key, "command", False, error=error if isinstance(error, str) else "refused")


class _Pinged:
    """A ping's waiter: the hello's round trip is the ping's."""

    def __init__(self, commands, key, mac):
        self.commands, self.key, self.mac = commands, key, mac
        self.sent = commands.gw.app.clock.now()

    def done(self, answer):
        c = self.commands
        if not isinstance(answer, dict) or not answer.get("ok"):
            error = answer.get("error") if isinstance(answer, dict) else None
            c._answer(self.key, "ping", False, error=error if isinstance(error, str) else "timeout")
            return
        data = answer.get("data")
        if isinstance(data, dict) and data.get("id") == self.mac:
            c.gw.learn(self.mac, data)
        hops, _rssi = c.gw.view(parse_id(self.mac))
        c._answer(self.key, "ping", True, {"node": self.mac, "rtt_ms": c.gw.app.clock.now() - self.sent,
                                           "hops": hops})

