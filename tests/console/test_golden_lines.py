"""The host side of the golden console lines (tests/console/golden_lines.json;
the firmware side is tests/port/test_console_golden.py, under micropython):
the Connection reads exactly these events and writes exactly these commands."""
import json
import os

import pytest

from nowmesh.console import connection as conn_mod
from nowmesh.console.connection import Connection, Hello, Mismatch, NodeEvent, Reply
from nowmesh.console.protocol import PREFIX, PROTO

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "golden_lines.json")) as _f:
    GOLDEN = json.load(_f)


def test_the_host_speaks_the_golden_protocol_version():
    assert PROTO == GOLDEN["proto"] and PREFIX == "@nm%d " % GOLDEN["proto"]


@pytest.mark.parametrize("case", GOLDEN["node_to_host_events"], ids=lambda c: c["event"])
def test_each_event_line_is_read_as_its_event(case):
    events = Connection().receive(case["line"].encode(), now=0.0)
    assert len(events) == 1 and isinstance(events[0], NodeEvent)
    assert events[0].name == case["event"]
    assert events[0].data == dict(case["fields"], ev=case["event"])
    assert isinstance(events[0], Hello) == (case["event"] == "hello")


@pytest.mark.parametrize("case", GOLDEN["node_to_host_replies"], ids=lambda c: str(c["reply"]["re"]))
def test_each_reply_line_answers_the_request_with_its_id(case):
    conn = Connection()
    wire = case["reply"]
    request = conn.request(case["answers"], now=1.0, request_id=wire["re"])
    events = conn.receive(case["line"].encode(), now=1.5)
    assert len(events) == 1 and isinstance(events[0], Reply) and events[0].request is request
    assert events[0].ok == wire["ok"] and events[0].seconds == 0.5
    assert (events[0].data if wire["ok"] else events[0].error) == (wire["data"] if wire["ok"] else wire["error"])
    assert conn.pending == {} and events[0].malformed is None


@pytest.mark.parametrize("case", GOLDEN["host_to_node"], ids=lambda c: str(c["command"][1]))
def test_each_command_is_written_exactly_as_the_golden_line(case):
    cmd_id, name, args, node = case["command"]
    conn = Connection()
    conn.request(name, args, node, now=0.0, request_id=cmd_id)
    assert conn.data_to_send() == case["line"].encode()
    assert conn.data_to_send() == b""


@pytest.mark.parametrize("case", GOLDEN["host_only"], ids=lambda c: c["event"] + ":" + c["line"][:12])
def test_lines_that_are_not_events_are_classified(case):
    events = Connection().receive(case["line"].encode(), now=0.0)
    assert [type(e).__name__ for e in events] == [case["event"]]
    if "version" in case:
        assert (events[0].version, events[0].machine) == (case["version"], case["machine"])
    if "proto" in case:
        assert isinstance(events[0], Mismatch) and events[0].proto == case["proto"]
    if case["event"] == "Garbage":
        assert events[0].error
    assert events[0].text == case["line"].rstrip("\r\n")
    assert conn_mod.MAX_LINE >= len(case["line"])
