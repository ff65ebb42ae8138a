"""The sans-I/O console connection: framing, ids, pages, deadlines, prompts."""
import json

from nowmesh.console.connection import (MAX_LINE, Connection, Crash, NoAnswer, Output, Prompt, Reply,
                                        Unmatched)
from nowmesh.console.protocol import PREFIX


def _sent(conn):
    return [json.loads(line[len(PREFIX):]) for line in conn.data_to_send().decode().splitlines()]


def _reply(obj):
    return (PREFIX + json.dumps(obj) + "\n").encode()


def test_a_line_split_across_reads_is_one_event_and_crlf_is_ignored():
    conn = Connection()
    line = b'@nm1 {"ev": "crash", "error": "MemoryError()"}\r\n'
    assert conn.receive(line[:7]) == [] and conn.receive(line[7:30]) == []
    events = conn.receive(line[30:] + b"plain")
    assert len(events) == 1 and isinstance(events[0], Crash) and events[0].error == "MemoryError()"
    assert conn.unfinished == "plain"


def test_garbage_without_a_line_end_is_cut_so_memory_stays_bounded():
    conn = Connection()
    events = conn.receive(b"\xff" * (3 * MAX_LINE + 5))
    assert len(events) == 3 and all(isinstance(e, Output) and len(e.text) <= 210 for e in events)
    assert len(conn.unfinished) == 5


def test_ids_count_from_first_id_and_commands_queue_in_order():
    conn = Connection(first_id=41)
    a = conn.request("status", now=0.0)
    b = conn.request("ping", {"node": "n3"}, now=0.0)
    assert (a.id, b.id) == (41, 42)
    assert _sent(conn) == [{"id": 41, "cmd": "status"}, {"id": 42, "cmd": "ping", "args": {"node": "n3"}}]


def test_a_late_reply_to_an_earlier_session_is_not_taken_for_ours():
    conn = Connection(first_id=500)
    conn.request("status", now=0.0)
    events = conn.receive(_reply({"re": 7, "ok": True, "data": {}}), now=0.1)
    assert [type(e) for e in events] == [Unmatched] and 500 in conn.pending


def test_local_and_mesh_requests_get_their_own_deadlines_and_expire_as_no_answer():
    conn = Connection(local_timeout_s=3.0, remote_timeout_s=12.0)
    local = conn.request("status", now=10.0)
    remote = conn.request("status", node="aa:bb:cc:dd:ee:ff", now=10.0)
    ping = conn.request("ping", {"node": "n2"}, now=10.0)          # answered by another node
    assert (local.deadline, remote.deadline, ping.deadline) == (13.0, 22.0, 22.0)
    assert conn.next_deadline() == 13.0
    assert conn.expire(12.9) == []
    late = conn.expire(13.0)
    assert len(late) == 1 and isinstance(late[0], NoAnswer) and late[0].request is local
    assert late[0].error == "no answer" and not late[0].ok
    assert conn.next_deadline() == 22.0
    # an answer after the deadline answers nobody
    assert isinstance(conn.receive(_reply({"re": local.id, "ok": True}), now=14.0)[0], Unmatched)


def test_a_paged_request_asks_for_the_next_page_while_pages_come_back_full():
    conn = Connection()
    first = conn.request("readings", now=0.0, page=2)
    assert _sent(conn) == [{"id": first.id, "cmd": "readings", "args": {"offset": 0, "limit": 2}}]
    a, b, c = ({"id": "02:00:00:00:00:0%d" % i, "values": []} for i in range(3))
    page1 = conn.receive(_reply({"re": first.id, "ok": True, "data": [a, b]}), now=0.2)[0]
    assert page1.more and page1.data == [a, b]
    follow = _sent(conn)
    assert follow[0]["args"] == {"offset": 2, "limit": 2}
    last = conn.receive(_reply({"re": follow[0]["id"], "ok": True, "data": [c]}), now=0.4)[0]
    assert isinstance(last, Reply) and not last.more and last.request.origin is first
    assert last.rows == [a, b, c] and conn.pending == {} and conn.data_to_send() == b""


def test_a_malformed_answer_fails_its_request_with_the_reason():
    conn = Connection()
    request = conn.request("files_digest", now=0.0)
    reply = conn.receive(_reply({"re": request.id, "ok": True, "data": {"digest": "00", "files": 3,
                                                                         "mpy": "six"}}), now=0.1)[0]
    assert isinstance(reply, Reply) and reply.request is request and not reply.ok
    assert "mpy" in reply.malformed and reply.error.startswith("malformed answer (")


def test_a_protocol_line_that_is_not_sound_is_garbage_with_a_reason():
    events = Connection().receive(b'@nm1 {"re": [1], "ok": true}\n@nm1 [[[[\n')
    assert [type(e).__name__ for e in events] == ["Garbage", "Garbage"] and all(e.error for e in events)


def test_abandon_fails_every_pending_request_with_the_reason():
    conn = Connection()
    requests = [conn.request("status", now=0.0), conn.request("routes", now=0.0)]
    failed = conn.abandon("restarted", now=1.0)
    assert [f.request for f in failed] == requests and {f.error for f in failed} == {"restarted"}
    assert conn.pending == {}


def test_a_repl_prompt_is_seen_once_on_the_unfinished_line():
    conn = Connection()
    assert [type(e) for e in conn.receive(b"\r\n>>> ")] == [Output, Prompt]
    assert conn.receive(b"") == []                 # still the same prompt
    conn.discard()
    assert conn.unfinished == "" and [type(e) for e in conn.receive(b">>>")] == [Prompt]


def test_output_knows_a_repl_and_an_echoed_command():
    conn = Connection()
    events = conn.receive(b'Type "help()" for more information.\n' + _reply({"id": 1, "cmd": "status"})
                          .replace(b"@nm1 ", b">>> @nm1 ") + b"user print\n")
    assert [e.from_repl for e in events] == [True, True, False]
    assert [e.echoed_command for e in events] == [False, True, False]


def test_raw_bytes_keep_their_place_among_commands():
    conn = Connection(first_id=1)
    conn.send_raw(b"\r\n")
    conn.request("hello", now=0.0)
    conn.send_raw(b"\x04")
    assert conn.data_to_send() == b'\r\n@nm1 {"id":1,"cmd":"hello"}\n\x04'
