# Invariants of the core as properties. Each property is a `check_*`
# function of plain inputs; it runs twice over: with inputs from a seeded
# generator (mesh.prng.Rng: under pytest and under MicroPython alike), and,
# where hypothesis is installed (CPython), with inputs hypothesis draws and
# shrinks. Profiles (derandomised in CI, larger for `make fuzz`) are set in
# tests/conftest.py.
from mesh import wire
from mesh.frames import ITEM_EXTRA, MAX_BODY, FRAG_MAX, T_PULL, decode_readings_items
from mesh.fragments import Reassembly, split
from mesh.neighbours import NeighbourTable
from mesh.node import UNICAST_STREAM, _CTR_LIMIT
from mesh.prng import Rng
from mesh.relays import forward_rank, must_forward
from mesh.replay import ReplayTable
from mesh.routes import INFINITY, RouteTable, _unpack
from mesh.wire import T_READINGS, Reading, encode_reading
from meshhelp import make_node, node_id

try:
    from hypothesis import given
    from hypothesis import strategies as st
except ImportError:      # MicroPython: the seeded variants only
    given = None

_CASES = 40              # seeded cases per property (each a list of steps)


def _seeded(seed, make, check, cases=_CASES):
    rng = Rng(seed)
    for _ in range(cases):
        check(make(rng))


# ------------------------------------------------------------------ routes
# A step: (dst 0..2, boot 1..2, seq 0..6, advertised metric, next hop 0..3,
# link cost) for an update, or (-1, next hop) for that neighbour leaving.

def _route_steps(rng):
    steps = []
    for _ in range(1 + rng.below(40)):
        if rng.below(8) == 0:
            steps.append((-1, rng.below(4)))
        else:
            adv = (0, 8, 16, 24, 40, 100, 247, 254, 255)[rng.below(9)] if rng.below(2) else rng.below(256)
            cost = (8, 9, 16, 255)[rng.below(4)] if rng.below(2) else rng.below(256)
            steps.append((rng.below(3), 1 + rng.below(2), rng.below(7), adv, rng.below(4), cost))
    return steps


def _newer(a_boot, a_seq, b_boot, b_seq):
    return (a_boot, a_seq) != (b_boot, b_seq) and (a_boot > b_boot or (a_boot == b_boot and a_seq > b_seq))


def check_route_table(steps):
    nbrs = NeighbourTable(8, 100000, lambda e: None)
    nhs = [node_id(100 + i) for i in range(4)]
    for nh in nhs:
        nbrs.heard(nh, -50, 0)
    dsts = [node_id(200 + i) for i in range(3)]
    t = RouteTable(8, nbrs)
    for step in steps:
        if step[0] < 0:
            t.drop_via(nbrs.get(nhs[step[1]]).slot)
        else:
            _check_update(t, nbrs, dsts[step[0]], step[1], step[2], step[3], nhs[step[4]], step[5])
        for v in t.table.values():
            slot, metric, fd_m, _b, _s = _unpack(v)
            if nbrs.by_slot(slot) is not None:       # installed, not withdrawn
                assert metric < INFINITY and metric >= fd_m, (step, _unpack(v))


def _check_update(t, nbrs, dst, boot, seq, adv, nh, cost):
    before = t.table.get(dst)
    slot = nbrs.get(nh).slot
    selected = t.update(dst, boot, seq, adv, nh, cost)
    after = t.table.get(dst)
    if adv >= INFINITY or cost >= INFINITY:
        assert not selected and after == before     # unusable: changes nothing
        return
    if selected:
        a_slot, a_metric, _fm, a_boot, a_seq = _unpack(after)
        assert a_slot == slot and a_metric == min(INFINITY - 1, adv + cost)
        assert (a_boot, a_seq) == (boot, seq) or before is not None
    if before is None:
        return
    b_slot, b_metric, b_fd, b_boot, b_seq = _unpack(before)
    a_slot, a_metric, a_fd, a_boot, a_seq = _unpack(after)
    assert not _newer(b_boot, b_seq, a_boot, a_seq)            # the FD's seqno never goes back
    if (a_boot, a_seq) == (b_boot, b_seq):
        assert a_fd <= b_fd, (before, after)                   # ... and its metric never rises
    if (boot, seq) == (b_boot, b_seq) and adv >= b_fd:
        # unfeasible (RFC 8966 3.5.1): refused, equal to the FD included,
        # withdrawn route or not; only our own next hop turning unfeasible
        # withdraws the route
        assert not selected, (before, adv)
        withdrawn = nbrs.by_slot(a_slot) is None
        assert a_fd == b_fd and (a_slot == b_slot or (b_slot == slot and withdrawn))
        if b_slot != slot:
            assert after == before


def test_route_table_invariants_seeded():
    _seeded(7, _route_steps, check_route_table)


# ------------------------------------------------------------------ neighbours
# Steps: (neighbour 0..11, ms since the previous frame >= 1) into a table of 5.

def _nbr_steps(rng):
    return [(rng.below(12), 1 + rng.below(500)) for _ in range(1 + rng.below(60))]


def check_neighbour_eviction(steps, size=5):
    events = []
    table = NeighbourTable(size, 10 ** 9, events.append)
    last = {}            # the model: id -> when last heard
    now = 0
    for who, dt in steps:
        now += dt
        nid = node_id(who)
        victim = None
        if nid not in last and len(last) >= size:
            victim = min([(t, k) for k, t in last.items()])[1]   # the stalest entry
            del last[victim]
        del events[:]
        table.heard(nid, -50, now)
        last[nid] = now
        downs = [e[1] for e in events if e[2] == "down"]
        assert downs == ([victim] if victim is not None else []), (downs, victim)
        assert len(table) == len(last) <= size
        assert sorted([n.id for n in table.values()]) == sorted(last)


def test_neighbour_table_evicts_the_stalest_seeded():
    _seeded(11, _nbr_steps, check_neighbour_eviction)


# ------------------------------------------------------------------ replay
# Steps: (sender 0..9, its next counter step 1..3) into a table of 4 senders.

def _replay_steps(rng):
    return [(rng.below(10), 1 + rng.below(3)) for _ in range(1 + rng.below(60))]


def check_replay_eviction(steps, size=4):
    t = ReplayTable(max_senders=size, window=8)
    order = []           # the model: senders, least recently updated first
    ctr = {}
    for who, step in steps:
        sender = node_id(who)
        ctr[who] = ctr.get(who, 0) + step
        gone = None
        if sender not in order and len(order) >= size:
            gone = order.pop(0)
        assert t.accept(sender, 1, ctr[who])
        if gone is not None:
            assert t.check(gone, 1, 0)          # forgotten: even its first frame reads as new
        if sender in order:
            order.remove(sender)
        order.append(sender)
        assert len(t) == len(order) <= size
        for kept in order:                      # everyone kept still refuses a replay
            assert not t.check(kept, 1, ctr[kept[-1]])


def test_replay_table_evicts_the_least_recently_updated_seeded():
    _seeded(29, _replay_steps, check_replay_eviction)


# ------------------------------------------------------------------ forwarders
# A random connected graph in which every node knows its neighbours and
# theirs (as hellos tell it): the nodes that must_forward picks, plus the
# source, carry a broadcast from any source to every node.

def _forward_case(rng):
    count = 2 + rng.below(13)
    edges = {}
    for v in range(1, count):                      # a random spanning tree: connected
        u = rng.below(v)
        edges[(u, v)] = True
    for _ in range(rng.below(count * 3)):
        a, b = rng.below(count), rng.below(count)
        if a != b:
            edges[(min(a, b), max(a, b))] = True
    return count, sorted(edges)


def check_forwarders_carry_every_broadcast(case):
    count, edges = case
    ids = [node_id(10 + i) for i in range(count)]
    adj = [[] for _ in range(count)]
    for a, b in edges:
        adj[a].append(b)
        adj[b].append(a)
    forwards = []
    for v in range(count):
        members = [(ids[u], tuple([ids[w] for w in adj[u]])) for u in adj[v]]   # their lists name v too
        forwards.append(must_forward(ids[v], members, forward_rank))
    for source in range(count):
        reached, wave = {source: True}, [source]
        while wave:
            v = wave.pop()
            if v == source or forwards[v]:
                for u in adj[v]:
                    if u not in reached:
                        reached[u] = True
                        wave.append(u)
        assert len(reached) == count, (source, edges, forwards)


def test_forwarders_carry_every_broadcast_seeded():
    _seeded(37, _forward_case, check_forwarders_carry_every_broadcast, cases=120)


def test_prng_is_xorshift32_and_stays_in_range():
    r = Rng(b"x")
    r._s = 1
    assert [r.next32() for _ in range(3)] == [270369, 67634689, 2647435461]   # Marsaglia (13, 17, 5)
    a, b = Rng(b"seed"), Rng(b"seed")
    assert [a.next32() for _ in range(5)] == [b.next32() for _ in range(5)]
    assert Rng(7).state() == Rng((7).to_bytes(8, "little")).state() != Rng(8).state()
    for n in (0, 1):
        assert Rng(3).below(n) == 0
    r = Rng(5)
    seen = [r.below(6) for _ in range(600)]
    assert min(seen) == 0 and max(seen) == 5 and len(set(seen)) == 6


# ------------------------------------------------------------------ packing
# Readings of chosen encoded sizes from many origins; a full sync and a batch
# flush must pack them into frames no longer than the limit, each frame
# as full as the next reading allows, and lose none.

def _reading_of(i, size):
    """A reading from origin i whose encoding is `size` bytes (23..223)."""
    r = Reading(node_id(i), 1, 1, 0, [("x" * (size - 22), 1.0, "")])
    assert len(encode_reading(r)) == size
    return r


def _sizes(rng):
    out = []
    for _ in range(1 + rng.below(30)):
        k = rng.below(4)
        out.append((23, 50, 223, 23 + rng.below(201))[k])
    return out


def check_packing(sizes):
    hub = make_node(1, readings_max=64)
    for i in range(len(sizes)):
        hub.store_reading(_reading_of(2 + i, sizes[i]), 0)
    for frames in (hub.policy.push_all(node_id(99)), _flush_all(hub)):
        got = []
        prev = None
        for _dst, frame in frames:
            assert len(frame) <= wire.MAX_FRAME, len(frame)
            ftype, _s, _b, _c, payload = hub.keys.open(frame)
            assert ftype == T_READINGS
            items = decode_readings_items(payload)
            if prev is not None:      # greedy: the next reading would not have fitted
                assert prev + len(items[0][0]) + ITEM_EXTRA > wire.MAX_PAYLOAD
            prev = len(payload)
            got += [raw for raw, _r, _h, _m in items]
        assert sorted(got) == sorted(hub.readings.raw.values())


def _flush_all(hub):
    for origin in hub.readings.raw:
        hub.policy._queue(origin, 1, False, 0)
    return hub.policy._flush(0)


def test_frames_are_packed_within_the_limit_seeded():
    _seeded(13, _sizes, check_packing, cases=15)


# ------------------------------------------------------------------ counters
# (headroom before the stream's limit, [is unicast, ...]) for frames sealed.

def _ctr_steps(rng):
    return (rng.below(6), 1 + rng.below(6), [rng.below(2) == 1 for _ in range(rng.below(16))])


def check_counter_streams(case):
    b_room, u_room, kinds = case
    node = make_node(1)
    node._ctr, node._uctr = _CTR_LIMIT - b_room, _CTR_LIMIT - u_room
    seen = {False: [], True: []}
    for unicast in kinds:
        frame = node.seal(T_PULL, b"x", unicast)
        room = u_room if unicast else b_room
        if len(seen[unicast]) >= room:
            assert frame is None          # exhausted: silent, never wrapped
            continue
        ctr = wire.parse_header(frame)[5]
        assert (ctr >= UNICAST_STREAM) == unicast, hex(ctr)
        assert ctr <= 0xFFFFFFFF
        assert not seen[unicast] or ctr == seen[unicast][-1] + 1
        seen[unicast].append(ctr)
    refused = len(kinds) - len(seen[False]) - len(seen[True])
    assert node.stats.get("ctr_exhausted", 0) == refused


def test_counter_streams_never_cross_seeded():
    _seeded(17, _ctr_steps, check_counter_streams)


# ------------------------------------------------------------------ publish
# A reading of known quantities plus one custom value: (known count, name
# length, unit length). publish accepts it iff it fits one readings frame,
# and what it accepts travels: sealed, and in a full sync to a new node.

def _publish_case(rng):
    return (rng.below(8), 1 + rng.below(190), rng.below(30))


def check_publish_size(case):
    known, name_len, unit_len = case
    values = [("temp", 1.0, "C")] * known + [("n" * name_len, 2.0, "u" * unit_len)]
    a = make_node(1)
    size = 15 + 5 * known + 7 + name_len + unit_len
    try:
        out = a.publish(values, 10)
    except ValueError:
        assert size > a.policy.max_reading
        return
    assert size <= a.policy.max_reading
    assert len(out) == 1 and len(out[0][1]) <= wire.MAX_FRAME
    b = make_node(2)
    b.store_raw(a.readings[a.id], a.readings.raw[a.id], 20)
    fresh = make_node(3)
    for _dst, frame in b.policy.push_all(fresh.id):
        fresh.receive(frame, b.id, -50, 30)
    assert fresh.readings.raw.get(a.id) == a.readings.raw[a.id]


def test_publish_accepts_only_what_travels_seeded():
    _seeded(19, _publish_case, check_publish_size)


# ------------------------------------------------------------------ fragments

def _frag_case(rng):
    n = (0, 1, MAX_BODY, MAX_BODY + 1, FRAG_MAX * MAX_BODY, FRAG_MAX * MAX_BODY + 1)[rng.below(6)] \
        if rng.below(2) else rng.below(FRAG_MAX * MAX_BODY + 40)
    return n, rng.next32()


def check_fragments(case):
    n, order_seed = case
    body = bytes([(i * 7) & 0xFF for i in range(n)])
    try:
        pieces = split(body)
    except ValueError:
        assert n > FRAG_MAX * MAX_BODY
        return
    assert n <= FRAG_MAX * MAX_BODY
    assert len(pieces) == max(1, (n + MAX_BODY - 1) // MAX_BODY)
    order = Rng(order_seed)
    pieces = list(pieces)
    r = Reassembly(2, 1000, lambda name: None)
    got = None
    while pieces:
        frag, piece = pieces.pop(order.below(len(pieces)))
        assert got is None
        got = r.add(b"k", frag, piece, 0)
    assert got == body and len(r) == 0


def test_fragments_reassemble_in_any_order_seeded():
    _seeded(23, _frag_case, check_fragments)


# ------------------------------------------------------------------ hypothesis

if given is not None:
    _route_step = st.one_of(
        st.tuples(st.just(-1), st.integers(0, 3)),
        st.tuples(st.integers(0, 2), st.integers(1, 2), st.integers(0, 6),
                  st.one_of(st.sampled_from([0, 8, 16, 24, 247, 254, 255]), st.integers(0, 255)),
                  st.integers(0, 3), st.one_of(st.sampled_from([8, 9, 255]), st.integers(0, 255))))

    @given(st.lists(_route_step, max_size=60))
    def test_route_table_invariants(steps):
        check_route_table(steps)

    @given(st.lists(st.tuples(st.integers(0, 11), st.integers(1, 500)), max_size=80))
    def test_neighbour_table_evicts_the_stalest(steps):
        check_neighbour_eviction(steps)

    @given(st.lists(st.tuples(st.integers(0, 9), st.integers(1, 3)), max_size=80))
    def test_replay_table_evicts_the_least_recently_updated(steps):
        check_replay_eviction(steps)

    @given(st.integers(2, 14), st.lists(st.tuples(st.integers(0, 13), st.integers(0, 13)), max_size=40))
    def test_forwarders_carry_every_broadcast(count, extra):
        edges = {}
        for v in range(1, count):                  # a path: connected
            edges[(v - 1, v)] = True
        for a, b in extra:
            a, b = a % count, b % count
            if a != b:
                edges[(min(a, b), max(a, b))] = True
        check_forwarders_carry_every_broadcast((count, sorted(edges)))

    @given(st.lists(st.integers(23, 223), min_size=1, max_size=40))
    def test_frames_are_packed_within_the_limit(sizes):
        check_packing(sizes)

    @given(st.tuples(st.integers(0, 5), st.integers(0, 5), st.lists(st.booleans(), max_size=16)))
    def test_counter_streams_never_cross(case):
        check_counter_streams(case)

    @given(st.tuples(st.integers(0, 8), st.integers(1, 210), st.integers(0, 40)))
    def test_publish_accepts_only_what_travels(case):
        check_publish_size(case)

    @given(st.tuples(st.integers(0, FRAG_MAX * MAX_BODY + 40), st.integers(0, 0xFFFFFFFF)))
    def test_fragments_reassemble_in_any_order(case):
        check_fragments(case)
