"""Timed events that disturb a simulated mesh: kills, revivals, moves, partitions.

A scenario file lists events in seconds; loading validates every field against
the topology and resolves node names, `fraction` and `killed: true` into node
indexes, so the engine only ever sees indexes. See docs/simulator-inputs.md.
"""

import math
import random

from nowmesh.errors import InputError
from nowmesh.radio.topology import CHANNELS, COMMAND_LINE, ObjectReader, load_json_file


class Event:
    """One scheduled change; `params` holds validated values and node indexes."""

    def __init__(self, t_ms, action, params):
        self.t_ms = t_ms
        self.action = action
        self.params = params

    def __eq__(self, other):
        return (isinstance(other, Event) and (self.t_ms, self.action, self.params)
                == (other.t_ms, other.action, other.params))

    def __repr__(self):
        return "Event(%d, %r, %r)" % (self.t_ms, self.action, self.params)


class Scenario:
    """Events in time order; events at the same time keep their file order."""

    def __init__(self, events=()):
        self.events = sorted(events, key=lambda event: event.t_ms)

    def __len__(self):
        return len(self.events)

    def __iter__(self):
        return iter(self.events)


# ---------------------------------------------------------------- per-action parsers
# Each takes (reader, topology) for one event object and returns its params.
# `fraction` and `killed` stay symbolic here; _resolve_power turns them into
# indexes once events are in time order.

def _node_list(reader, key, topology):
    names = reader.list(key, "list node names")
    if not names:
        raise reader.error(key, "empty list; name at least one node")
    indexes, first_use = [], {}
    for i, name in enumerate(names):
        field = "%s[%d]" % (reader.field(key), i)
        index = topology.index(name, reader.source, field)
        if index in first_use:
            raise InputError(reader.source, field, 'node "%s" listed twice (also %s[%d])'
                             % (name, reader.field(key), first_use[index]))
        first_use[index] = i
        indexes.append(index)
    return indexes


def _one_of(reader, keys):
    present = [key for key in keys if reader.has(key)]
    if len(present) != 1:
        field = reader.field(present[1]) if present else reader.path
        raise InputError(reader.source, field, "give exactly one of: %s" % ", ".join(keys))
    return present[0]


def _parse_kill(reader, topology):
    if _one_of(reader, ("nodes", "fraction")) == "nodes":
        return {"nodes": _node_list(reader, "nodes", topology)}
    return {"fraction": reader.number("fraction", lambda f: 0 < f <= 1, "above 0 and at most 1")}


def _parse_revive(reader, topology):
    if _one_of(reader, ("nodes", "killed")) == "nodes":
        return {"nodes": _node_list(reader, "nodes", topology)}
    if reader.get("killed") is not True:
        raise reader.error("killed", 'must be true (revive every node that is off), '
                           'or use "nodes" instead')
    return {"killed": True}


def _parse_reboot(reader, topology):
    return {"nodes": _node_list(reader, "nodes", topology)}


def _parse_move(reader, topology):
    if topology.positions is None:
        raise reader.error("action", "move needs a topology with positions; "
                           "this one is an explicit link table")
    node = topology.index(reader.string("node", "name the node to move"),
                          reader.source, reader.field("node"))
    hint = "give the new position in metres"
    return {"node": node, "x": float(reader.number("x", hint=hint)),
            "y": float(reader.number("y", hint=hint))}


def _parse_partition(reader, topology):
    groups = reader.list("groups", "give a list of groups, each a list of node names")
    if not groups:
        raise reader.error("groups", "empty list; give at least one group of node names")
    # Group 0 holds every node not listed, so one listed group cuts it off
    # from the rest.
    group_of = [0] * len(topology)
    resolved, first_group = [], {}
    for g, names in enumerate(groups):
        key = "groups[%d]" % g       # a one-field reader names members groups[g][i]
        members = _node_list(ObjectReader({key: names}, reader.source, reader.path), key, topology)
        for i, index in enumerate(members):
            if index in first_group:
                raise reader.error("%s[%d]" % (key, i), 'node "%s" is already in groups[%d]'
                                   % (topology.names[index], first_group[index]))
            first_group[index] = g
            group_of[index] = g + 1
        resolved.append(members)
    return {"groups": resolved, "group_of": group_of}


def _parse_heal(reader, topology):
    return {}


def _parse_loss(reader, topology):
    return {"p": float(reader.number("p", lambda p: 0 <= p < 1, "from 0 up to (not including) 1",
                                     "give the extra loss probability per frame"))}


def _parse_channel(reader, topology):
    node = topology.index(reader.string("node", "name the node that changes channel"),
                          reader.source, reader.field("node"))
    channel = reader.number("channel", lambda c: c in CHANNELS, "from 1 to 14",
                            "give the new Wi-Fi channel", whole=True)
    return {"node": node, "channel": channel}


# action name -> (fields it accepts besides t and action, parser)
ACTIONS = {
    "kill": (("nodes", "fraction"), _parse_kill),
    "revive": (("nodes", "killed"), _parse_revive),
    "reboot": (("nodes",), _parse_reboot),
    "move": (("node", "x", "y"), _parse_move),
    "partition": (("groups",), _parse_partition),
    "heal": ((), _parse_heal),
    "loss": (("p",), _parse_loss),
    "channel": (("node", "channel"), _parse_channel),
}


# ---------------------------------------------------------------- loading

def load_scenario_file(path, topology, seed):
    """A Scenario from a JSON file, resolved against `topology`."""
    return parse_scenario(load_json_file(path), topology, seed, str(path))


def parse_scenario(data, topology, seed, source="scenario"):
    top = ObjectReader(data, source, "", 'a JSON object with an "events" list')
    top.only(("events",))
    events = top.list("events", "give a list of events")
    parsed = [_parse_event(event, "events[%d]" % i, topology, source) for i, event in enumerate(events)]
    scenario = Scenario(parsed)
    _resolve_power(scenario.events, len(topology), seed)
    return scenario


def _parse_event(event, path, topology, source):
    reader = ObjectReader(event, source, path, 'an event object such as {"t": 10, "action": "heal"}')
    t = reader.number("t", lambda t: t >= 0, "of seconds, 0 or more", "give the time in seconds")
    action = reader.string("action", "choose one of: " + ", ".join(ACTIONS))
    if action not in ACTIONS:
        raise reader.error("action", 'unknown action "%s"; expected one of: %s'
                           % (action, ", ".join(ACTIONS)))
    fields, parse = ACTIONS[action]
    reader.only(("t", "action") + fields)
    return Event(_milliseconds(t), action, parse(reader, topology))


def _milliseconds(seconds):
    return int(math.floor(seconds * 1000.0 + 0.5))


# ---------------------------------------------------------------- power state
# Which nodes are off depends on earlier events, so `fraction` and `killed`
# resolve in time order. One Random(seed) serves the whole scenario, which
# keeps every pick reproducible.

def _resolve_kill(params, off, n, rng):
    if "fraction" in params:
        on = [i for i in range(n) if i not in off]
        count = int(math.floor(params["fraction"] * len(on) + 0.5))
        count = max(count, 1) if on else 0
        params = {"nodes": sorted(rng.sample(on, count))}
    off.update(params["nodes"])
    return params


def _resolve_revive(params, off, n, rng):
    if params.get("killed"):
        params = {"nodes": sorted(off)}
    off.difference_update(params["nodes"])
    return params


def _resolve_reboot(params, off, n, rng):
    off.difference_update(params["nodes"])     # a reboot powers a node on
    return params


_POWER_RESOLVERS = {"kill": _resolve_kill, "revive": _resolve_revive, "reboot": _resolve_reboot}


def _resolve_power(events, n, seed):
    rng = random.Random(seed)
    off = set()
    for event in events:
        resolve = _POWER_RESOLVERS.get(event.action)
        if resolve:
            event.params = resolve(event.params, off, n, rng)


def kill_and_revive(topology, fraction, kill_at_s, revive_at_s, seed):
    """Kill `fraction` of the nodes at kill_at_s; revive them at revive_at_s.

    revive_at_s may be None to leave them off.
    """
    _check_argument(fraction, "fraction", lambda f: 0 < f <= 1, "above 0 and at most 1")
    _check_argument(kill_at_s, "kill_at", lambda t: t >= 0, "of seconds, 0 or more")
    events = [Event(_milliseconds(kill_at_s), "kill", {"fraction": fraction})]
    if revive_at_s is not None:
        _check_argument(revive_at_s, "revive_at", lambda t: t > kill_at_s,
                        "of seconds, after kill_at (%g)" % kill_at_s)
        events.append(Event(_milliseconds(revive_at_s), "revive", {"killed": True}))
    scenario = Scenario(events)
    _resolve_power(scenario.events, len(topology), seed)
    return scenario


def _check_argument(value, name, accept, rule):
    ObjectReader({name: value}, COMMAND_LINE, "").number(name, accept, rule)
