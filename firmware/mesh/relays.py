# Relay (multipoint relay, MPR) selection: the greedy heuristic of RFC 3626
# section 8.3.1. Each node picks, among its symmetric neighbours, a small set
# that covers every strict two-hop neighbour `coverage` times (RFC 7181's
# MPR_COVERAGE generalisation); a node relays broadcast readings only when
# the neighbour it heard them from picked it (OLSR MPR flooding), which cuts
# rebroadcasts from N per reading to roughly the size of a connected
# dominating set.


def select_relays(me, neighbours, coverage, prefer=()):
    """neighbours: [(id, two_hop_ids, cost)] of usable symmetric neighbours.

    prefer: the current relays; among candidates that add coverage they are
    taken first, so the set does not churn when link estimates wobble.
    -> list of ids picked as relays.
    """
    one_hop = {}
    for nid, _two, _cost in neighbours:
        one_hop[nid] = True
    providers = {}   # strict two-hop id -> [neighbour ids that hear it]
    for nid, two, _cost in neighbours:
        for t in two:
            if t != me and t not in one_hop:
                ps = providers.setdefault(t, [])
                if nid not in ps:      # a hello listing t twice must not count twice
                    ps.append(nid)
    chosen = {}
    covered = {}
    for t, ps in providers.items():
        if len(ps) <= coverage:
            for p in ps:
                chosen[p] = True
    for t, ps in providers.items():
        covered[t] = sum([1 for p in ps if p in chosen])
    costs = {}
    for nid, _two, cost in neighbours:
        costs[nid] = cost
    # What each coverage count must reach, and per candidate only the entries
    # that can ever count (strict two-hop ids, duplicates kept as the count
    # below always counted them): the greedy rounds scan these short lists.
    # Coverage only grows, so a candidate that adds nothing in one round never
    # will again and leaves the list; the order (hence every tie) is kept.
    need = {}
    for t, ps in providers.items():
        need[t] = min(coverage, len(ps))
    left = []
    for nid, two, cost in neighbours:
        if nid not in chosen:
            left.append((nid, [t for t in two if t in providers], cost))
    while True:
        best, best_gain = None, 0
        keep = []
        for entry in left:
            nid, two, cost = entry
            gain = 0
            for t in two:
                if covered[t] < need[t]:
                    gain += 1
            if not gain:
                continue
            keep.append(entry)
            if nid in prefer:
                gain += 1000
            if gain > best_gain or (gain == best_gain and cost < costs[best]):
                best, best_gain = nid, gain
        if best is None:
            break
        chosen[best] = True
        left = [entry for entry in keep if entry[0] != best]
        for t in dict(neighbours_two(neighbours, best)):
            if t in covered:
                covered[t] += 1
    return sorted(chosen)


def neighbours_two(neighbours, nid):
    for n, two, _cost in neighbours:
        if n == nid:
            return [(t, True) for t in two]
    return []
