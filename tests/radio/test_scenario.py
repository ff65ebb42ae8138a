import json
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nowmesh.errors import InputError
from nowmesh.radio import topology as topo
from nowmesh.radio.scenario import Event, Scenario, kill_and_revive, load_scenario_file, parse_scenario

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


@pytest.fixture
def line10():
    return topo.line(10)


def parse(events, topology, seed=1):
    return parse_scenario({"events": events}, topology, seed, "plan.json")


def only_event(event, topology):
    return parse([event], topology).events[0]


# ---------------------------------------------------------------- each action

@pytest.mark.parametrize("event, action, params", [
    ({"t": 1, "action": "kill", "nodes": ["n3", "n7"]}, "kill", {"nodes": [2, 6]}),
    ({"t": 1, "action": "revive", "nodes": ["n2"]}, "revive", {"nodes": [1]}),
    ({"t": 1, "action": "revive", "killed": True}, "revive", {"nodes": []}),
    ({"t": 1, "action": "reboot", "nodes": ["n10", "n1"]}, "reboot", {"nodes": [9, 0]}),
    ({"t": 1, "action": "move", "node": "n4", "x": 5, "y": -2.5}, "move",
     {"node": 3, "x": 5.0, "y": -2.5}),
    ({"t": 1, "action": "partition", "groups": [["n1", "n2"], ["n9"]]}, "partition",
     {"groups": [[0, 1], [8]], "group_of": [1, 1, 0, 0, 0, 0, 0, 0, 2, 0]}),
    ({"t": 1, "action": "heal"}, "heal", {}),
    ({"t": 1, "action": "loss", "p": 0.25}, "loss", {"p": 0.25}),
    ({"t": 1, "action": "loss", "p": 0}, "loss", {"p": 0.0}),
    ({"t": 1, "action": "channel", "node": "n5", "channel": 11}, "channel", {"node": 4, "channel": 11}),
])
def test_each_action_parses_to_node_indexes(line10, event, action, params):
    parsed = only_event(event, line10)
    assert parsed == Event(1000, action, params)


def test_times_become_whole_milliseconds(line10):
    assert only_event({"t": 0.0015, "action": "heal"}, line10).t_ms == 2
    assert only_event({"t": 12.3456, "action": "heal"}, line10).t_ms == 12346


def test_events_are_sorted_stably_by_time(line10):
    scenario = parse([{"t": 30, "action": "heal"},
                      {"t": 10, "action": "loss", "p": 0.1},
                      {"t": 30, "action": "loss", "p": 0.2},
                      {"t": 0, "action": "loss", "p": 0.3}], line10)
    assert [(e.t_ms, e.action, e.params) for e in scenario] == [
        (0, "loss", {"p": 0.3}), (10000, "loss", {"p": 0.1}),
        (30000, "heal", {}), (30000, "loss", {"p": 0.2})]
    assert len(scenario) == 4


def test_empty_scenario(line10):
    assert list(parse([], line10)) == []
    assert list(Scenario()) == []


# ---------------------------------------------------------------- power state

def test_fraction_resolves_deterministically_from_the_seed(line10):
    event = {"t": 5, "action": "kill", "fraction": 0.3}
    first = parse([event], line10, seed=42).events[0].params
    assert parse([event], line10, seed=42).events[0].params == first
    assert len(first["nodes"]) == 3 and first["nodes"] == sorted(set(first["nodes"]))
    picks = {tuple(parse([event], line10, seed=seed).events[0].params["nodes"]) for seed in range(10)}
    assert len(picks) > 1


def test_fraction_picks_among_nodes_still_on(line10):
    scenario = parse([{"t": 1, "action": "kill", "fraction": 0.5},
                      {"t": 2, "action": "kill", "fraction": 1}], line10)
    first, second = (event.params["nodes"] for event in scenario)
    assert len(first) == 5 and len(second) == 5
    assert sorted(first + second) == list(range(10))


def test_fraction_kills_at_least_one_node(line10):
    assert len(only_event({"t": 0, "action": "kill", "fraction": 0.01}, line10).params["nodes"]) == 1


def test_fraction_follows_time_order_not_file_order(line10):
    in_order = parse([{"t": 1, "action": "kill", "fraction": 0.2},
                      {"t": 2, "action": "kill", "fraction": 0.2}], line10, seed=9)
    reversed_in_file = parse([{"t": 2, "action": "kill", "fraction": 0.2},
                              {"t": 1, "action": "kill", "fraction": 0.2}], line10, seed=9)
    assert in_order.events == reversed_in_file.events


def test_revive_killed_revives_exactly_the_nodes_that_are_off(line10):
    scenario = parse([{"t": 1, "action": "kill", "nodes": ["n1", "n2", "n3"]},
                      {"t": 2, "action": "revive", "nodes": ["n2"]},
                      {"t": 3, "action": "reboot", "nodes": ["n3"]},
                      {"t": 4, "action": "revive", "killed": True},
                      {"t": 5, "action": "revive", "killed": True}], line10)
    assert [event.params["nodes"] for event in scenario][3:] == [[0], []]


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2 ** 32), fraction=st.floats(0.001, 1.0), n=st.integers(1, 60))
def test_fraction_count_and_range(seed, fraction, n):
    killed = kill_and_revive(topo.line(n), fraction, 1.0, None, seed).events[0].params["nodes"]
    assert len(killed) == max(1, int(fraction * n + 0.5))
    assert len(set(killed)) == len(killed) and all(0 <= i < n for i in killed)


def test_kill_and_revive(line10):
    scenario = kill_and_revive(line10, 0.4, 10, 20.5, seed=3)
    kill, revive = scenario.events
    assert (kill.t_ms, kill.action, revive.t_ms, revive.action) == (10000, "kill", 20500, "revive")
    assert len(kill.params["nodes"]) == 4 and revive.params == kill.params
    assert kill_and_revive(line10, 0.4, 10, 20.5, seed=3).events == scenario.events


@pytest.mark.parametrize("args, field", [
    ((0, 1, 2), "fraction"), ((1.5, 1, 2), "fraction"),
    ((0.5, -1, 2), "kill_at"), ((0.5, 5, 5), "revive_at"),
])
def test_kill_and_revive_argument_errors(line10, args, field):
    with pytest.raises(InputError) as caught:
        kill_and_revive(line10, *args, seed=1)
    assert (caught.value.source, caught.value.field) == ("command line", field)


# ---------------------------------------------------------------- files

def test_example_scenarios_load_against_the_house():
    house = topo.load_topology_file(os.path.join(EXAMPLES, "house.json"))
    storm = load_scenario_file(os.path.join(EXAMPLES, "house-storm.json"), house, 1)
    assert {event.action for event in storm} == {"kill", "revive", "reboot", "move", "partition",
                                                 "heal", "loss", "channel"}
    kills = load_scenario_file(os.path.join(EXAMPLES, "kill-revive.json"), house, 1)
    assert kills.events[0].params == {"nodes": [house.index("office"), house.index("garage")]}
    assert kills.events[2].params["nodes"] == kills.events[4].params["nodes"] != []


def test_scenario_file_errors_are_input_errors(tmp_path, line10):
    missing = str(tmp_path / "none.json")
    with pytest.raises(InputError, match="file not found"):
        load_scenario_file(missing, line10, 1)
    broken = tmp_path / "broken.json"
    broken.write_text('{"events": [}')
    with pytest.raises(InputError, match="invalid JSON at line 1, column 13"):
        load_scenario_file(str(broken), line10, 1)


def test_scenario_error_source_is_the_path(tmp_path, line10):
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"events": [{"t": 1, "action": "kill", "nodes": ["x"]}]}))
    with pytest.raises(InputError) as caught:
        load_scenario_file(str(path), line10, 1)
    assert str(caught.value) == '%s: events[0].nodes[0]: unknown node "x"' % path


E = {"t": 1}


def ev(**fields):
    return dict(E, **fields)


@pytest.mark.parametrize("data, field, text", [
    ([], None, 'expected a JSON object with an "events" list'),
    ({}, "events", "missing"),
    ({"events": {}}, "events", "expected a list"),
    ({"events": [], "seed": 3}, "seed", "unknown field"),
    ({"events": [7]}, "events[0]", "expected an event object"),
    ({"events": [{"action": "heal"}]}, "events[0].t", "missing; give the time in seconds"),
    ({"events": [{"t": -1, "action": "heal"}]}, "events[0].t", "0 or more, got -1"),
    ({"events": [{"t": "5", "action": "heal"}]}, "events[0].t", 'got "5"'),
    ({"events": [ev()]}, "events[0].action", "missing; choose one of: kill"),
    ({"events": [ev(action="explode")]}, "events[0].action", 'unknown action "explode"'),
    ({"events": [ev(action="heal", nodes=["n1"])]}, "events[0].nodes", "unknown field"),
    ({"events": [ev(action="kill")]}, "events[0]", "give exactly one of: nodes, fraction"),
    ({"events": [ev(action="kill", nodes=["n1"], fraction=0.5)]}, "events[0].fraction",
     "give exactly one of"),
    ({"events": [ev(action="kill", nodes="n1")]}, "events[0].nodes", "expected a list"),
    ({"events": [ev(action="kill", nodes=[])]}, "events[0].nodes", "empty list"),
    ({"events": [ev(action="heal"), ev(action="kill", nodes=["n1", "x"])]},
     "events[1].nodes[1]", 'unknown node "x"'),
    ({"events": [ev(action="kill", nodes=[3])]}, "events[0].nodes[0]", "expected a node name"),
    ({"events": [ev(action="kill", nodes=["n1", "n2", "n1"])]}, "events[0].nodes[2]",
     'node "n1" listed twice (also events[0].nodes[0])'),
    ({"events": [ev(action="kill", fraction=0)]}, "events[0].fraction", "above 0 and at most 1"),
    ({"events": [ev(action="kill", fraction=1.5)]}, "events[0].fraction", "above 0 and at most 1"),
    ({"events": [ev(action="revive", killed=False)]}, "events[0].killed", "must be true"),
    ({"events": [ev(action="revive")]}, "events[0]", "give exactly one of: nodes, killed"),
    ({"events": [ev(action="reboot")]}, "events[0].nodes", "missing"),
    ({"events": [ev(action="move", node="n1", x=1)]}, "events[0].y", "missing"),
    ({"events": [ev(action="move", node="n11", x=1, y=1)]}, "events[0].node", 'unknown node "n11"'),
    ({"events": [ev(action="partition", groups=[])]}, "events[0].groups", "empty list"),
    ({"events": [ev(action="partition", groups=["n1"])]}, "events[0].groups[0]", "expected a list"),
    ({"events": [ev(action="partition", groups=[["n1"], ["n2", "nx"]])]},
     "events[0].groups[1][1]", 'unknown node "nx"'),
    ({"events": [ev(action="partition", groups=[["n1", "n2"], ["n3", "n2"]])]},
     "events[0].groups[1][1]", 'node "n2" is already in groups[0]'),
    ({"events": [ev(action="loss", p=1)]}, "events[0].p", "up to (not including) 1"),
    ({"events": [ev(action="loss", p=-0.1)]}, "events[0].p", "up to (not including) 1"),
    ({"events": [ev(action="loss")]}, "events[0].p", "missing"),
    ({"events": [ev(action="channel", node="n1", channel=15)]}, "events[0].channel", "from 1 to 14"),
    ({"events": [ev(action="channel", node="n1", channel=6.0)]}, "events[0].channel", "whole number"),
    ({"events": [ev(action="channel", channel=6)]}, "events[0].node", "missing"),
])
def test_scenario_errors_name_the_field(line10, data, field, text):
    with pytest.raises(InputError) as caught:
        parse_scenario(data, line10, 1, "plan.json")
    assert caught.value.source == "plan.json"
    assert caught.value.field == field
    assert text in caught.value.message


def test_move_needs_positions():
    farm = topo.load_topology_file(os.path.join(EXAMPLES, "links.json"))
    with pytest.raises(InputError) as caught:
        parse([ev(action="move", node="barn", x=0, y=0)], farm)
    assert caught.value.field == "events[0].action"
    assert "needs a topology with positions" in caught.value.message
