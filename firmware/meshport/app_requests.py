# `await mesh.request(node, name, data)` (docs/app-api.md): a part of the app
# API only some apps use. meshport.userapp imports it at boot when the app's
# code names `request` (appapi.PARTS), else appapi imports it on first use.
import asyncio
import json

from .appapi import jsonable
from .commands import CommandError, hex_id
from .port_requests import HELLO_REQUEST

_SLOT_WAIT_MS = 200


class Waiter:
    """One request in flight: the port's reply path (port_requests) fills it."""

    def __init__(self):
        self.event = asyncio.Event()
        self.answer = None

    def done(self, answer):
        self.answer = answer
        self.event.set()


async def ask(app, node, payload, timeout_ms):
    """Send `payload` to `node` (app.resolve's name or id) -> its reply's JSON, or None on timeout."""
    waiter = Waiter()
    try:
        app.start_request({"node": node}, payload, waiter)
    except CommandError as e:
        raise ValueError(str(e))
    try:
        await asyncio.wait_for_ms(waiter.event.wait(), timeout_ms)
    except asyncio.TimeoutError:
        return None
    return waiter.answer


class _Named:
    """One `hello` asked of a node whose name this one does not know: its
    answer teaches app.names and wakes learn_name; no answer (lost, timed
    out) puts the node back on the list to ask."""

    def __init__(self, app, origin, todo, pending, woke):
        self.app, self.origin, self.todo, self.pending, self.woke = app, origin, todo, pending, woke

    def done(self, answer):
        data = answer.get("data") if isinstance(answer, dict) and answer.get("ok") else None
        name = data.get("name") if isinstance(data, dict) else None
        if isinstance(name, str) and name:
            self.app.names[self.origin] = name
        elif self.origin not in self.todo:
            self.todo.append(self.origin)
        if self.origin in self.pending:
            self.pending.remove(self.origin)
        self.woke.set()


async def learn_name(app, ref, deadline_ms):
    """Ask every node this one holds a reading of, and knows no name of, for
    its `hello` (as the host tools resolve a name: nowmesh.query.nodes); the
    answers teach app.names. Returns once one is named `ref` or when there
    is nobody left to ask (True), or at deadline_ms (app.clock) with answers
    still missing (False: a timeout, not proof the name is unknown). A hello that
    got no answer is asked again, and when every request slot is in flight
    (the app's own requests hold them too) the rest wait for a free one."""
    todo = [o for o in list(app.node.readings.keys()) if app.name_of(o) is None]
    pending, woke = [], asyncio.Event()
    while (todo or pending) and ref not in app.names.values():
        while todo:
            try:
                app.start_request({"node": hex_id(todo[0])}, HELLO_REQUEST,
                                  _Named(app, todo[0], todo, pending, woke))
            except CommandError:      # no free slot: look again when one frees
                break
            pending.append(todo.pop(0))
        left = deadline_ms - app.clock.now()
        if left <= 0:
            return ref in app.names.values()
        # answers come only while this task waits: no wake-up is lost between
        # the test and the wait; a slot freed by another request wakes nobody,
        # so with nodes still to ask, look again after _SLOT_WAIT_MS
        woke.clear()
        try:
            await asyncio.wait_for_ms(woke.wait(), min(left, _SLOT_WAIT_MS) if todo else left)
        except asyncio.TimeoutError:
            pass
    return True


async def request(app, node, name, data, timeout_s):
    if not isinstance(name, str) or not jsonable(data, 8):
        raise TypeError("request(node, name: str, data: JSON)")
    deadline = app.clock.now() + int(timeout_s * 1000)
    try:
        app.resolve(node)
    except CommandError:              # a name no hello or reply taught us yet: ask around
        # a lookup cut short by lost answers is a timeout (OSError: asking
        # again may help), not an unknown name (ValueError, from ask below)
        if isinstance(node, str) and not await learn_name(app, node, deadline):
            raise OSError("no answer from %s (asking the mesh for its name timed out)" % node)
    body = b"U" + json.dumps({"n": name, "d": data}).encode()
    answer = await ask(app, node, body, max(0, deadline - app.clock.now()))
    if answer is None:
        raise OSError("no answer from %s" % node)
    if not isinstance(answer, dict) or not answer.get("ok"):
        raise ValueError(answer.get("error", "no answer") if isinstance(answer, dict) else "no answer")
    return answer.get("data")
