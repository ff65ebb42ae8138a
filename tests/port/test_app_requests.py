# mesh.request by a name the node has not learnt (meshport.app_requests,
# docs/app-api.md): the node asks the nodes it holds readings of for their
# names. A lookup cut short by lost answers is a timeout (OSError: asking
# again may help); a name that every asked node answered to without it is
# unknown (ValueError). Runs under micropython (make test-upy).
import asyncio
import time

import portfakes

portfakes.install()

from meshport import app_requests  # noqa: E402
from meshport.commands import CommandError, hex_id  # noqa: E402

N2, N3, N4 = b"\x02NM\x00\x00\x02", b"\x02NM\x00\x00\x03", b"\x02NM\x00\x00\x04"


class _Clock:
    def now(self):
        return time.ticks_ms()


class _Node:
    def __init__(self, origins):
        self.readings = {o: None for o in origins}


class _App:
    """What app_requests uses of meshport.app.App: `names` answers to
    hello requests (None: that answer is lost), and an echo once resolved."""

    def __init__(self, hello_names):
        self.hello_names = hello_names
        self.names = {}
        self.node = _Node(hello_names)
        self.clock = _Clock()
        self.asked = []

    def name_of(self, node_id):
        return self.names.get(node_id)

    def resolve(self, ref):
        for node_id, name in self.names.items():
            if name == ref:
                return node_id
        if ref.count(":") == 5:
            return ref
        raise CommandError("unknown node %r (use its id)" % ref)

    def start_request(self, args, payload, waiter):
        target = self.resolve(args["node"])
        self.asked.append((target if isinstance(target, str) else hex_id(target), payload))
        if payload == app_requests.HELLO_REQUEST:
            name = self.hello_names[[o for o in self.hello_names if hex_id(o) == target][0]]
            if name is not None:
                asyncio.create_task(self._answer(waiter, {"ok": True, "data": {"name": name}}))
        else:
            asyncio.create_task(self._answer(waiter, {"ok": True, "data": {"echo": True}}))

    async def _answer(self, waiter, answer):
        await asyncio.sleep_ms(5)
        waiter.done(answer)


def _request(app, ref, timeout_s=0.3):
    async def run():
        try:
            return await app_requests.request(app, ref, "echo", {}, timeout_s)
        except (OSError, ValueError) as e:
            return e
    return asyncio.run(run())


def test_a_name_learnt_from_the_answers_is_asked():
    app = _App({N2: "n2", N3: "n3", N4: "n4"})
    assert _request(app, "n4") == {"echo": True}
    assert app.names[N4] == "n4"
    target, payload = app.asked[-1]
    assert target == hex_id(N4) and payload.startswith(b"U")     # the request itself, by id


def test_a_name_nobody_answers_to_is_unknown():
    app = _App({N2: "n2", N3: "n3", N4: "n4"})
    error = _request(app, "n9")
    assert isinstance(error, ValueError) and "unknown node 'n9'" in str(error)
    assert len(app.asked) == 3             # everyone answered: no echo was sent


def test_a_lookup_cut_short_by_a_lost_answer_is_a_timeout():
    # n4's answer is lost: whether it is "n9" is not known, so asking again may help
    app = _App({N2: "n2", N3: "n3", N4: None})
    error = _request(app, "n9")
    assert isinstance(error, OSError) and "timed out" in str(error)
