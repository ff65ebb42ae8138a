"""The host side against a hostile serial line: random and near-valid console
lines through parse_line, the monitor link, the model, the SQLite log and the
views. Nothing raises; a line is an event or reply that passes the schema,
text, a mismatch, or garbage with a reason; the model's views always draw."""
import json
import os
import tempfile

from hypothesis import given
from hypothesis import strategies as st

from fuzzcount import counted
from hostile import HOSTILE_LINES, NODE
from scripted_port import ScriptedPort
from nowmesh.console import schema
from nowmesh.console.protocol import KINDS, PREFIX, parse_line
from nowmesh.monitor.link import MonitorLink
from nowmesh.monitor.model import MeshState, check_record
from nowmesh.monitor.store import MonitorLog

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(-2 ** 70, 2 ** 70),
                         st.floats(), st.text(max_size=20), st.sampled_from([NODE, "up", "down", "hello"]))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=20)
# Objects shaped like the protocol's: known names with values of any type.
FIELD_NAMES = sorted({name for fields in list(schema.EVENTS.values()) + [schema.REPLY] for name in fields.types}
                     | {"re", "ok", "data", "error", "node", "ev", "values", "t", "cmd", "state", "text"})
protocol_objects = st.fixed_dictionaries(
    {"ev": st.one_of(st.sampled_from(sorted(schema.EVENTS) + ["poll", "reply", "link", "output", "garbage"]),
                     json_scalars)},
    optional={name: json_values for name in FIELD_NAMES if name != "ev"})
reply_objects = st.fixed_dictionaries({"re": json_scalars, "ok": json_scalars},
                                      optional={"data": json_values, "error": json_values, "node": json_values})


def _dump(obj):
    return json.dumps(obj, allow_nan=True)


lines = st.one_of(
    st.text(max_size=200),
    st.text(max_size=200).map(lambda t: PREFIX + t),
    json_values.map(lambda v: PREFIX + _dump(v)),
    protocol_objects.map(lambda v: PREFIX + _dump(v)),
    reply_objects.map(lambda v: PREFIX + _dump(v)),
    st.sampled_from(HOSTILE_LINES),
    st.tuples(st.integers(0, 5000), st.sampled_from("[{")).map(lambda n: PREFIX + n[1] * n[0]),
    st.from_regex(r"@nm[0-9]{1,6} .{0,40}", fullmatch=True),
)


def _check_line(text):
    parsed = parse_line(text)
    assert parsed.kind in KINDS
    if parsed.kind == "event":
        assert schema.check_event(parsed.data) is None
    elif parsed.kind == "reply":
        assert schema.check_reply(parsed.data) is None and type(parsed.data["re"]) in (int, str)
    elif parsed.kind == "garbage":
        assert parsed.data is None and parsed.error
    if parsed.data is not None:
        json.dumps(parsed.data)                   # whatever passed can be written out again
    return parsed


@given(lines)
@counted
def test_parse_line_never_raises_and_what_passes_fits_the_schema(text):
    _check_line(text)


@given(st.lists(lines, max_size=6))
@counted
def test_the_model_takes_any_parsed_line_and_its_views_draw(texts):
    state = MeshState()
    for t, text in enumerate(texts):
        parsed = _check_line(text)
        if parsed.kind == "event":
            state.apply(dict(parsed.data, t=float(t)))
    state.node_rows(100.0)
    state.reading_rows(100.0)


@given(st.lists(st.one_of(protocol_objects, st.dictionaries(st.text(max_size=8), json_values)), max_size=6),
       st.one_of(st.floats(), st.integers(), st.none(), json_scalars))
@counted
def test_the_model_refuses_or_applies_any_record_and_the_log_takes_what_it_applied(records, t):
    state = MeshState()
    applied = 0
    for record in records:
        record = dict(record, t=t) if t is not None else record
        ok = state.apply(record)
        assert ok == (check_record(record) is None)
        if ok:
            applied += 1
            LOG.add(record)
    assert state.garbage + applied >= len(records) - 0      # refused ones are counted
    state.node_rows(1e9)
    state.reading_rows(1e9)


@given(st.sampled_from(sorted(schema.ANSWERS) + ["send", "nodes"]), json_values, st.booleans())
@counted
def test_answers_to_polls_never_raise_in_the_model_or_the_log(cmd, data, ok):
    state = MeshState()
    record = {"ev": "poll", "t": 5.0, "cmd": cmd, "node": None, "ok": ok, "data": data, "error": "x"}
    if state.apply(record):
        LOG.add(record)
    state.node_rows(10.0)


@given(st.lists(st.one_of(lines.map(lambda t: t.encode("utf-8", "replace") + b"\n"), st.binary(max_size=300)),
                max_size=8))
@counted
def test_the_monitor_link_turns_any_bytes_into_sound_records(chunks):
    link = MonitorLink("scripted", poll_s=60, opener=lambda *a, **k: ScriptedPort(lambda cmd: []))
    link.connect_once()
    link._send("poll", "status", None, None)            # a command waiting for its answer
    for chunk in chunks:
        link._feed(chunk)
    state = MeshState()
    while not link.records.empty():
        record = link.records.get_nowait()
        assert state.apply(record), (record, check_record(record))
    state.node_rows(1e10)


_LOG_DIR = tempfile.mkdtemp(prefix="nowmesh-fuzz-")
LOG = MonitorLog(os.path.join(_LOG_DIR, "fuzz.sqlite"), port="fuzz")
