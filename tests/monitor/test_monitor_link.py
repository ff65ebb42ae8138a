"""The monitor's link on a real pty (the serial seam): the test plays the board
on the pty's master side, writing what a board prints (garbage included) and
reading what the monitor sends. Unplugging closes the pty; plugging back
re-points a stable symlink, as udev's /dev/serial/by-id/ links do."""
import contextlib
import json
import os
import queue
import select
import time

import pytest

from nowmesh.console.client import open_port
from nowmesh.console.protocol import PREFIX
from nowmesh.monitor.link import MAX_LINE, MonitorLink


class PtyBoard:
    """The board end of a pty, reachable through the stable path `link`."""

    def __init__(self, link):
        self.master, self.slave = os.openpty()
        self.link = link
        if os.path.lexists(link):
            os.remove(link)
        os.symlink(os.ttyname(self.slave), link)
        self.sent = b""

    def write(self, data):
        os.write(self.master, data)

    def commands(self, timeout=5.0, want=1):
        """Command objects the host wrote, waiting until `want` arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [json.loads(line[len(PREFIX):]) for line in self.sent.decode().splitlines()
                     if line.startswith(PREFIX)]
            if len(found) >= want:
                return found
            ready, _, _ = select.select([self.master], [], [], 0.1)
            if ready:
                self.sent += os.read(self.master, 4096)
        raise AssertionError("the host sent %r" % self.sent)

    def reply(self, command, data):
        self.write((PREFIX + json.dumps({"re": command["id"], "ok": True, "data": data}) + "\r\n").encode())

    def unplug(self):
        # udev removes the by-id link with the device (a dangling link could
        # point at a pty number some other program gets next).
        os.remove(self.link)
        os.close(self.master)
        os.close(self.slave)


def next_record(link, where, timeout=5.0):
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            record = link.records.get(timeout=0.1)
        except queue.Empty:
            continue
        seen.append(record)
        if where(record):
            return record, seen
    raise AssertionError("no such record; saw %r" % seen)


@contextlib.contextmanager
def linked_board(tmp_path, poll_s):
    """A pty board and a started MonitorLink on it (stopped afterwards)."""
    path = str(tmp_path / "ttyUSB-by-id")
    board = PtyBoard(path)
    attempts = []                    # every open of the port the link tries

    def opener(*args, **kwargs):
        attempts.append(args[0])
        return open_port(*args, **kwargs)
    link = MonitorLink(path, poll_s=poll_s, retry_s=0.1, remote_status=False, opener=opener)
    link.open_attempts = attempts
    link.connect_once()
    link.start()
    try:
        yield board, link
    finally:
        link.stop()


@pytest.fixture
def board_and_link(tmp_path):
    with linked_board(tmp_path, poll_s=60) as pair:
        yield pair


HELLO = {"ev": "hello", "proto": 1, "fw": "0.1.0", "name": "kitchen", "id": "24:0a:c4:12:34:56", "board": "esp32-devkitc"}


def test_polls_go_out_and_replies_come_back_matched_by_id(board_and_link):
    board, link = board_and_link
    sent = board.commands(want=5)
    assert [c["cmd"] for c in sent] == ["hello", "readings", "neighbours", "routes", "status"]
    assert len({c["id"] for c in sent}) == 5
    board.write((PREFIX + json.dumps({"ev": "stats", "uptime_s": 3}) + "\n").encode())
    board.reply(sent[4], {"name": "kitchen", "uptime_s": 4})
    board.reply(sent[0], HELLO)
    status, seen = next_record(link, lambda r: r.get("cmd") == "status")
    assert status["ev"] == "poll" and status["data"]["uptime_s"] == 4 and status["ok"]
    assert [r["ev"] for r in seen] == ["link", "stats", "poll"]    # events flow while replies are awaited
    hello, _ = next_record(link, lambda r: r.get("cmd") == "hello")
    assert hello["data"]["name"] == "kitchen"
    link.request("ping", {"node": "24:0a:c4:aa:bb:cc"})
    ping = [c for c in board.commands(want=6) if c["cmd"] == "ping"][0]
    assert ping["args"] == {"node": "24:0a:c4:aa:bb:cc"}
    board.write((PREFIX + json.dumps({"re": ping["id"], "ok": False, "error": "timeout"}) + "\n").encode())
    reply, _ = next_record(link, lambda r: r.get("ev") == "reply")
    assert reply["cmd"] == "ping" and reply["ok"] is False and reply["error"] == "timeout"


def test_list_polls_go_a_page_at_a_time_until_a_short_page(board_and_link):
    from nowmesh.monitor.link import PAGE_ROWS
    board, link = board_and_link
    sent = board.commands(want=5)
    readings = sent[1]
    assert readings["args"] == {"offset": 0, "limit": PAGE_ROWS}
    page = [{"id": "24:0a:c4:00:00:%02x" % i, "seq": 1, "values": []} for i in range(PAGE_ROWS)]
    board.reply(readings, page)                                  # a full page: there may be more
    follow = board.commands(want=6)[5]
    assert follow["cmd"] == "readings" and follow["args"] == {"offset": PAGE_ROWS, "limit": PAGE_ROWS}
    board.reply(follow, page[:3])                                # a short page is the last
    next_record(link, lambda r: r.get("cmd") == "readings" and r.get("args", {}).get("offset") == PAGE_ROWS)
    board.reply(sent[3], [])                                     # routes: empty, nothing follows
    next_record(link, lambda r: r.get("cmd") == "routes")
    with pytest.raises(AssertionError):                          # no seventh command follows
        board.commands(timeout=0.5, want=7)


def test_garbage_on_the_line_is_shown_and_the_stream_goes_on(board_and_link):
    board, link = board_and_link
    board.write(bytes(range(256)))                                 # binary noise, no line end
    board.write(b"\xff\xfe" + b"x" * (3 * MAX_LINE))               # a runaway line
    board.write(b"\n@nm1 {bad json\n@nm1 [1, 2]\n\x00\x00\r\n@nm7 {\"ev\": \"hello\"}\n")
    board.write((PREFIX + json.dumps({"ev": "reading", "id": "24:0a:c4:aa:bb:cc", "seq": 3,
                                      "values": [["temp", 21.5, "C"]]}) + "\n").encode())
    reading, seen = next_record(link, lambda r: r.get("ev") == "reading")
    assert reading["values"] == [["temp", 21.5, "C"]]
    outputs = [r for r in seen if r["ev"] == "output"]
    assert len(outputs) >= 2 and all(len(r["text"]) <= MAX_LINE for r in outputs)
    garbage = [(r["text"], r["error"]) for r in seen if r["ev"] == "garbage"]
    assert garbage == [("@nm1 {bad json", "not JSON"), ("@nm1 [1, 2]", "not a JSON object")]
    links = [r for r in seen if r["ev"] == "link"]
    assert [r["state"] for r in links] == ["connected", "mismatch"]     # @nm7: another protocol version
    assert "protocol 7" in links[1]["detail"]


def test_unplug_and_plug_back_reconnects(board_and_link):
    board, link = board_and_link
    link.request("ping", {"node": "24:0a:c4:aa:bb:cc"})
    assert board.commands(want=6)[-1]["cmd"] == "ping"        # sent, never answered
    board.unplug()
    lost, seen = next_record(link, lambda r: r.get("ev") == "link" and r["state"] == "disconnected")
    assert "went away" in lost["detail"]
    failed, _ = next_record(link, lambda r: r.get("ev") == "reply")
    assert (failed["cmd"], failed["ok"], failed["error"]) == ("ping", False, "the link was lost")
    waiting, _ = next_record(link, lambda r: r.get("ev") == "link" and r["state"] == "reconnecting")
    assert "no such port" in waiting["detail"]
    # three more tries to reopen the port (the positive signal), and over
    # that window no further link record: one record per change, not per try
    tries = len(link.open_attempts)
    deadline = time.monotonic() + 30
    while len(link.open_attempts) < tries + 3:
        assert time.monotonic() < deadline, "the link stopped trying to reopen the port"
        time.sleep(0.02)
    assert [r for r in _drain(link) if r.get("ev") == "link"] == []
    board = PtyBoard(board.link)     # plugged back: a new tty behind the same by-id path
    back, _ = next_record(link, lambda r: r.get("ev") == "link" and r["state"] == "connected")
    assert back["port"] == board.link
    hello = board.commands()[0]
    assert hello["cmd"] == "hello"   # it asks who is there again
    board.reply(hello, HELLO)
    next_record(link, lambda r: r.get("cmd") == "hello" and r["ok"])
    board.unplug()


def _drain(link):
    out = []
    while True:
        try:
            out.append(link.records.get_nowait())
        except queue.Empty:
            return out


def test_a_node_that_stops_speaking_the_protocol_shows_as_silent(tmp_path):
    board = PtyBoard(str(tmp_path / "ttyACM0"))
    link = MonitorLink(board.link, poll_s=60, remote_status=False, silent_after_s=0.5)
    link.connect_once()
    link.start()
    try:
        board.write(b">>> \r\n")          # a REPL prompt is text, not the protocol
        silent, _ = next_record(link, lambda r: r.get("ev") == "link" and r["state"] == "silent")
        assert "REPL" in silent["detail"]
        board.write((PREFIX + json.dumps({"ev": "stats", "uptime_s": 1}) + "\n").encode())
        back, _ = next_record(link, lambda r: r.get("ev") == "link" and r["state"] == "connected")
        assert back["detail"] == "the node answers again"
    finally:
        link.stop()
        board.unplug()


def test_monitor_command_errors_are_one_line(tmp_path, capsys):
    from nowmesh import cli
    log = tmp_path / "new.sqlite"
    assert cli.main(["monitor", "/dev/does-not-exist", "--json", "--log", str(log)]) == 1
    assert "no such port" in capsys.readouterr().err
    assert not log.exists()                       # nothing created for a run that never started
    board = PtyBoard(str(tmp_path / "ttyUSB0"))
    try:
        assert cli.main(["monitor", board.link]) == 1  # stdout is not a terminal here
        assert "needs a terminal; use --json" in capsys.readouterr().err
        assert cli.main(["monitor", board.link, "--json", "--log", str(tmp_path)]) == 2
        assert "is a folder" in capsys.readouterr().err
        for bad in (["--seconds", "0"], ["--poll", "0.1"]):
            with pytest.raises(SystemExit) as exit_info:
                cli.main(["monitor", board.link, "--json"] + bad)
            assert exit_info.value.code == 2
    finally:
        board.unplug()


def test_hello_asked_again_each_poll_until_answered(tmp_path):
    # A board still resetting when the monitor connects drops what it is sent.
    with linked_board(tmp_path, poll_s=0.3) as (board, link):
        sent = board.commands(want=10)                  # two poll rounds, nothing answered
        assert [c["cmd"] for c in sent[:10]] == ["hello", "readings", "neighbours", "routes", "status"] * 2
        board.reply(sent[5], HELLO)                     # the second hello is answered
        next_record(link, lambda r: r.get("cmd") == "hello" and r.get("ok"))
        later = board.commands(want=20)[10:]
        assert "hello" not in [c["cmd"] for c in later[5:]], later
