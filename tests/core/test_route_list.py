# Node.route_list() and the hop estimate behind the console's `routes`
# command and `nowmesh nodes`. Plain test functions: pytest and MicroPython.
from legacy_flood import FloodPolicy
from mesh.routes import estimate_hops
from meshhelp import Net, make_node


def _converged_line(n, rounds=1):
    nodes = [make_node(i + 1, beacon_ms=2000) for i in range(n)]
    net = Net(nodes, [(nodes[i], nodes[i + 1]) for i in range(n - 1)])
    net.run_until(8000)                 # links admitted (three frames each way), hellos say so
    for _ in range(rounds):
        for node in nodes:
            net.deliver(node, node.publish([("temp", 1.0, "C")], net.now))
        net.run_until(net.now + 3000)
    return nodes


def test_route_list_names_next_hop_metric_and_hops_on_a_line():
    nodes = _converged_line(5, rounds=10)         # links proven, exact quality re-advertised (every 4th hello)
    routes = {}
    for dst, nh, metric, hops in nodes[0].route_list():
        routes[dst] = (nh, metric, hops)
    assert sorted(routes) == sorted([n.id for n in nodes[1:]])
    for k in range(1, 5):
        nh, metric, hops = routes[nodes[k].id]
        assert nh == nodes[1].id
        assert hops == k, (k, hops, metric)       # Net's links are clean: the estimate is exact
        assert 8 * k <= metric <= 9 * k


def test_route_list_of_a_node_with_neighbours_on_both_sides():
    nodes = _converged_line(5, rounds=3)
    mid = nodes[2]
    routes = {}
    for dst, nh, _metric, _hops in mid.route_list():
        routes[dst] = nh
    assert routes == {nodes[0].id: nodes[1].id, nodes[1].id: nodes[1].id,
                      nodes[3].id: nodes[3].id, nodes[4].id: nodes[3].id}


def test_route_list_skips_withdrawn_routes():
    nodes = _converged_line(3)
    a = nodes[0]
    a.neighbours.drop(nodes[1].id)                # its only neighbour left: every route withdrawn
    assert a.route_list() == []
    assert len(a.policy.routes) == 2              # ... but the entries (feasibility distances) stay


def test_hop_estimate_from_the_metric():
    assert estimate_hops(26, True) == 1            # a direct but lossy link is still one hop
    assert [estimate_hops(m, False) for m in (16, 17, 24, 25, 33, 36, 45)] == [2, 2, 3, 3, 4, 4, 5]
    assert estimate_hops(31, False) == 3           # never more than metric // 8 ...
    assert estimate_hops(12, False) == 2           # ... and at least 2 through another node
    assert estimate_hops(23, False) == 2           # under 3 * 8: three hops are impossible
    assert estimate_hops(40, False) == 4           # 40 / 9 = 4.4, the nearest whole hop
    assert estimate_hops(41, False) == 5           # 4.6
    for m in range(0, 256):                        # a count of hops, never a fraction
        h = estimate_hops(m, False)
        assert h == int(h) and 2 <= h and (m < 16 or h <= m // 8), (m, h)


def test_route_list_is_empty_without_a_routing_policy():
    node = make_node(1, policy=FloodPolicy)
    assert node.route_list() == []
