# select_relays against the plain greedy of RFC 3626 8.3.1 as first written
# (every round rescans every candidate's whole two-hop list): the pruned
# version must pick the very same set, ties and preferred relays included,
# on many random neighbourhoods. Plain functions: pytest and MicroPython.
from mesh.relays import neighbours_two, select_relays


def reference(me, neighbours, coverage, prefer=()):
    one_hop = {}
    for nid, _two, _cost in neighbours:
        one_hop[nid] = True
    providers = {}
    for nid, two, _cost in neighbours:
        for t in two:
            if t != me and t not in one_hop:
                ps = providers.setdefault(t, [])
                if nid not in ps:
                    ps.append(nid)
    chosen, covered = {}, {}
    for t, ps in providers.items():
        if len(ps) <= coverage:
            for p in ps:
                chosen[p] = True
    for t, ps in providers.items():
        covered[t] = sum([1 for p in ps if p in chosen])
    costs = {}
    for nid, _two, cost in neighbours:
        costs[nid] = cost
    while True:
        best, best_gain = None, 0
        for nid, two, cost in neighbours:
            if nid in chosen:
                continue
            gain = 0
            for t in two:
                if t in providers and covered[t] < min(coverage, len(providers[t])):
                    gain += 1
            if gain and nid in prefer:
                gain += 1000
            if gain > best_gain or (gain == best_gain and gain and cost < costs[best]):
                best, best_gain = nid, gain
        if best is None:
            break
        chosen[best] = True
        for t in dict(neighbours_two(neighbours, best)):
            if t in covered:
                covered[t] += 1
    return sorted(chosen)


class Lcg:
    """A tiny seeded generator (MicroPython's random differs from CPython's)."""

    def __init__(self, seed):
        self.x = seed

    def below(self, n):
        self.x = (self.x * 1103515245 + 12345) & 0x7FFFFFFF
        return (self.x >> 8) % n


def _neighbourhood(rng, ids):
    me = ids[0]
    count = 1 + rng.below(12)
    nbrs = []
    for k in range(count):
        nid = ids[1 + rng.below(len(ids) - 1)]
        # two-hop lists mix strict two-hop ids, our own neighbours, us, repeats
        two = [ids[rng.below(len(ids))] for _ in range(rng.below(10))]
        nbrs.append((nid, two, 4 + rng.below(6)))
    prefer = [n[0] for n in nbrs if rng.below(3) == 0]
    return me, nbrs, prefer


def test_pruned_greedy_picks_what_the_plain_greedy_picks():
    ids = [bytes([2, 0, 0, 0, 0, i]) for i in range(24)]
    rng = Lcg(7)
    differing_sets = 0
    for _ in range(400):
        me, nbrs, prefer = _neighbourhood(rng, ids)
        for coverage in (1, 2, 3):
            want = reference(me, nbrs, coverage, prefer)
            assert select_relays(me, nbrs, coverage, prefer) == want
            assert select_relays(me, nbrs, coverage) == reference(me, nbrs, coverage)
            if want != reference(me, nbrs, coverage):
                differing_sets += 1
    # the cases exercise preference (it changes the pick in some of them)
    assert differing_sets > 0
