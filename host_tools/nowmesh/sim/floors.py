"""floors: lower bounds (and near-bounds) on what any protocol must spend per
reading on a given topology and radio: the scenario matrix's floor column
(bench/matrix.py, issue 14) and the dashed line of `nowmesh plot`.

Data. Whatever a broadcast scheme does, the nodes that transmit one reading
form a connected dominating set (CDS) of the usable-link graph: every node
heard one of them (dominating), and every transmitter but the origin first
received it from an earlier one (connected). So transmissions per reading >=
the minimum CDS size. The minimum is NP-hard; `greedy_cds` (Guha & Khuller
1998, algorithm I) gives a CDS within about ln(max degree) + 3 of it, which is
what a distributed scheme can hope to approach, so it is the floor we report
(`cds`), next to the provable but weak degree bound ceil((N - 1) / D).

With loss, the transmitters of one wave miss some receivers. `lossy_tx`
estimates the cost of an omniscient scheme: the CDS transmits in BFS order
(a member that missed it does not), then, until everyone holds the reading,
the holder whose transmission reaches the most missing neighbours (expected)
sends again. It is an estimate, not a bound (a smarter omniscient scheme could
pick a different set per loss pattern), averaged over `trials` origins.

Airtime: one reading per frame unless readings can share one within the
freshness budget (p95 <= 1 s): a relay sees N / interval readings per second
mesh-wide, so at best k = clamp(N * 1 s / interval, 1, K_max) share a frame.

Control: a dead neighbour must be noticed within the failure time T
(neighbour_timeout_ms). A node that sends nothing else must send m frames per
T, m the smallest number that a link losing a fraction p of frames drops all
of with probability <= 1 % (false alarms then cost a probe, not a link):
m = ceil(log 0.01 / log p); per minute m * 60 / T.
"""
import math
import random

from nowmesh.bundle import core

LATENCY_BUDGET_S = 1.0      # issue 14's freshness target: p95 <= 1 s
FALSE_ALARM = 0.01


def usable_graph(radio, nodes, loss, payload_len):
    """-> (adjacency sets, delivery probability per ordered link) over the
    links usable both ways (the simulator's definition, radio.usable)."""
    from nowmesh.radio.model import NOISE_DBM, frame_bits, packet_error_rate
    adj = [set() for _ in range(nodes)]
    prob = {}
    for i, j, rij, rji in radio.links():
        adj[i].add(j)
        adj[j].add(i)
        prob[(i, j)] = (1.0 - packet_error_rate(rij - NOISE_DBM, frame_bits(payload_len))) * (1.0 - loss)
        prob[(j, i)] = (1.0 - packet_error_rate(rji - NOISE_DBM, frame_bits(payload_len))) * (1.0 - loss)
    return adj, prob


def _component(adj, start):
    seen, todo = {start}, [start]
    while todo:
        for j in adj[todo.pop()]:
            if j not in seen:
                seen.add(j)
                todo.append(j)
    return seen


def greedy_cds(adj):
    """Guha-Khuller greedy CDS per connected component -> sorted node list.
    Grow a tree from the highest-degree node; each step adds the dominated,
    not yet chosen node that dominates the most undominated ones."""
    chosen, left = set(), set(range(len(adj)))
    while left:
        comp = _component(adj, max(left, key=lambda i: (len(adj[i]), -i)))
        left -= comp
        if len(comp) == 1:
            chosen |= comp            # an isolated node still sends its own reading
            continue
        start = max(comp, key=lambda i: (len(adj[i]), -i))
        black = {start}
        dominated = {start} | adj[start]
        while len(dominated) < len(comp):
            best = max((g for g in dominated - black),
                       key=lambda g: (len(adj[g] - dominated), -g))
            black.add(best)
            dominated |= adj[best]
        chosen |= black
    return sorted(chosen)


def lossy_tx(adj, prob, cds, trials=200, seed=1):
    """-> mean transmissions per reading of the CDS wave plus omniscient repairs."""
    rng = random.Random(seed)
    members = set(cds)
    n = len(adj)
    total = 0
    for _ in range(trials):
        origin = rng.randrange(n)
        comp = _component(adj, origin)
        holds, order, tx = {origin}, [origin], 0
        sent = set()
        while order:                               # the wave: CDS members relay once
            i = order.pop(0)
            if i in sent:
                continue
            sent.add(i)
            tx += 1
            for j in adj[i]:
                if j not in holds and rng.random() < prob[(i, j)]:
                    holds.add(j)
                    if j in members:
                        order.append(j)
        while len(holds) < len(comp):              # repairs, best holder first
            best = max(holds, key=lambda h: (sum(prob[(h, j)] for j in adj[h] if j not in holds), -h))
            tx += 1
            for j in adj[best]:
                if j not in holds and rng.random() < prob[(best, j)]:
                    holds.add(j)
        total += tx
    return total / trials


def readings_per_frame(nodes, interval_s, k_max):
    return max(1, min(k_max, int(nodes * LATENCY_BUDGET_S / interval_s)))


def control_frames_per_min(failure_ms, link_loss):
    """Frames a silent node must send per minute so that a neighbour whose
    link loses link_loss of them notices its death within failure_ms."""
    m = 1 if link_loss <= 0 else max(1, math.ceil(math.log(FALSE_ALARM) / math.log(link_loss)))
    return m * 60000.0 / failure_ms


# ------------------------------------------------------------ a layout's floor

def reading_item_bytes():
    """Bytes one simulated node's reading takes in a frame (the core's own encoder)."""
    core.load()
    from mesh.frames import ITEM_EXTRA
    from mesh.wire import Reading, encode_reading
    values = [("temp", 21.37, "C"), ("rh", 45.2, "%")]     # what the simulator's sensors publish
    return len(encode_reading(Reading(b"\x02NM\x00\x00\x01", 1, 1, 0, values))) + ITEM_EXTRA


def floor_of(topology, seed, loss, interval_s, exponent=3.0, shadowing_db=4.0, item_bytes=None):
    """-> the floor of one layout (a radio Topology) under the simulator's
    radio model: data and control parts, and the airtime per reading they add up to."""
    core.load()
    from mesh.config import NodeConfig
    from mesh.wire import HEADER_LEN, MAX_FRAME, TAG_LEN
    from nowmesh.radio.model import RadioModel, airtime_us
    item_bytes = item_bytes or reading_item_bytes()
    n = len(topology.names)
    rm = RadioModel(topology, seed, exponent, shadowing_db)
    one = HEADER_LEN + TAG_LEN + 1 + item_bytes
    adj, prob = usable_graph(rm, n, loss, one)
    cds = greedy_cds(adj)
    tx = lossy_tx(adj, prob, cds, trials=100, seed=seed)
    k = readings_per_frame(n, interval_s, (MAX_FRAME - HEADER_LEN - TAG_LEN - 1) // item_bytes)
    data_us = tx * airtime_us(HEADER_LEN + TAG_LEN + 1 + k * item_bytes) / k
    ps = sorted(prob.values())
    failure_ms = NodeConfig(id=b"\x02" * 6, name="floor", key=bytes(16)).neighbour_timeout_ms
    per_min = control_frames_per_min(failure_ms, 1.0 - ps[len(ps) // 2] if ps else 0.0)
    # keep-alives: nodes outside the CDS send their own reading once an
    # interval and nothing else; CDS members relay every reading anyway
    spare = max(0.0, per_min * interval_s / 60.0 - 1.0) * (n - len(cds)) / n
    control_us = spare * airtime_us(HEADER_LEN + TAG_LEN)
    return {"floor_ms": round((data_us + control_us) / 1000.0, 3), "floor_cds": len(cds),
            "floor_tx": round(tx, 2), "floor_ctl_per_node_min": round(per_min, 3)}
