"""Building simulations from names and files, for the CLI, tests and benchmarks."""
import os

from nowmesh.sim import report
from nowmesh.sim.engine import SimParams, Simulation
from nowmesh.sim.scenario import load_scenario_file
from nowmesh.sim.topology import build, load_topology_file

GENERATED = ("line", "grid", "random")


def make_topology(spec, nodes, seed, spacing_m=None):
    """`spec` is 'line', 'grid', 'random' or the path of a topology JSON file."""
    if spec in GENERATED:
        return build(spec, nodes, seed, spacing_m)
    return load_topology_file(spec)


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
    params = SimParams(protocol=args.protocol, seed=args.seed, duration_s=args.duration,
                       reading_interval_s=args.reading_interval, deadline_s=args.deadline,
                       loss=args.loss, requests=args.requests, environment=args.environment,
                       shadowing_db=args.shadowing)
    return Simulation(topo, params, scenario)


def demo(json_output=False):
    """A 12-node house-and-garden mesh for newcomers: what every node ends up knowing."""
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(os.path.dirname(here)))
    house = os.path.join(repo, "examples", "house.json")
    topo = load_topology_file(house) if os.path.exists(house) else make_topology("random", 12, 7)
    params = SimParams(protocol="nowmesh", seed=7, duration_s=90.0, reading_interval_s=15.0,
                       requests=10)
    sim = Simulation(topo, params)
    print(report.demo_intro(sim))
    result = sim.run(progress=report.progress_line)
    print()
    print(report.readings_table(sim, sim.nodes[0]))
    print()
    print(report.format_result(result))
    return 0
