"""Regression tests of issue 11, finding 6: every host consumer of console
lines takes a hostile line as garbage (counted, with a reason) and goes on.
Each input here raised on the main the review drove."""
import asyncio
import queue
import time

import pytest

from nowmesh.console import ConsoleClient, ConsoleError
from nowmesh.console.protocol import PREFIX, parse_line
from nowmesh.deploy import fastpath
from nowmesh.monitor.link import MonitorLink
from nowmesh.monitor.model import MeshState
from nowmesh.monitor.session import MonitorSession
from nowmesh.port_probe import PROBE_ID, _Listener, _verdict
from nowmesh.query.session import MeshSession
from hostile import HOSTILE_LINES, NODE, REPLY_LIST_RE_1, DEEP
from scripted_port import ScriptedPort, line, reply

GOOD_READING = {"ev": "reading", "id": NODE, "name": "kitchen", "seq": 3, "values": [["temp", 21.5, "C"]]}


@pytest.mark.parametrize("text", HOSTILE_LINES, ids=range(len(HOSTILE_LINES)))
def test_hostile_lines_are_garbage_with_a_reason(text):
    parsed = parse_line(text)
    assert parsed.kind == "garbage" and parsed.data is None and parsed.error


def test_good_lines_still_parse():
    assert parse_line(line(GOOD_READING)).data == GOOD_READING
    assert parse_line(line({"re": 4, "ok": False, "error": "no"})).kind == "reply"
    assert parse_line(line({"ev": "brand_new", "x": [1, {"y": None}]})).kind == "event"   # unknown kinds pass
    assert parse_line("Traceback (most recent call last):").kind == "text"


@pytest.mark.parametrize("text", HOSTILE_LINES, ids=range(len(HOSTILE_LINES)))
def test_the_model_refuses_hostile_records_and_its_views_still_draw(text):
    import json
    state = MeshState()
    state.apply(dict(GOOD_READING, t=1.0))
    try:
        record = dict(json.loads(text[len(PREFIX):]), t=2.0)
    except (ValueError, RecursionError, TypeError):
        record = {"ev": "garbage", "t": 2.0, "text": text[:200], "error": parse_line(text).error}
    state.apply(record)
    if record.get("ev") != "garbage":
        assert state.garbage == 1
    assert state.node_rows(10.0)[0]["name"] == "kitchen"
    assert state.reading_rows(10.0) == [("kitchen", "temp", 21.5, "C", 9)]


@pytest.mark.parametrize("record", [
    {"ev": "poll", "t": 1.0, "cmd": "readings", "ok": True, "data": 5},
    {"ev": "poll", "t": 1.0, "cmd": "routes", "ok": True, "data": [{"id": [1], "next_hop": NODE}]},
    {"ev": "poll", "t": 1.0, "cmd": "status", "ok": True, "data": {"uptime_s": float("nan")}},
    {"ev": "reply", "t": 1.0, "cmd": "ping", "ok": False, "error": {"nested": 1}},
    {"ev": "reply", "t": 1.0, "cmd": "status", "ok": True, "args": {"node": [1]}, "data": {}},
    {"ev": "reading", "t": float("inf"), "id": NODE, "values": []},
    {"ev": "link", "t": 1.0, "state": None},
])
def test_wrongly_typed_monitor_records_are_refused(record):
    state = MeshState()
    assert state.apply(record) is False
    assert state.garbage == 1 and state.nodes == {}
    state.node_rows(5.0)


class _LinePort(ScriptedPort):
    """A board that prints `first`, answers nothing, and fails once when asked to."""

    def __init__(self, first, fail_once=False):
        super().__init__(lambda cmd: [], first)
        self.fail_once = fail_once

    def read(self, n=1):
        if self.fail_once:
            self.fail_once = False
            raise RuntimeError("a bug in the reader")
        return super().read(n)


def _records_until(link, where, timeout=5.0):
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            seen.append(link.records.get(timeout=0.05))
        except queue.Empty:
            continue
        if where(seen[-1]):
            return seen
    raise AssertionError("no such record; saw %r" % seen)


def test_the_monitor_reader_survives_the_nesting_line_and_a_list_reply_id():
    ports = [_LinePort([DEEP[:4000], REPLY_LIST_RE_1, line(GOOD_READING)])]
    link = MonitorLink("scripted", poll_s=60, opener=lambda *a, **k: ports[0])
    link.connect_once()
    link.start()
    try:
        seen = _records_until(link, lambda r: r.get("ev") == "reading")
    finally:
        link.stop()
    garbage = [r for r in seen if r["ev"] == "garbage"]
    assert len(garbage) == 2 and link.reader_failures == 0


def test_a_failing_reader_is_reported_and_restarted():
    ports = [_LinePort([], fail_once=True), _LinePort([line(GOOD_READING)])]
    opened = []

    def opener(*a, **k):
        opened.append(ports[len(opened)])
        return opened[-1]
    link = MonitorLink("scripted", poll_s=60, retry_s=0.05, opener=opener)
    link.connect_once()
    link.start()
    try:
        seen = _records_until(link, lambda r: r.get("ev") == "reading")
    finally:
        link.stop()
    error = [r for r in seen if r["ev"] == "link" and r["state"] == "error"]
    assert len(error) == 1 and "RuntimeError: a bug in the reader" in error[0]["detail"]
    assert link.reader_failures == 1 and len(opened) == 2 and ports[0].closed


def test_the_session_logs_refused_records_as_garbage():
    class Link:
        records = queue.Queue()

        def remember_remote(self, ids):
            pass
    link, printed = Link(), []
    link.records.put({"ev": "reading", "t": 1.0, "id": [1], "values": []})
    link.records.put(dict(GOOD_READING, t=2.0))
    session = MonitorSession(link, on_record=printed.append)
    assert session.drain() == 2
    assert [r["ev"] for r in printed] == ["garbage", "reading"] and "id" in printed[0]["error"]
    assert session.model.garbage == 1


HELLO = {"proto": 1, "id": NODE, "name": "a", "fw": "0.1.0"}


@pytest.mark.parametrize("data", [
    [{"id": NODE, "next_hop": 5}],                 # routes: a next hop that is not a node id
    {"rows": "many"},                              # not a list at all
    [{"id": NODE, "next_hop": NODE, "hops": "far"}],
])
def test_query_turns_a_malformed_answer_into_a_failed_outcome(data):
    def answer(cmd):
        if cmd["cmd"] == "hello":
            return [reply(cmd, ok=True, data=HELLO)]
        return [REPLY_LIST_RE_1, DEEP[:3000], reply(cmd, ok=True, data=data)]
    port = ScriptedPort(answer)
    with MeshSession("scripted", client=ConsoleClient("scripted", port=port), hello_timeout_s=0.4) as session:
        outcome = session.run_many([("routes", {"dst": NODE}, None)])[0]
        assert not outcome.ok and outcome.error.startswith("malformed answer")
        assert session.garbage_total == 3 and "not sound" in session.garbage_note()


def test_query_hello_with_a_wrongly_typed_id_is_refused():
    port = ScriptedPort(lambda cmd: [reply(cmd, ok=True, data={"proto": 1, "id": [1]})])
    from nowmesh.query.session import FirmwareError
    with pytest.raises(FirmwareError, match="malformed answer"):
        with MeshSession("scripted", client=ConsoleClient("scripted", port=port), hello_timeout_s=0.4):
            pass


def test_console_client_command_refuses_a_malformed_answer():
    port = ScriptedPort(lambda cmd: [REPLY_LIST_RE_1, reply(cmd, ok=True, data=[1, 2])])
    with pytest.raises(ConsoleError, match="malformed answer to status"):
        ConsoleClient("scripted", port=port).command("status", timeout=1.0)
    port = ScriptedPort(lambda cmd: [reply(cmd, ok=False, error=["not", "text"])])
    with pytest.raises(ConsoleError, match="malformed answer"):
        ConsoleClient("scripted", port=port).command("config_get", timeout=1.0)


def test_console_client_bounds_a_line_without_an_end():
    port = ScriptedPort(lambda cmd: [], first=["x" * 100000])
    port.out = port.out[:-1]                     # no newline ever comes
    lines = list(ConsoleClient("scripted", port=port).lines(0.5))
    assert lines and all(len(parsed.text) <= 210 for parsed in lines)


def test_port_probe_takes_a_malformed_hello_answer_as_no_answer():
    for data in ([1, 2], {"id": 5}):
        client = ConsoleClient("scripted", port=ScriptedPort(lambda cmd: []))
        listener = _Listener(client)
        client.request("hello", request_id=PROBE_ID)
        listener.events = client.connection.receive(
            (line({"re": PROBE_ID, "ok": True, "data": data}) + "\n").encode())
        assert _verdict(listener)["answers"] == "silent"


class _Repl:
    """What deploy's fast path reads: the board answers the four commands."""

    def __init__(self, answers):
        self.answers = answers
        self.lines = []

    def discard_input(self):
        pass

    def write(self, data):
        import json
        for text in data.decode().splitlines():
            cmd = json.loads(text[len(PREFIX):])
            self.lines.append(reply(cmd, ok=True, data=self.answers[cmd["cmd"]]).encode() + b"\n")

    # read as a port by the console connection (deploy reads through its RawRepl)
    url = "scripted"

    @property
    def in_waiting(self):
        return len(self.lines[0]) if self.lines else 0

    def read(self, n):
        return self.lines.pop(0) if self.lines else b""

    def flush(self):
        pass


def test_deploy_fast_path_falls_back_on_a_malformed_answer():
    answers = {"hello": HELLO, "status": {"name": "a"}, "config_get": {},
               "files_digest": {"digest": "00", "files": 3, "mpy": "six"}}
    assert fastpath.ask(_Repl(answers), ["main.py"]) is None
    answers["files_digest"]["mpy"] = 6
    assert fastpath.ask(_Repl(answers), ["main.py"])["files"]["mpy"] == 6


def test_the_dashboard_shows_markup_in_a_node_name_as_text():
    from textual.widgets import DataTable
    from nowmesh.monitor.app import MonitorApp

    class Link:
        records = queue.Queue()

        def remember_remote(self, ids):
            pass

        def start(self):
            pass

        def stop(self):
            pass
    link = Link()
    link.records.put({"ev": "hello", "t": 1.0, "id": NODE, "name": "[/]", "proto": 1, "fw": "[bold"})
    link.records.put(dict(GOOD_READING, t=1.0, name="[/]", values=[["[/]", 1.0, "[red]"]]))
    app = MonitorApp(MonitorSession(link), clock=lambda: 5.0, refresh_s=0.05)
    shown = {}

    async def go():
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.pause(0.2)
            table = app.query_one("#nodes", DataTable)
            shown["name"] = str(table.get_row_at(0)[0])
    asyncio.run(go())
    assert shown["name"] == "\\[/] *"              # escaped: rendered as the literal "[/] *"


@pytest.mark.parametrize("printed", [b"", b"hello from boot.py\n", b'{"mpy": "six"}\n',
                                     b"[" * 5000 + b"\n", b'{"mpy": 6, "z": 0, "files": [], "dirs": [],'
                                     b' "version": [1, 24, 0], "config": null}\n'])
def test_deploy_probe_refuses_an_answer_it_does_not_understand(printed):
    from nowmesh.deploy import device
    from nowmesh.deploy.rawrepl import DeviceError

    class Repl:
        url = "scripted"

        def exec(self, program):
            return printed
    with pytest.raises(DeviceError, match="not understood"):
        device.probe(Repl(), ["main.py"], ["mesh"])


def test_a_monitor_record_with_a_wrongly_typed_id_is_refused_before_the_log():
    """Found by make fuzz (seed 2097276449): {"ev": "garbage", "id": []} reached
    the SQLite log, which files records by their id."""
    assert MeshState().apply({"ev": "garbage", "t": 0.0, "id": []}) is False
    assert MeshState().apply({"ev": "link", "t": 0.0, "state": "connected", "id": [1]}) is False
