"""Building simulations from names and files, for the CLI, tests and benchmarks."""
import os

from nowmesh.bundle.tree import examples_dir
from nowmesh.sim import report
from nowmesh.sim.engine import SimParams, Simulation
from nowmesh.sim.node_config import load_node_config
from nowmesh.radio.scenario import load_scenario_file, parse_scenario
from nowmesh.radio.topology import load_topology_file, make_topology


def simulate(protocol="nowmesh", topology="random", nodes=25, seed=1, scenario=None,
             spacing_m=None, progress=None, **params):
    """Run one simulation and return its metrics dict (the `--json` object)."""
    topo = make_topology(topology, nodes, seed, spacing_m) if isinstance(topology, str) else topology
    if isinstance(scenario, str):
        scenario = load_scenario_file(scenario, topo, seed)
    sim = Simulation(topo, SimParams(protocol=protocol, seed=seed, **params), scenario)
    return sim.run(progress=progress)


def build_simulation(args):
    topo = make_topology(args.topology, args.nodes, args.seed, args.spacing)
    scenario = load_scenario_file(args.scenario, topo, args.seed) if args.scenario else None
    options = load_node_config(args.node_config) if args.node_config else None
    params = SimParams(protocol=args.protocol, seed=args.seed, duration_s=args.duration,
                       reading_interval_s=args.reading_interval, deadline_s=args.deadline,
                       loss=args.loss, requests=args.requests, environment=args.environment,
                       shadowing_db=args.shadowing, protocol_options=options,
                       phy_rate=args.rate)
    return Simulation(topo, params, scenario)


DEMO_EVENTS = [
    {"t": 45, "action": "kill", "nodes": ["barn", "greenhouse"]},
    {"t": 75, "action": "revive", "nodes": ["barn", "greenhouse"]},
]


def demo(json_output=False):
    """A 12-node farm: what every node ends up knowing, a power cut, and a comparison."""
    topo = load_topology_file(os.path.join(examples_dir(), "farm.json"))
    scenario = parse_scenario({"events": DEMO_EVENTS}, topo, 7, "demo")
    common = dict(seed=7, duration_s=100.0, reading_interval_s=10.0, requests=10)
    sim = Simulation(topo, SimParams(protocol="nowmesh", **common), scenario)
    print(report.demo_intro(sim))
    result = sim.run(progress=report.demo_progress(DEMO_EVENTS))
    print()
    print(report.readings_table(sim, sim.nodes[0]))
    print()
    others = [simulate(protocol=name, topology=topo, scenario=scenario, **common)
              for name in ("flood", "managed-flood")]
    print("The same farm, radio and power cut with each protocol:")
    print(report.format_comparison([result] + others))
    return 0
