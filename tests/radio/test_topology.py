import json
import math
import os

import pytest

from nowmesh.errors import InputError
from nowmesh.radio import topology as topo

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")


def write_json(tmp_path, data, name="topology.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return str(path)


# ---------------------------------------------------------------- generators

def test_line_places_nodes_along_x_at_spacing():
    line = topo.line(4, spacing_m=100.0)
    assert line.names == ["n1", "n2", "n3", "n4"]
    assert line.positions == [(0.0, 0.0), (100.0, 0.0), (200.0, 0.0), (300.0, 0.0)]
    assert line.channels == [1, 1, 1, 1]
    assert line.links is None and line.kind == "line"


def test_line_neighbours_are_the_adjacent_nodes_only():
    line = topo.line(5)                          # default spacing 230 m
    adjacency = topo.unit_disk_adjacency(line.positions, 230.0)
    assert [sorted(group) for group in adjacency] == [[1], [0, 2], [1, 3], [2, 4], [3]]
    assert topo.mean_degree(line, 230.0) == pytest.approx(8 / 5)
    assert topo.is_connected(line, 230.0)
    assert not topo.is_connected(line, 229.0)


@pytest.mark.parametrize("n, columns, rows", [(1, 1, 1), (4, 2, 2), (5, 3, 2), (10, 4, 3),
                                              (16, 4, 4), (17, 5, 4)])
def test_grid_is_near_square_and_row_major(n, columns, rows):
    grid = topo.grid(n, spacing_m=10.0)
    assert len(grid) == n and grid.kind == "grid"
    xs = {x for x, _ in grid.positions}
    ys = {y for _, y in grid.positions}
    assert len(xs) == columns and len(ys) == rows
    assert grid.positions[:2] == ([(0.0, 0.0), (10.0, 0.0)] if n > 1 else [(0.0, 0.0)])
    assert grid.positions[-1] == (((n - 1) % columns) * 10.0, (rows - 1) * 10.0)


def test_grid_interior_node_has_four_neighbours_at_spacing():
    grid = topo.grid(9, spacing_m=200.0)
    adjacency = topo.unit_disk_adjacency(grid.positions, 200.0)
    assert sorted(adjacency[4]) == [1, 3, 5, 7]


@pytest.mark.parametrize("n", [25, 100, 300, 1000])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_is_connected_with_mean_degree_near_eight(n, seed):
    layout = topo.random_geometric(n, seed)
    assert len(layout) == n and layout.kind == "random"
    assert topo.is_connected(layout, 300.0)
    assert 6.0 <= topo.mean_degree(layout, 300.0) <= 10.0


def test_random_thousand_nodes_is_connected():
    # how long generating it takes is measured by `make bench` (timings)
    layout = topo.random_geometric(1000, 7)
    assert len(layout) == 1000 and topo.is_connected(layout, 300.0)


def test_random_same_seed_same_layout_different_seed_different():
    assert topo.random_geometric(50, 11).positions == topo.random_geometric(50, 11).positions
    assert topo.random_geometric(50, 11).positions != topo.random_geometric(50, 12).positions


def test_random_does_not_touch_the_global_random_state():
    import random
    random.seed(5)
    expected = random.random()
    random.seed(5)
    topo.random_geometric(30, 1)
    assert random.random() == expected


def test_random_gives_up_after_max_tries():
    with pytest.raises(InputError, match="no connected random layout"):
        topo.random_geometric(300, 1, mean_degree=1.0, max_tries=3)


def test_square_side_accounts_for_the_edge_effect():
    # Ignoring the edges would give side = r * sqrt(pi * (n - 1) / degree);
    # the real side must be smaller so that edge nodes still reach the target.
    naive = 300.0 * math.sqrt(math.pi * 99 / 8.0)
    assert topo.square_side_for_mean_degree(100, 8.0, 300.0) < naive


def test_tiny_random_network_is_complete():
    layout = topo.random_geometric(3, 1)
    assert topo.mean_degree(layout, 300.0) == 2.0


@pytest.mark.parametrize("kind", ["line", "grid", "random"])
def test_build_dispatches_by_kind(kind):
    built = topo.build(kind, 12, seed=3)
    assert built.kind == kind and len(built) == 12


def test_build_passes_spacing_to_line_and_grid():
    assert topo.build("line", 3, 0, spacing_m=50.0).positions[1] == (50.0, 0.0)
    assert topo.build("grid", 4, 0, spacing_m=50.0).positions[3] == (50.0, 50.0)


@pytest.mark.parametrize("call, field, text", [
    (lambda: topo.build("ring", 5, 0), "topology", 'unknown topology "ring"'),
    (lambda: topo.build("random", 5, 0, spacing_m=10.0), "spacing", "spacing applies to line"),
    (lambda: topo.line(0), "nodes", "from 1 to 10000"),
    (lambda: topo.grid(10001), "nodes", "from 1 to 10000"),
    (lambda: topo.line("3"), "nodes", "whole number"),
    (lambda: topo.line(True), "nodes", "whole number"),
    (lambda: topo.line(3, spacing_m=0), "spacing", "above 0"),
    (lambda: topo.random_geometric(3, 1, mean_degree=-1), "mean_degree", "above 0"),
])
def test_generator_argument_errors(call, field, text):
    with pytest.raises(InputError) as caught:
        call()
    assert caught.value.source == "command line"
    assert caught.value.field == field
    assert text in caught.value.message


def test_index_of_unknown_name_is_an_input_error_with_a_suggestion():
    house = topo.load_topology_file(os.path.join(EXAMPLES, "house.json"))
    assert house.index("office") == 4
    with pytest.raises(InputError) as caught:
        house.index("ofice", "plan.json", "events[0].node")
    assert (caught.value.source, caught.value.field) == ("plan.json", "events[0].node")
    assert caught.value.message == 'unknown node "ofice" (did you mean "office"?)'


# ---------------------------------------------------------------- files

def test_load_positions_file():
    house = topo.load_topology_file(os.path.join(EXAMPLES, "house.json"))
    assert house.kind == "file" and house.links is None
    assert house.names[:3] == ["kitchen", "living", "hall"]
    assert house.positions[1] == (8.0, 0.0)
    assert topo.is_connected(house, 300.0)


def test_load_links_file_with_asymmetric_link():
    farm = topo.load_topology_file(os.path.join(EXAMPLES, "links.json"))
    assert farm.positions is None
    gateway, relay2, field = farm.index("gateway"), farm.index("relay2"), farm.index("field")
    assert farm.links[(gateway, relay2)] == -71.0
    assert farm.links[(relay2, gateway)] == -75.0
    assert (gateway, field) not in farm.links
    assert len(farm.links) == 12
    assert topo.is_connected(farm, 0.0)


def test_channels_are_read_and_default_to_one(tmp_path):
    path = write_json(tmp_path, {"nodes": [{"name": "a", "x": 0, "y": 0, "channel": 6},
                                           {"name": "b", "x": 1, "y": 0}]})
    assert topo.load_topology_file(path).channels == [6, 1]


def test_empty_link_table_means_nobody_hears_anybody(tmp_path):
    path = write_json(tmp_path, {"nodes": [{"name": "a"}, {"name": "b"}], "links": []})
    lonely = topo.load_topology_file(path)
    assert lonely.links == {} and not topo.is_connected(lonely, 300.0)


def test_missing_file(tmp_path):
    path = str(tmp_path / "nope.json")
    with pytest.raises(InputError) as caught:
        topo.load_topology_file(path)
    assert (caught.value.source, caught.value.field, caught.value.message) == (path, None, "file not found")
    assert str(caught.value) == path + ": file not found"


def test_invalid_json_reports_line_and_column(tmp_path):
    path = write_json(tmp_path, '{"nodes": [\n  {"name": "a",}\n]}')
    with pytest.raises(InputError, match=r"invalid JSON at line 2, column 16"):
        topo.load_topology_file(path)


def nodes(*names):
    return [{"name": name, "x": 0, "y": i} for i, name in enumerate(names)]


def named(*names):
    return [{"name": name} for name in names]


@pytest.mark.parametrize("data, field, text", [
    ([], None, 'expected a JSON object with a "nodes" list, got a list'),
    ({}, "nodes", "missing"),
    ({"nodes": {}}, "nodes", "expected a list"),
    ({"nodes": []}, "nodes", "no nodes"),
    ({"nodes": [{"name": "n%d" % i} for i in range(10001)], "links": []}, "nodes", "too many nodes (10001)"),
    ({"nodes": nodes("a"), "link": []}, "link", "unknown field"),
    ({"nodes": ["a"]}, "nodes[0]", "expected a node object"),
    ({"nodes": [{"x": 0, "y": 0}]}, "nodes[0].name", "missing"),
    ({"nodes": [{"name": 7, "x": 0, "y": 0}]}, "nodes[0].name", "expected a string, got 7"),
    ({"nodes": nodes("a b")}, "nodes[0].name", "1-16 printable ASCII"),
    ({"nodes": nodes("")}, "nodes[0].name", "1-16 printable ASCII"),
    ({"nodes": nodes("x" * 17)}, "nodes[0].name", "1-16 printable ASCII"),
    ({"nodes": nodes("caf\u00e9")}, "nodes[0].name", "1-16 printable ASCII"),
    ({"nodes": nodes("a", "b", "c", "b")}, "nodes[3].name", 'duplicate name "b" (also nodes[1])'),
    ({"nodes": [{"name": "a", "y": 0}]}, "nodes[0].x", "missing; every node needs x and y"),
    ({"nodes": [{"name": "a", "x": 0, "y": "1"}]}, "nodes[0].y", 'expected a number, got "1"'),
    ({"nodes": [{"name": "a", "x": True, "y": 0}]}, "nodes[0].x", "expected a number, got true/false"),
    ({"nodes": [{"name": "a", "x": 0, "y": 0, "z": 0}]}, "nodes[0].z", "unknown field"),
    ({"nodes": [{"name": "a", "x": 0, "y": 0, "channel": 15}]}, "nodes[0].channel", "from 1 to 14, got 15"),
    ({"nodes": [{"name": "a", "x": 0, "y": 0, "channel": 0}]}, "nodes[0].channel", "from 1 to 14"),
    ({"nodes": [{"name": "a", "x": 0, "y": 0, "channel": 1.5}]}, "nodes[0].channel", "whole number"),
    ({"nodes": nodes("a", "b"), "links": []}, "nodes[0].x", "cannot also give positions"),
    ({"nodes": named("a", "b"), "links": {}}, "links", "expected a list"),
    ({"nodes": named("a", "b"), "links": [["a", "b"]]}, "links[0]", "expected a link object"),
    ({"nodes": named("a", "b"), "links": [{"b": "b", "rssi": -70}]}, "links[0].a", "missing"),
    ({"nodes": named("a", "b"), "links": [{"a": "a", "b": "c", "rssi": -70}]},
     "links[0].b", 'unknown node "c"'),
    ({"nodes": named("a", "b"), "links": [{"a": "a", "b": "a", "rssi": -70}]},
     "links[0].b", 'link from "a" to itself'),
    ({"nodes": named("a", "b"), "links": [{"a": "a", "b": "b", "rssi": -70},
                                          {"a": "b", "b": "a", "rssi": -71}]},
     "links[1]", 'duplicate link between "b" and "a" (also links[0])'),
    ({"nodes": named("a", "b"), "links": [{"a": "a", "b": "b"}]}, "links[0].rssi", "missing"),
    ({"nodes": named("a", "b"), "links": [{"a": "a", "b": "b", "rssi": 3}]},
     "links[0].rssi", "from -127 to 0"),
    ({"nodes": named("a", "b"), "links": [{"a": "a", "b": "b", "rssi": -70, "rssi_ba": -130}]},
     "links[0].rssi_ba", "from -127 to 0"),
    ({"nodes": named("a", "b"), "links": [{"a": "a", "b": "b", "rssi": -70, "snr": 3}]},
     "links[0].snr", "unknown field"),
])
def test_topology_file_errors_name_the_field(tmp_path, data, field, text):
    path = write_json(tmp_path, data)
    with pytest.raises(InputError) as caught:
        topo.load_topology_file(path)
    assert caught.value.source == path
    assert caught.value.field == field
    assert text in caught.value.message


def test_nodes_without_positions_or_links_are_rejected(tmp_path):
    path = write_json(tmp_path, {"nodes": named("a", "b")})
    with pytest.raises(InputError) as caught:
        topo.load_topology_file(path)
    assert caught.value.field == "nodes[0].x"
    assert 'unless the file has a "links" table' in caught.value.message


def test_non_finite_numbers_are_rejected(tmp_path):
    path = write_json(tmp_path, '{"nodes": [{"name": "a", "x": NaN, "y": 0}]}')
    with pytest.raises(InputError) as caught:
        topo.load_topology_file(path)
    assert caught.value.field == "nodes[0].x"


def test_comments_are_allowed_anywhere(tmp_path):
    path = write_json(tmp_path, {"comment": "top", "nodes": [{"name": "a", "comment": "n"}],
                                 "links": []})
    assert topo.load_topology_file(path).names == ["a"]
