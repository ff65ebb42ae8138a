"""The mesh as an attacker sees it, for the adversarial suite: nodes with
small tables (so a flood reaches every bound), insiders that seal frames
with the network key, hypothesis strategies for every payload layout, and
the table bounds every node must stay within whatever it is sent."""
from hypothesis import strategies as st

from nowmesh.bundle import core

core.load()     # explicit: the adversarial suite runs the firmware's mesh core (`mesh`) on CPython
from mesh import crypto, frames, wire  # noqa: E402
from mesh.node import Node  # noqa: E402
from mesh.wire import Reading  # noqa: E402

KEY = bytes(range(16))
ME = 2                                   # the node under attack is _id(ME)
POOL = 10                                # ids an attacker uses: more than any table holds
# Small limits: a short hypothesis example floods every table past its bound.
SMALL = {"readings_max": 4, "neighbours_max": 3, "replay_max": 3, "dup_cache_max": 4,
         "relay_queue_max": 2, "frag_buffers": 2, "events_max": 8}


def _id(i):
    return bytes((2, 0, 0, 0, 0, i))


def node(i=ME, small=True, boot=1):
    config = dict(SMALL) if small else {}
    config.update({"id": _id(i), "name": "n%d" % i, "key": KEY})
    return Node(config, boot, bytes((i,)), 0)


class Insider:
    """Holds the network key: seals any payload as sender _id(index), with
    counters that always move forward (so the replay window lets it in)."""

    def __init__(self, index, boot=1, key=KEY):
        self.id = _id(index)
        self.boot = boot
        self.ctr = 0
        self.keys = crypto.Keys(key)

    def seal(self, ftype, payload, encrypt=True):
        self.ctr += 1
        return crypto.seal(self.keys, ftype, self.id, self.boot, self.ctr, payload, encrypt)


def table_sizes(n):
    """{table: (entries, configured bound)} for every table a node keeps."""
    cfg, p = n.config, n.policy
    origins = cfg.readings_max + 1               # others' readings plus our own
    ae = p.ae
    return {
        "replay": (len(n.replay._senders), cfg.replay_max),
        "neighbours": (len(n.neighbours.table), cfg.neighbours_max),
        "readings": (len(n.readings), origins),
        "heard": (len(n.heard), origins),
        "routes": (len(p.routes.table), origins),
        "batch": (len(p._batch), origins),
        "wheel": (_entries(ae._wheel), origins),
        "intervals": (len(ae._ival), origins),
        "pull_tries": (len(ae._tries), origins),
        "stale": (len(ae._stale), origins),
        "pulls": (len(ae._pull), origins),
        "dup_cache": (len(p.unicast.dup), cfg.dup_cache_max),
        "fragments": (len(p.unicast.frags._parts), cfg.frag_buffers),
        "flooded": (len(p.unicast._flood), cfg.relay_queue_max),
        "requests": (len(p.unicast._pending), cfg.relay_queue_max),
        "in_flight": (_entries(p.unicast._inflight), cfg.relay_queue_max * 4),
        "events": (len(n._events), cfg.events_max),
    }


def _entries(table):
    """Entries of a dict whose values are items or lists of items."""
    return sum(len(v) if type(v) is list else 1 for v in table.values())


def over_bounds(n):
    return {name: size for name, size in table_sizes(n).items() if size[0] > size[1]}


# -- strategies: one per payload layout (docs/protocol.md), ids from a small pool --------
ids = st.integers(1, POOL).map(_id)
any_id = st.one_of(ids, st.just(b"\xff" * 6), st.just(b"\x00" * 6), st.binary(min_size=6, max_size=6))
u16 = st.integers(0, 0xFFFF)
names = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=16)
values = st.lists(st.tuples(st.sampled_from([q[0] for q in wire.QUANTITIES[1:]] + ["wind", "x"]),
                            st.floats(width=32, allow_nan=False, allow_infinity=False),
                            st.sampled_from([q[1] for q in wire.QUANTITIES[1:]] + ["m/s", ""])),
                  max_size=6)
# Readings as origins publish them: small boot and seq numbers, a timestamp
# seq intervals apart (so receivers learn an interval and schedule repair
# checks), now and then anything at all.
_INTERVALS = st.sampled_from([1000, 60000, 3600000])
published = st.builds(lambda origin, boot, seq, ival, vals: Reading(origin, boot, seq, seq * ival, vals),
                      ids, st.integers(1, 2), st.integers(0, 40), _INTERVALS, values)
readings = st.one_of(published, st.builds(Reading, ids, u16, u16, st.integers(0, 0xFFFFFFFF), values))


@st.composite
def hello_payloads(draw):
    entries = draw(st.lists(st.tuples(any_id, st.integers(0, 127), st.booleans()), max_size=31))
    return frames.encode_hello(draw(names), draw(st.integers(0, 255)), draw(u16), entries)


@st.composite
def pull_payloads(draw):
    haves = draw(st.lists(st.tuples(any_id, u16, u16), max_size=frames.max_pull_entries()))
    responder = draw(st.one_of(st.just(b"\x00" * 6), ids))
    return frames.encode_pull(draw(st.integers(0, 1)), haves, responder)


@st.composite
def routed_payloads(draw):
    """Routed data at its real length: a head and a body of up to MAX_BODY bytes."""
    limit = draw(st.integers(1, 255))
    count = draw(st.integers(1, frames.FRAG_MAX))
    kind = draw(st.sampled_from([0, 1, 2, 3, 0x10, 0x21, 0x32, 0x33]))
    body = draw(st.one_of(st.sampled_from([b"ping", b"pong", b""]), st.binary(max_size=frames.MAX_BODY)))
    return frames.encode_routed(kind, draw(any_id), draw(st.one_of(st.just(_id(ME)), any_id)), draw(u16),
                                draw(st.integers(0, limit - 1)), limit,
                                (draw(st.integers(0, count - 1)) << 4) | (count - 1), body)


@st.composite
def readings_payloads(draw):
    chosen, size = [], 1
    for r in draw(st.lists(readings, min_size=1, max_size=8)):
        raw = wire.encode_reading(r)
        if size + frames.item_size(raw) <= wire.MAX_PAYLOAD:
            chosen.append(raw)
            size += frames.item_size(raw)
    n = len(chosen)
    hops = draw(st.lists(st.integers(0, 255), min_size=n, max_size=n))
    metrics = draw(st.lists(st.integers(0, 255), min_size=n, max_size=n))
    return frames.encode_readings_items(chosen, hops, metrics)


LAYOUTS = {
    frames.T_HELLO: hello_payloads(),
    frames.T_PULL: pull_payloads(),
    wire.T_DATA: routed_payloads(),
    wire.T_READINGS: readings_payloads(),
    wire.T_BEACON: names.map(lambda text: bytes((len(text),)) + text.encode()),
}
# (frame type, payload) of any layout
layout_payloads = st.one_of([payload.map(lambda p, t=t: (t, p)) for t, payload in LAYOUTS.items()])


@st.composite
def mutations(draw):
    kind = draw(st.sampled_from(["flip", "truncate", "extend", "splice"]))
    return (kind, draw(st.integers(0, 249)), draw(st.integers(0, 7)), draw(st.binary(min_size=1, max_size=20)))


def mutate(data, m):
    kind, pos, bit, extra = m
    if not data:
        return extra
    pos %= len(data)
    if kind == "flip":
        return data[:pos] + bytes((data[pos] ^ (1 << bit),)) + data[pos + 1:]
    if kind == "truncate":
        return data[:pos]
    if kind == "extend":
        return data + extra
    return data[:pos] + extra + data[pos + len(extra):]
