"""The mesh protocol in the simulator: small, seeded scenarios (seconds each).

Each test runs the real core (firmware/mesh) on the simulator's radio model.
"""
from nowmesh.bundle import core

core.load()     # explicit: this runs the firmware's mesh core (`mesh`) on CPython
from nowmesh.sim.engine import SimParams, Simulation  # noqa: E402
from nowmesh.radio.scenario import Event, Scenario, kill_and_revive  # noqa: E402
from nowmesh.radio.topology import build  # noqa: E402


def _run(topology, duration_s, scenario=None, **params):
    params.setdefault("reading_interval_s", 10.0)
    sim = Simulation(topology, SimParams(protocol="nowmesh", seed=params.pop("seed", 3),
                                         duration_s=duration_s, **params), scenario)
    return sim, sim.run()


def _holds_latest(sim, a, b, settle_s=8.0):
    """Node a holds node b's latest reading published settle_s before the end."""
    if a == b:
        return True
    end = sim.q.now_us - settle_s * 1e6
    keys = [key for origin, key, t, _c in sim.metrics.publications if origin == b and t <= end]
    got = sim.nodes[a].proto.readings.get(sim.nodes[b].mac)
    return not keys or (got is not None and (got.boot, got.seq) >= keys[-1])


def test_readings_table_converges_on_a_grid():
    sim, r = _run(build("grid", 16, seed=3), 60.0, loss=0.1)
    assert r["delivery_ratio"] >= 0.98, r        # includes the start-up, before any repair
    assert r["loops"] == 0
    relays = 0
    for node in sim.nodes:
        relays += 1 if node.proto.policy.relays else 0
        assert len(node.proto.readings) == 16
    for a in range(16):
        for b in range(16):
            assert _holds_latest(sim, a, b), (a, b)
    assert 0 < relays < 16                       # some relay, not everybody


def test_unicast_over_six_hops_on_a_line():
    sim, r = _run(build("line", 7, seed=1, spacing_m=170), 80.0, requests=12)
    assert r["unicast"]["delivered"] >= 11, r["unicast"]
    assert r["loops"] == 0
    a, g = sim.nodes[0].proto, sim.nodes[6].proto
    assert a.policy.routes.get(g.id) is not None and a.policy.routes.get(g.id)[1] >= 3 * 8


def test_relay_killed_mid_stream_routes_and_relays_repair():
    # a 3 x 4 grid; kill a middle node while readings and requests flow
    topo = build("grid", 12, seed=2)
    middle = 5
    scenario = Scenario([Event(40_000, "kill", {"nodes": [middle]})])
    # failure time 35 s (the default is 3.5 x beacon_ms = 210 s): even a
    # fringe neighbour heard once must be gone by the end of the run
    sim, r = _run(topo, 100.0, scenario, requests=30, seed=2,
                  protocol_options={"neighbour_timeout_ms": 35000})
    assert r["loops"] == 0
    assert r["unicast"]["delivered"] >= 28, r["unicast"]
    assert r["delivery_ratio"] >= 0.97, r        # 200 m grid: lossy links, and a hole
    dead = sim.nodes[middle].mac
    for node in sim.nodes:
        if node.alive:
            assert node.proto.neighbours.get(dead) is None
            route = node.proto.policy.routes.get(sim.nodes[0].mac) if node.index else None
            assert route is None or route[0] != dead


def test_partition_and_heal_catch_up_by_anti_entropy():
    topo = build("grid", 12, seed=4)
    left = [0, 1, 4, 5, 8, 9]
    scenario = Scenario([Event(20_000, "partition", {"groups": [left], "group_of": None}),
                         Event(50_000, "heal", {})])
    for node_group in (scenario.events[0].params,):
        node_group["group_of"] = [1 if i in left else 0 for i in range(12)]
    sim, r = _run(topo, 58.0, scenario, seed=4, reading_interval_s=30.0)
    # 8 s after the heal, with readings only every 30 s, every node already
    # holds every other node's latest reading: anti-entropy, not new readings.
    for a in range(12):
        for b in range(12):
            assert _holds_latest(sim, a, b), (a, b)
    assert sum(n.proto.stats.get("syncs", 0) for n in sim.nodes) >= 2


def _catch_up_s(sim, b, t_us):
    """How long after t_us node b first held every other live node's latest
    reading published before t_us (None: not within the run)."""
    m = sim.metrics
    boot = sim.nodes[b].boot
    worst = 0
    for a in range(len(sim.nodes)):
        if a == b or not sim.nodes[a].alive:
            continue
        keys = [k for o, k, t, _c in m.publications if o == a and t <= t_us]
        if not keys:
            continue
        got = [t for t, k, bb in m.deliveries.get((b, a), ()) if bb == boot and k >= keys[-1]]
        if not got:
            return None
        worst = max(worst, min(got) - t_us)
    return worst / 1e6


def test_reboot_catches_up_by_sync_within_seconds():
    topo = build("grid", 16, seed=5)
    scenario = kill_and_revive(topo, 0.15, 30, 60, 5)
    sim, r = _run(topo, 75.0, scenario, seed=5)
    assert r["delivery_ratio"] >= 0.98, r
    assert r["loops"] == 0
    for b in scenario.events[1].params["nodes"]:
        took = _catch_up_s(sim, b, 60_000_000)
        assert took is not None and took <= 3.0, (b, took)
        assert sim.nodes[b].proto.stats.get("syncs", 0) >= 1
