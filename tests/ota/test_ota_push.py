"""nowmesh.ota.push.follow against a scripted session: the operator's go
goes out only once every node holds the bundle (the local node last), it
ends when every node *runs* the bundle, and it names each node that rolled
back, refused, still holds or did not answer, and why (the live runs are
tests/ota/test_ota_live.py and tests/ota/test_ota_install_live.py)."""
import pytest

from nowmesh.ota.push import OtaFailed, follow
from nowmesh.query.session import Outcome

BUNDLE = "88c97e06e205d38c"
N1, N2, N3 = "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"


def hello(fw="0.1.0", ota=None):
    return {"fw": fw, "ota": ota}


HOLDS = hello(ota=[7, BUNDLE, 3, 3, None])
RUNS = hello(fw=BUNDLE, ota=[7, BUNDLE, 3, 3, None])


class ScriptedSession:
    local_id, local_name = N1, "n1"

    def __init__(self, states):
        self.states = states        # node id -> list of hellos (or error strings), one per poll
        self.polls = 0
        self.names = {}
        self.activated = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def command(self, name, args=None, node=None, **kw):
        if name == "nodes":
            return {"total": len(self.states), "fields": ["id", "name", "hops"],
                    "rows": [[n, "n%d" % (i + 1), i] for i, n in enumerate(sorted(self.states))]}
        assert name == "hello" and node is None
        self.polls += 1
        return self._at(self.local_id)

    def _at(self, node_id):
        script = self.states[node_id]
        return script[min(self.polls - 1, len(script) - 1)]

    def run_many(self, requests, timeout=None, retry=True):
        out = []
        for _name, _args, node in requests:
            state = self._at(node)
            out.append(Outcome(False, error=state) if isinstance(state, str) else Outcome(True, state))
        return out


def _clock():
    t = [0.0]

    def sleep(s):
        t[0] += s
    return (lambda: t[0]), sleep


def test_the_go_waits_for_every_node_to_hold_and_it_ends_when_every_node_runs():
    session = ScriptedSession({N1: [HOLDS, HOLDS, HOLDS, RUNS],
                               N2: [hello(ota=[7, BUNDLE, 1, 3, None]), HOLDS, RUNS],
                               N3: [HOLDS, HOLDS, HOLDS, HOLDS, RUNS]})
    clock, sleep = _clock()

    def activate(s, node_id):
        s.activated.append((s.polls, node_id))
    results = follow(lambda: session, 7, BUNDLE, 60, activate=activate, clock=clock, sleep=sleep)
    assert [r["ok"] for r in results] == [True, True, True] and session.polls == 5
    # nobody before poll 2 (n2 still fetching), then the others, the local node last
    assert session.activated[:3] == [(2, N2), (2, N3), (2, N1)]
    assert all(poll >= 2 for poll, _n in session.activated)
    assert [r["fw"] for r in results] == [BUNDLE] * 3


def test_with_now_no_go_is_sent():
    session = ScriptedSession({N1: [HOLDS, RUNS], N2: [RUNS], N3: [HOLDS, RUNS]})
    clock, sleep = _clock()
    results = follow(lambda: session, 7, BUNDLE, 60, activate=None, clock=clock, sleep=sleep)
    assert [r["ok"] for r in results] == [True, True, True] and session.activated == []


def test_a_rollback_ends_the_wait_and_is_named_with_its_reason():
    rolled = hello(ota=[7, BUNDLE, 3, 3, "rolled back 7: not confirmed in 3 boots"])
    session = ScriptedSession({N1: [RUNS], N2: [HOLDS, rolled], N3: [RUNS]})
    clock, sleep = _clock()
    with pytest.raises(OtaFailed) as exc:
        follow(lambda: session, 7, BUNDLE, 600, activate=lambda s, n: None, clock=clock, sleep=sleep)
    assert str(exc.value) == "n2: rolled back 7: not confirmed in 3 boots"
    assert session.polls == 2                    # it did not wait for the timeout


def test_at_the_timeout_each_missing_node_is_named_with_its_reason():
    session = ScriptedSession({N1: [RUNS],
                               N2: [hello(ota=[7, BUNDLE, 1, 3, None])],
                               N3: ["timeout"],
                               "02:00:00:00:00:04": [hello(ota=[5, "1" * 16, 3, 3, None])],
                               "02:00:00:00:00:05": [hello()],
                               "02:00:00:00:00:06": [hello(ota=[7, BUNDLE, 3, 3, "refused 7: space"])],
                               "02:00:00:00:00:07": [HOLDS]})
    clock, sleep = _clock()
    with pytest.raises(OtaFailed) as exc:
        follow(lambda: session, 7, BUNDLE, 10, clock=clock, sleep=sleep)
    text = str(exc.value)
    assert "n2: holds 1 of 3 pages" in text and "n3: no answer (timeout)" in text
    assert "n4: still on version 5" in text and "n5: takes no part in OTA" in text and "n1" not in text
    assert "n6: refused 7: space" in text and "n7: holds the bundle but runs 0.1.0" in text
    assert [r["ok"] for r in exc.value.results] == [True] + [False] * 6


def test_only_the_given_targets_are_followed_and_asked():
    # n3 never gets the bundle; with only n1 and n2 as targets that is not a failure
    session = ScriptedSession({N1: [HOLDS, RUNS], N2: [HOLDS, RUNS], N3: [hello()]})
    clock, sleep = _clock()
    activated = []
    results = follow(lambda: session, 7, BUNDLE, 60, activate=lambda s, n: activated.append(n),
                     clock=clock, sleep=sleep, nodes={N1: "n1", N2: "n2"})
    assert [(r["name"], r["ok"]) for r in results] == [("n1", True), ("n2", True)]
    assert sorted(activated) == [N1, N2]


def test_targets_by_name_or_mac_and_an_unknown_one_is_refused():
    from nowmesh.commands.ota import _targets
    from nowmesh.errors import InputError
    session = ScriptedSession({N1: [RUNS], N2: [RUNS], N3: [RUNS]})
    assert _targets(session, None) == {N1: "n1", N2: "n2", N3: "n3"}
    assert _targets(session, ["n3", N2]) == {N3: "n3", N2: "n2"}
    with pytest.raises(InputError) as exc:
        _targets(session, ["n9"])
    assert "'n9' is not a node this mesh knows (n1, n2, n3)" in str(exc.value)
