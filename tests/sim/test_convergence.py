"""convergence_s: what the event's world requires, and when it was held.

Hand-built delivery logs (the metric is a pure function of them), plus one
simulation where a revived node must catch up and be heard by everyone.
"""
import types

from nowmesh.sim.convergence import convergence_after
from nowmesh.sim.engine import SimParams, Simulation
from nowmesh.sim.protocols import spec
from nowmesh.sim.runner import make_topology, simulate
from nowmesh.radio.scenario import parse_scenario

S = 1_000_000


def _log(publications, deliveries, spans, events, duration_s=200.0):
    labels = {n: 0 for n in spans}
    return types.SimpleNamespace(
        params=types.SimpleNamespace(duration_s=duration_s),
        publications=[(o, k, t, None) for o, k, t in publications],
        deliveries=deliveries, alive_spans=spans, event_times_us=events,
        components_at_event={t: dict(labels) for t in events})


def test_a_revived_node_counts_until_it_holds_what_existed_at_its_boot():
    # node 1 revived at 100 s; node 0 published (1, 9) at 95 s.
    spans = {0: [[0, None]], 1: [[0, 50 * S], [100 * S, None]]}
    pubs = [(0, (1, 9), 95 * S), (1, (2, 1), 100 * S + 200_000)]
    deliveries = {(1, 0): [(104 * S, (1, 9), 2)],          # caught up 4 s after boot
                  (0, 1): [(100 * S + 700_000, (2, 1), 1)]}
    log = _log(pubs, deliveries, spans, [100 * S])
    assert convergence_after(log, 100 * S, 2.0) == 4.0
    # what it held in its previous life does not count
    deliveries[(1, 0)] = [(40 * S, (1, 9), 1)]
    assert convergence_after(_log(pubs, deliveries, spans, [100 * S]), 100 * S, 2.0) == 60.0


def test_everyone_must_hear_the_revived_nodes_new_boot():
    spans = {0: [[0, None]], 1: [[0, 50 * S], [100 * S, None]]}
    pubs = [(1, (2, 1), 100 * S + 300_000), (1, (2, 2), 110 * S)]
    deliveries = {(0, 1): [(60 * S, (1, 40), 1),            # old boot: not enough
                           (111 * S, (2, 2), 1)]}           # first news of boot 2
    log = _log(pubs, deliveries, spans, [100 * S])
    assert convergence_after(log, 100 * S, 2.0) == 11.0


def test_readings_published_just_before_the_event_or_after_it_are_not_the_events():
    spans = {0: [[0, None]], 1: [[0, None]]}
    pubs = [(0, (1, 5), 97 * S), (0, (1, 6), 99 * S), (0, (1, 7), 101 * S)]
    deliveries = {(1, 0): [(97 * S + 500_000, (1, 5), 1)]}  # (1, 6), (1, 7) never arrive
    log = _log(pubs, deliveries, spans, [100 * S])
    assert convergence_after(log, 100 * S, 2.0) == 0.0
    deliveries[(1, 0)] = [(103 * S, (1, 5), 1)]             # the one due arrives late
    assert convergence_after(_log(pubs, deliveries, spans, [100 * S]), 100 * S, 2.0) == 3.0


def test_nowmesh_revived_node_converges_in_seconds_on_a_grid():
    topo = make_topology("grid", 16, 4)
    scenario = parse_scenario({"events": [{"t": 30, "action": "kill", "nodes": ["n6", "n11"]},
                                          {"t": 60, "action": "revive", "nodes": ["n6", "n11"]}]},
                              topo, 4, "test")
    sim = Simulation(topo, SimParams(protocol="nowmesh", seed=4, duration_s=90.0,
                                     reading_interval_s=10.0), scenario)
    result = sim.run()
    revive = convergence_after(sim.metrics, 60 * S, 2.0)
    assert 0.0 < revive <= 3.0          # not free: catch-up and news take time
    assert result["convergence_s"] <= 3.0


def test_shared_decoding_changes_no_result(monkeypatch):
    kwargs = dict(protocol="nowmesh", topology="random", nodes=20, seed=6, duration_s=40.0,
                  reading_interval_s=5.0, requests=5)
    shared = simulate(**kwargs)
    monkeypatch.setattr(spec, "SharedDecoder", None)
    monkeypatch.setattr(spec.NowmeshSpec, "make_keys", lambda self, key: spec.CachingKeys(key))
    plain = simulate(**kwargs)
    shared.pop("wall_s")
    plain.pop("wall_s")
    assert shared == plain
