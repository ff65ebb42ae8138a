"""Who exists in a simulated mesh, and who can hear whom.

A Topology is either geometric (node positions in metres; the radio model turns
distance into received power) or an explicit table of received powers per
ordered link (the radio model's path loss is bypassed). Layouts come from a
generator (line, grid, random) or from a JSON file; see docs/simulator-inputs.md.
"""

import json
import math
import random
from collections import deque
from difflib import get_close_matches

from nowmesh.errors import InputError

MAX_NODES = 10000
CHANNELS = range(1, 15)            # 2.4 GHz Wi-Fi channels 1..14
MIN_RSSI, MAX_RSSI = -127, 0       # what ESP-NOW can report, dBm
MAX_NAME_LENGTH = 16
NAME_RULE = "1-16 printable ASCII characters without spaces"
COMMAND_LINE = "command line"      # InputError source for programmatic arguments


class Topology:
    """Node names, and either positions or an explicit ordered-link table."""

    def __init__(self, names, positions=None, channels=None, links=None, kind="file"):
        self.names = list(names)
        self.positions = positions      # [(x, y)] in metres, or None
        self.channels = list(channels) if channels is not None else [1] * len(self.names)
        self.links = links              # {(tx, rx): rx_dbm}, or None
        self.kind = kind
        self._index_by_name = {name: i for i, name in enumerate(self.names)}

    def __len__(self):
        return len(self.names)

    def __repr__(self):
        form = "positions" if self.positions is not None else "links"
        return "<Topology %s: %d nodes, %s>" % (self.kind, len(self), form)

    def index(self, name, source=COMMAND_LINE, field="node"):
        """Index of the node called `name`; InputError (not KeyError) if none."""
        if not isinstance(name, str):
            raise InputError(source, field, "expected a node name (a string), got %s" % describe(name))
        index = self._index_by_name.get(name)
        if index is None:
            raise InputError(source, field, unknown_node_message(name, self.names))
        return index


def unknown_node_message(name, names):
    close = get_close_matches(name, names, n=1)
    hint = ' (did you mean "%s"?)' % close[0] if close else ""
    return 'unknown node "%s"%s' % (name, hint)


def default_names(n):
    return ["n%d" % (i + 1) for i in range(n)]


def is_valid_name(name):
    return (isinstance(name, str) and 1 <= len(name) <= MAX_NAME_LENGTH
            and all(33 <= ord(char) <= 126 for char in name))


# ---------------------------------------------------------------- generators

def line(n, spacing_m=230.0):
    """n1..nN along the x axis, spacing_m apart (230 m: about -92 dBm per hop)."""
    _check_node_count(n)
    _check_positive(spacing_m, "spacing")
    return Topology(default_names(n), [(i * spacing_m, 0.0) for i in range(n)], kind="line")


def grid(n, spacing_m=200.0):
    """Row-major grid with ceil(sqrt(n)) columns; the last row may be short."""
    _check_node_count(n)
    _check_positive(spacing_m, "spacing")
    columns = math.isqrt(n - 1) + 1
    positions = [((i % columns) * spacing_m, (i // columns) * spacing_m) for i in range(n)]
    return Topology(default_names(n), positions, kind="grid")


def random_geometric(n, seed, mean_degree=8.0, link_range_m=300.0, max_tries=200):
    """Connected random geometric graph: n points uniform in a square.

    The square's side makes the expected neighbour count within link_range_m
    equal mean_degree, counting the nodes near the edges that have fewer
    neighbours. Layouts are redrawn from the same Random until connected.
    """
    _check_node_count(n)
    _check_positive(mean_degree, "mean_degree")
    _check_positive(link_range_m, "link_range")
    side = square_side_for_mean_degree(n, mean_degree, link_range_m)
    rng = random.Random(seed)
    for _ in range(max_tries):
        positions = [(rng.uniform(0.0, side), rng.uniform(0.0, side)) for _ in range(n)]
        if _graph_is_connected(unit_disk_adjacency(positions, link_range_m)):
            return Topology(default_names(n), positions, kind="random")
    raise InputError(COMMAND_LINE, "topology",
                     "no connected random layout of %d nodes with mean degree %g in %d tries; "
                     "raise the mean degree" % (n, mean_degree, max_tries))


def square_side_for_mean_degree(n, mean_degree, link_range_m):
    """Side L such that (n - 1) * P(two uniform points within range) = mean_degree."""
    wanted = mean_degree / max(n - 1, 1)
    if wanted >= _pair_within_probability(1.0):
        return link_range_m / math.sqrt(2.0)       # everyone hears everyone
    low, high = 0.0, 1.0                           # ratio range / side
    for _ in range(60):
        middle = (low + high) / 2.0
        if _pair_within_probability(middle) < wanted:
            low = middle
        else:
            high = middle
    return link_range_m / high


def _pair_within_probability(ratio):
    # Two uniform points in a unit square lie within distance `ratio` (<= 1)
    # with this probability; the cubic and quartic terms are the edge effect.
    return math.pi * ratio ** 2 - 8.0 / 3.0 * ratio ** 3 + 0.5 * ratio ** 4


def build(kind, n, seed, spacing_m=None):
    """A generated topology by name: 'line', 'grid' or 'random'."""
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise InputError(COMMAND_LINE, "topology", 'unknown topology "%s"; expected one of: %s'
                         % (kind, ", ".join(sorted(_BUILDERS))))
    return builder(n, seed, spacing_m)


def _build_spaced(generator):
    def build_one(n, seed, spacing_m):
        return generator(n) if spacing_m is None else generator(n, spacing_m)
    return build_one


def _build_random(n, seed, spacing_m):
    if spacing_m is not None:
        raise InputError(COMMAND_LINE, "spacing", "spacing applies to line and grid "
                         "topologies; a random topology places nodes itself")
    return random_geometric(n, seed)


_BUILDERS = {"line": _build_spaced(line), "grid": _build_spaced(grid), "random": _build_random}


def _check_node_count(n):
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_NODES:
        raise InputError(COMMAND_LINE, "nodes", "node count must be a whole number "
                         "from 1 to %d, got %r" % (MAX_NODES, n))


def _check_positive(value, field):
    if not _is_number(value) or not value > 0:
        raise InputError(COMMAND_LINE, field, "must be a number above 0, got %r" % (value,))


# ---------------------------------------------------------------- graph views

_FORWARD_CELLS = ((1, -1), (1, 0), (1, 1), (0, 1))   # each neighbouring cell pair once


def unit_disk_adjacency(positions, radius):
    """Neighbour lists of nodes within `radius`, found through a grid hash."""
    cells = {}
    for i, (x, y) in enumerate(positions):
        cells.setdefault((int(x // radius), int(y // radius)), []).append(i)
    adjacency = [[] for _ in positions]
    radius_squared = radius * radius

    def link_close_pairs(group_a, group_b, same_cell):
        for a_position, i in enumerate(group_a):
            xi, yi = positions[i]
            for j in (group_b[a_position + 1:] if same_cell else group_b):
                xj, yj = positions[j]
                if (xi - xj) ** 2 + (yi - yj) ** 2 <= radius_squared:
                    adjacency[i].append(j)
                    adjacency[j].append(i)

    for (cx, cy), members in cells.items():
        link_close_pairs(members, members, True)
        for dx, dy in _FORWARD_CELLS:
            other = cells.get((cx + dx, cy + dy))
            if other:
                link_close_pairs(members, other, False)
    return adjacency


def _adjacency(topology, link_range_m):
    # An explicit table already says who hears whom; range does not apply.
    if topology.links is None:
        return unit_disk_adjacency(topology.positions, link_range_m)
    neighbours = [set() for _ in topology.names]
    for tx, rx in topology.links:
        neighbours[tx].add(rx)
        neighbours[rx].add(tx)
    return [sorted(group) for group in neighbours]


def _graph_is_connected(adjacency):
    if not adjacency:
        return True
    seen = {0}
    queue = deque([0])
    while queue:
        for neighbour in adjacency[queue.popleft()]:
            if neighbour not in seen:
                seen.add(neighbour)
                queue.append(neighbour)
    return len(seen) == len(adjacency)


def mean_degree(topology, link_range_m):
    """Mean neighbour count (geometry or link table only; channels ignored)."""
    adjacency = _adjacency(topology, link_range_m)
    return sum(len(group) for group in adjacency) / max(len(adjacency), 1)


def is_connected(topology, link_range_m):
    """Whether every node can reach every other over links (channels ignored)."""
    return _graph_is_connected(_adjacency(topology, link_range_m))


# ---------------------------------------------------------------- JSON reading

_JSON_KINDS = ((bool, "true/false"), ((int, float), "a number"), (str, "a string"),
               (list, "a list"), (dict, "an object"))


def describe(value):
    """How a JSON value looks to the user, for 'expected X, got Y' messages."""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return json.dumps(value)
    for types, text in _JSON_KINDS:
        if isinstance(value, types):
            return text
    return "null"


def _is_number(value):
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def load_json_file(path):
    """Parsed JSON from `path`; unreadable or malformed files raise InputError."""
    try:
        with open(path, encoding="utf-8") as stream:
            text = stream.read()
    except FileNotFoundError:
        raise InputError(str(path), None, "file not found") from None
    except UnicodeDecodeError:
        raise InputError(str(path), None, "not a UTF-8 text file") from None
    except OSError as error:
        raise InputError(str(path), None, "cannot read file: %s" % error.strerror) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(str(path), None, "invalid JSON at line %d, column %d: %s"
                         % (error.lineno, error.colno, error.msg)) from None


class ObjectReader:
    """Reads the fields of one JSON object; each error names the field's path.

    A "comment" field is allowed anywhere and ignored, so files can explain
    themselves.
    """

    def __init__(self, value, source, path, expected="a JSON object"):
        if not isinstance(value, dict):
            raise InputError(source, path or None, "expected %s, got %s" % (expected, describe(value)))
        self.value, self.source, self.path = value, source, path

    def field(self, key):
        return "%s.%s" % (self.path, key) if self.path else key

    def error(self, key, message):
        return InputError(self.source, self.field(key), message)

    def has(self, key):
        return key in self.value

    def only(self, allowed):
        for key in self.value:
            if key not in allowed and key != "comment":
                raise self.error(key, "unknown field; expected %s" % ", ".join(allowed))

    def get(self, key, hint=""):
        if key not in self.value:
            raise self.error(key, "missing" + ("; " + hint if hint else ""))
        return self.value[key]

    def number(self, key, accept=None, rule="", hint="", whole=False):
        """A finite number; `accept` narrows it, described to the user by `rule`."""
        value = self.get(key, hint)
        kind_ok = isinstance(value, int) if whole else True
        if not _is_number(value) or not kind_ok or (accept and not accept(value)):
            wanted = "a whole number" if whole else "a number"
            raise self.error(key, "expected %s%s, got %s"
                             % (wanted, " " + rule if rule else "", describe(value)))
        return value

    def string(self, key, hint=""):
        value = self.get(key, hint)
        if not isinstance(value, str):
            raise self.error(key, "expected a string, got %s" % describe(value))
        return value

    def list(self, key, hint=""):
        value = self.get(key, hint)
        if not isinstance(value, list):
            raise self.error(key, "expected a list, got %s" % describe(value))
        return value


# ---------------------------------------------------------------- topology files

def load_topology_file(path):
    """A Topology from a JSON file (positions or explicit links, never both)."""
    return parse_topology(load_json_file(path), str(path))


def parse_topology(data, source):
    top = ObjectReader(data, source, "", 'a JSON object with a "nodes" list')
    top.only(("nodes", "links"))
    nodes = top.list("nodes", "give a list of nodes, each with a name")
    if not nodes:
        raise top.error("nodes", "no nodes; list at least one")
    if len(nodes) > MAX_NODES:
        raise top.error("nodes", "too many nodes (%d); at most %d" % (len(nodes), MAX_NODES))
    has_links = top.has("links")
    names, positions, channels = _parse_nodes(nodes, source, has_links)
    if not has_links:
        return Topology(names, positions, channels, None, "file")
    topology = Topology(names, None, channels, {}, "file")
    _parse_links(top.list("links"), topology, source)
    return topology


def _parse_nodes(nodes, source, has_links):
    names, positions, channels, first_use = [], [], [], {}
    for i, node in enumerate(nodes):
        reader = ObjectReader(node, source, "nodes[%d]" % i, 'a node object such as {"name": "n1"}')
        if has_links:
            _reject_positions(reader)
        reader.only(("name", "channel") if has_links else ("name", "x", "y", "channel"))
        name = reader.string("name", "every node needs a name")
        if not is_valid_name(name):
            raise reader.error("name", "invalid name %s; names are %s" % (describe(name), NAME_RULE))
        if name in first_use:
            raise reader.error("name", 'duplicate name "%s" (also nodes[%d])' % (name, first_use[name]))
        first_use[name] = i
        names.append(name)
        if not has_links:
            hint = 'every node needs x and y in metres, unless the file has a "links" table'
            positions.append((float(reader.number("x", hint=hint)), float(reader.number("y", hint=hint))))
        channels.append(_read_channel(reader) if reader.has("channel") else 1)
    return names, positions, channels


def _read_channel(reader):
    return reader.number("channel", lambda c: c in CHANNELS, "from 1 to 14", whole=True)


def _reject_positions(reader):
    for key in ("x", "y"):
        if reader.has(key):
            raise reader.error(key, 'a file with a "links" table cannot also give positions; '
                               'remove x and y, or remove "links"')


def _rssi_in_range(value):
    return MIN_RSSI <= value <= MAX_RSSI


def _parse_links(links, topology, source):
    first_use = {}
    rssi_rule = "from %d to %d (received power in dBm)" % (MIN_RSSI, MAX_RSSI)
    for k, link in enumerate(links):
        reader = ObjectReader(link, source, "links[%d]" % k,
                              'a link object such as {"a": "n1", "b": "n2", "rssi": -70}')
        reader.only(("a", "b", "rssi", "rssi_ba"))
        a = topology.index(reader.string("a", "name the node at one end"), source, reader.field("a"))
        b = topology.index(reader.string("b", "name the node at the other end"), source, reader.field("b"))
        if a == b:
            raise reader.error("b", 'link from "%s" to itself; a link joins two different nodes'
                               % topology.names[a])
        pair = (min(a, b), max(a, b))
        if pair in first_use:
            raise InputError(source, reader.path, 'duplicate link between "%s" and "%s" (also links[%d])'
                             % (topology.names[a], topology.names[b], first_use[pair]))
        first_use[pair] = k
        rssi = float(reader.number("rssi", _rssi_in_range, rssi_rule, "give the received power in dBm"))
        reverse = float(reader.number("rssi_ba", _rssi_in_range, rssi_rule)) if reader.has("rssi_ba") else rssi
        topology.links[(a, b)] = rssi
        topology.links[(b, a)] = reverse


GENERATED = ("line", "grid", "random")


def make_topology(spec, nodes, seed, spacing_m=None):
    """`spec` is 'line', 'grid', 'random' or the path of a topology JSON file."""
    if spec in GENERATED:
        return build(spec, nodes, seed, spacing_m)
    return load_topology_file(spec)
