"""Whole simulations: determinism, baselines, channels, buffers, scenarios."""
import json

import pytest

from nowmesh.sim.engine import SimParams, Simulation
from nowmesh.sim.runner import make_topology, simulate
from nowmesh.radio.scenario import parse_scenario
from nowmesh.radio.topology import parse_topology

REQUIRED_KEYS = {
    "protocol", "nodes", "seed", "duration_s", "readings_published", "delivery_ratio",
    "latency_ms", "frames_sent", "airtime_ms", "airtime_per_reading_ms", "control_frames",
    "unicast", "loops", "rejected_frames", "convergence_s", "wall_s",
}


def _without_wall(result):
    result = dict(result)
    result.pop("wall_s")
    return result


@pytest.mark.parametrize("protocol", ["flood", "managed-flood", "nowmesh"])
def test_same_seed_same_result(protocol):
    kwargs = dict(protocol=protocol, topology="grid", nodes=16, seed=3, duration_s=40.0,
                  reading_interval_s=10.0, requests=5)
    first, second = simulate(**kwargs), simulate(**kwargs)
    assert REQUIRED_KEYS <= set(first)
    assert set(first["latency_ms"]) == {"p50", "p95", "max"}
    assert set(first["unicast"]) >= {"sent", "delivered", "rtt_ms_p50"}
    assert json.dumps(_without_wall(first), sort_keys=True) == json.dumps(_without_wall(second), sort_keys=True)


def test_other_seed_other_result():
    a = simulate(protocol="flood", topology="random", nodes=20, seed=1, duration_s=30.0)
    b = simulate(protocol="flood", topology="random", nodes=20, seed=2, duration_s=30.0)
    assert _without_wall(a) != _without_wall(b)


@pytest.mark.parametrize("protocol", ["flood", "managed-flood"])
def test_baselines_deliver_on_a_25_node_grid(protocol):
    result = simulate(protocol=protocol, topology="grid", nodes=25, seed=3, duration_s=80.0,
                      reading_interval_s=10.0, requests=10)
    assert result["delivery_ratio"] >= 0.95
    assert result["readings_published"] >= 25 * 7
    assert result["loops"] == 0
    assert result["unicast"]["delivered"] >= 6


def test_managed_flood_spends_less_airtime_than_flood():
    kwargs = dict(topology="random", nodes=40, seed=5, duration_s=60.0, reading_interval_s=10.0)
    flood = simulate(protocol="flood", **kwargs)
    managed = simulate(protocol="managed-flood", **kwargs)
    assert managed["airtime_per_reading_ms"] < flood["airtime_per_reading_ms"]


def _two_channel_topology():
    nodes = [{"name": "a%d" % i, "x": 100.0 * i, "y": 0.0, "channel": 1} for i in range(3)]
    nodes += [{"name": "b%d" % i, "x": 100.0 * i, "y": 50.0, "channel": 6} for i in range(3)]
    return parse_topology({"nodes": nodes}, "test")


def test_channels_isolate_nodes():
    topo = _two_channel_topology()
    sim = Simulation(topo, SimParams(protocol="flood", seed=1, duration_s=30.0, reading_interval_s=5.0))
    result = sim.run()
    delivered_pairs = set(sim.metrics.deliveries)
    same_channel = {(r, o) for r in range(6) for o in range(6) if r != o and (r < 3) == (o < 3)}
    assert delivered_pairs == same_channel
    assert result["delivery_ratio"] == 1.0


def test_receive_buffer_overflow_drops_and_counts():
    topo = make_topology("grid", 16, 1)
    small = simulate(protocol="flood", topology=topo, seed=1, duration_s=20.0,
                     reading_interval_s=2.0, rxbuf=90, proc_ms=5.0)
    normal = simulate(protocol="flood", topology=topo, seed=1, duration_s=20.0,
                      reading_interval_s=2.0)
    assert small["radio"]["rxbuf_overflow"] > 0
    assert normal["radio"]["rxbuf_overflow"] < small["radio"]["rxbuf_overflow"]


def test_extra_loss_lowers_delivery_for_flood():
    kwargs = dict(protocol="flood", topology="line", nodes=8, seed=2, duration_s=60.0,
                  reading_interval_s=5.0)
    clean = simulate(**kwargs)
    lossy = simulate(loss=0.3, **kwargs)
    assert lossy["radio"]["extra_loss"] > 0
    assert lossy["delivery_ratio"] < clean["delivery_ratio"]


def test_killed_nodes_stop_receiving_and_convergence_is_reported():
    topo = make_topology("grid", 9, 1)
    scenario = parse_scenario({"events": [{"t": 20, "action": "kill", "nodes": ["n9"]},
                                          {"t": 40, "action": "revive", "nodes": ["n9"]}]},
                              topo, 1, "test")
    sim = Simulation(topo, SimParams(protocol="flood", seed=1, duration_s=60.0,
                                     reading_interval_s=5.0), scenario)
    result = sim.run()
    got_while_dead = [t for t, _key, _boot in sim.metrics.deliveries.get((8, 0), ())
                      if 20e6 <= t < 40e6]
    assert got_while_dead == []
    assert result["convergence_s"] is not None and result["convergence_s"] >= 0
    assert sim.nodes[8].boot == 2


def test_partition_blocks_and_heal_restores():
    topo = make_topology("line", 4, 1)
    scenario = parse_scenario({"events": [
        {"t": 10, "action": "partition", "groups": [["n1", "n2"], ["n3", "n4"]]},
        {"t": 30, "action": "heal"}]}, topo, 1, "test")
    sim = Simulation(topo, SimParams(protocol="flood", seed=1, duration_s=50.0,
                                     reading_interval_s=3.0), scenario)
    sim.run()
    across = [t for t, _k, _b in sim.metrics.deliveries.get((3, 0), ())]
    assert not [t for t in across if 11e6 <= t < 30e6]
    assert [t for t in across if t >= 30e6]


def test_baseline_frames_use_a_type_the_core_does_not_know():
    from mesh import wire
    from nowmesh.sim.protocols.baselines import T_BASELINE
    assert T_BASELINE == 0x70 and T_BASELINE not in (wire.T_BEACON, wire.T_READINGS, wire.T_DATA)
    assert not wire.T_ROUTING_FIRST <= T_BASELINE <= wire.T_ROUTING_LAST
