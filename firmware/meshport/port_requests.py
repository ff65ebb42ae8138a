# The port's requests and commands (split out of meshport/app.py): console
# commands run here or forwarded to another node, the mesh's requests
# answered (meshport.remote), replies matched to the console command or the
# app's mesh.request() waiting for them, and names resolved to node ids.
# A mixin of meshport.app.App: it keeps no state of its own.
import gc
import json

import machine
from mesh.wire import parse_id

_REQUEST_TIMEOUT_MS = 10000
HELLO_REQUEST = b'C{"cmd": "hello"}'     # the remote `hello` command: its answer carries the node's name
_OOM_REPLY = "out of memory on the node: try again, or ask for fewer rows ('limit')"


def hex_id(b):
    return ":".join(["%02x" % x for x in b])


def load_commands():
    # The console's command handlers (meshport.commands) and the answers to
    # requests from the mesh (meshport.remote). main() imports both at boot,
    # before the mesh state fills the heap: imported on the first command
    # instead, a node whose heap had fragmented (minutes of readings and
    # hellos) could not find 1.3 KB in one piece for their code and answered
    # no remote command again (MemoryError at import, every time).
    from . import commands
    return commands


def load_remote():
    from . import remote
    return remote


def _radio_json(data):
    """JSON that came over the radio -> its value, or None. A payload may be
    any bytes: bad UTF-8, or nesting deeper than the parser's recursion limit."""
    try:
        return json.loads(data)
    except (ValueError, RuntimeError, TypeError):   # RuntimeError: recursion depth
        return None


class Requests:
    def _on_request(self, event):
        sender, req_id, payload = event[1], event[2], event[3]
        answer = load_remote().answer(self, sender, payload[:1], payload[1:])
        body = b"R" + json.dumps(answer).encode()
        try:
            frames = self.node.reply(sender, req_id, body, self.clock.now())
        except ValueError:            # more fragments than a routed packet may have
            body = b"R" + json.dumps({"ok": False, "error": "answer too large for the mesh"}).encode()
            frames = self.node.reply(sender, req_id, body, self.clock.now())
        self.send_all(frames)
        if self.reboot_requested and self.reboot_at is None:
            # A remote `reboot`: its answer is on its way. Reset once the
            # requester's end-to-end retries are over (each is a duplicate
            # here, dropped); reset at once and a retry would find a fresh
            # duplicate table after the boot and reboot the node again.
            self.reboot_at = self.clock.now() + 3 * self.node.config.e2e_timeout_ms + 1000

    def _on_reply(self, event):
        req_id, sender, payload, hops = event[1], event[2], event[3], event[4]
        entry = self.pending.pop(req_id, None)
        if entry is None:
            return
        cmd_id, sent_ms = entry[0], entry[1]
        rtt = self.clock.now() - sent_ms
        if len(entry) > 2:            # the app's mesh.request() waits for it
            entry[2].done(_radio_json(payload[1:]))
            return
        if payload == b"pong":
            self.console.send({"re": cmd_id, "ok": True,
                               "data": {"node": hex_id(sender), "rtt_ms": rtt, "hops": hops}})
            return
        answer = _radio_json(payload[1:])
        if not isinstance(answer, dict):
            answer = {"ok": False, "error": "garbled reply"}
        answer["re"] = cmd_id
        answer["node"] = hex_id(sender)
        data = answer.get("data")
        name = data.get("name") if isinstance(data, dict) else None
        if isinstance(name, str) and name:
            self.names[sender] = name
        self.console.send(answer)

    # ---------------------------------------------------------------- commands
    def _command(self, cmd):
        commands = load_commands()
        cmd_id = self._current_id = cmd.get("id")
        try:
            if cmd.get("node") is not None:
                result = self._forward_command(cmd)
            else:
                result = commands.run(self, cmd["cmd"], cmd.get("args") or {})
            if result is not commands.PENDING:
                self.console.send({"re": cmd_id, "ok": True, "data": result})
        except commands.CommandError as e:
            self.console.send({"re": cmd_id, "ok": False, "error": str(e)})
            return
        except MemoryError:
            # Answered, not dropped: a host waiting 12 s for a reply that never
            # comes reads as a dead board. Counted like guarded_step's.
            result = None
            gc.collect()
            self.node.count("out_of_memory")
            self.console.send({"re": cmd_id, "ok": False, "error": _OOM_REPLY})
            return
        if self.reboot_requested and result is not commands.PENDING:
            machine.reset()

    def _forward_command(self, cmd):
        commands = load_commands()
        name, args = cmd["cmd"], cmd.get("args") or {}
        if name not in commands.REMOTE_OK and name not in commands.ADMIN:
            raise commands.CommandError("%s cannot run on a remote node" % name)
        auth = args.get("auth") if isinstance(args, dict) else None
        if auth is None:
            # sent as asked: an admin command without a token is refused
            # by the target, which says why
            body = b"C" + json.dumps({"cmd": name, "args": args}).encode()
        else:
            try:
                body = b"A" + bytes.fromhex(auth)
            except (ValueError, TypeError):
                raise commands.CommandError("'auth' must be the hex token nowmesh signs with the operator key")
        return self.start_request({"node": cmd["node"]}, body)

    def start_request(self, args, payload, waiter=None):
        """Send a request; its reply goes to the console command being run,
        or to `waiter` (an app's mesh.request, app_requests.Waiter)."""
        commands = load_commands()
        target = self.resolve(args.get("node"))
        try:
            req_id, frames = self.node.request(target, payload, self.clock.now())
        except ValueError as e:       # too many requests in flight, or to ourselves
            raise commands.CommandError(str(e))
        entry = [self._current_id, self.clock.now()]
        if waiter is not None:
            entry.append(waiter)
        self.pending[req_id] = entry
        self.send_all(frames)
        return commands.PENDING

    def resolve(self, ref):
        commands = load_commands()
        if not isinstance(ref, str):
            raise commands.CommandError("name the node ('node': name or aa:bb:cc:dd:ee:ff)")
        if len(ref) == 17 and ref.count(":") == 5:
            try:
                return parse_id(ref)
            except ValueError:
                pass
        for node_id, name in self.names.items():
            if name == ref:
                return node_id
        for n in commands.neighbour_entries(self.node):
            if getattr(n, "name", None) == ref:
                return n.id
        raise commands.CommandError("unknown node %r (use its id)" % ref)

    def _expire_requests(self, now):
        for req_id in list(self.pending):
            entry = self.pending[req_id]
            if now - entry[1] > _REQUEST_TIMEOUT_MS:
                del self.pending[req_id]
                if len(entry) > 2:
                    entry[2].done(None)
                else:
                    self.console.send({"re": entry[0], "ok": False, "error": "timeout"})
