# Node.route_list() and the hop estimate behind the console's `routes`
# command and `nowmesh nodes`. Plain test functions: pytest and MicroPython.
from mesh.flood import FloodPolicy
from mesh.routes import estimate_hops
from meshhelp import Net, make_node


def _converged_line(n):
    nodes = [make_node(i + 1, beacon_ms=2000) for i in range(n)]
    net = Net(nodes, [(nodes[i], nodes[i + 1]) for i in range(n - 1)])
    net.run_until(4000)
    for node in nodes:
        net.deliver(node, node.publish([("temp", 1.0, "C")], net.now))
    net.run_until(net.now + 3000)
    return nodes


def test_route_list_names_next_hop_metric_and_hops_on_a_line():
    nodes = _converged_line(5)
    routes = {}
    for dst, nh, metric, hops in nodes[0].route_list():
        routes[dst] = (nh, metric, hops)
    assert sorted(routes) == sorted([n.id for n in nodes[1:]])
    for k in range(1, 5):
        nh, metric, hops = routes[nodes[k].id]
        assert nh == nodes[1].id
        assert hops == k, (k, hops, metric)       # Net's links are alike: the estimate is exact
        assert metric >= 8 * k


def test_route_list_skips_withdrawn_routes():
    nodes = _converged_line(3)
    a = nodes[0]
    a.neighbours.drop(nodes[1].id)                # its only neighbour left: every route withdrawn
    assert a.route_list() == []
    assert len(a.policy.routes) == 2              # ... but the entries (feasibility distances) stay


def test_hop_estimate_is_bounded_by_the_metric():
    assert estimate_hops(26, 26, True) == 1       # a direct but lossy link is still one hop
    assert estimate_hops(32, 8, False) == 4       # clean links: exact
    assert estimate_hops(35, 11, False) == 3      # even lossy links: still exact
    assert estimate_hops(20, 24, False) == 2      # next hop's link got worse since: at least 2
    assert estimate_hops(40, 8, False) == 5       # a clean first link, lossy ones later: over, bounded


def test_route_list_is_empty_without_a_routing_policy():
    node = make_node(1, policy=FloodPolicy)
    assert node.route_list() == []
