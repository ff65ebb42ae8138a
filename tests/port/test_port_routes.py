# The console's `routes` command on the ESP32 port (under micropython, with
# the board fakes of portfakes): entries, the `dst` lookup, remote use, and
# a request flood that must be refused, not crash the board.
import json

from test_port import _make_app, _messages, _run


def _replies(app):
    return {m.get("re"): m for m in _messages(app) if "re" in m}


def _pair(a_index, b_index):
    a, b = _make_app(a_index), _make_app(b_index)
    for _ in range(3):        # by the third round links have proven themselves (a young
                              # link needs a few frames each way), routes form
        a.next_publish = b.next_publish = 0
        _run([a, b], 8)
    return a, b


def test_routes_lists_the_neighbour_with_link_quality():
    a, b = _pair(71, 72)
    a.inp.type('@nm1 {"id": 1, "cmd": "routes"}\n')
    a.inp.type('@nm1 {"id": 2, "cmd": "routes", "args": {"dst": "02:00:00:00:00:48"}}\n')
    a.inp.type('@nm1 {"id": 3, "cmd": "routes", "args": {"dst": "nobody"}}\n')
    _run([a, b], 2)
    got = _replies(a)
    entries = got[1]["data"]
    assert [e["id"] for e in entries] == ["02:00:00:00:00:48"]
    e = entries[0]
    assert e["next_hop"] == "02:00:00:00:00:48" and e["hops"] == 1 and e["name"] in (None, "node72")
    assert 8 <= e["metric"] < 255 and e["cost"] is not None and e["rssi"] is not None
    assert got[2]["data"] == entries
    assert got[3]["ok"] is False and "unknown node" in got[3]["error"]


def test_routes_runs_on_a_remote_node():
    a, b = _pair(73, 74)
    a.inp.type('@nm1 {"id": 4, "cmd": "routes", "node": "02:00:00:00:00:4a"}\n')
    _run([a, b], 10)
    reply = _replies(a)[4]
    assert reply["ok"] and reply["node"] == "02:00:00:00:00:4a"
    assert [e["id"] for e in reply["data"]] == ["02:00:00:00:00:49"]


def test_too_many_requests_in_flight_is_an_error_reply():
    a = _make_app(75)
    # Nobody answers 02:..:63, so every ping stays in flight.
    for i in range(20):
        a.inp.type('@nm1 %s\n' % json.dumps({"id": 100 + i, "cmd": "ping",
                                             "args": {"node": "02:00:00:00:00:63"}}))
    _run([a], 3)
    refused = [m for m in _replies(a).values() if m.get("ok") is False]
    assert refused and "in flight" in refused[0]["error"]


def test_remote_reboot_answers_then_resets_the_target_after_the_retries():
    import portfakes
    from test_port_admin import _ask, _pair as _admin_pair, _token
    a, b = _admin_pair(76, 77)
    _ask(a, 8, "reboot", "02:00:00:00:00:4d", _token(b, {"cmd": "reboot", "args": {}}))
    for _ in range(10):
        a.step()
        b.step()                              # answers, and does not reset yet
    reply = _replies(a)[8]
    assert reply["ok"] and reply["data"] == {"rebooting": True}
    retries_over = 3 * b.node.config.e2e_timeout_ms
    assert b.reboot_at is not None and b.reboot_at - b.clock.now() >= retries_over
    real_now = b.clock.now
    b.clock.now = lambda: real_now() + retries_over + 1000
    reset = False
    try:
        b.step()
    except portfakes.Reset:
        reset = True
    assert reset                              # once a retried request can no longer come


def test_nodes_pages_compact_rows():
    a, b = _pair(78, 79)
    c = _make_app(80)
    c.next_publish = 0
    _run([a, b, c], 10)
    a.inp.type('@nm1 {"id": 9, "cmd": "nodes"}\n')
    a.inp.type('@nm1 {"id": 10, "cmd": "nodes", "args": {"offset": 1, "limit": 1}}\n')
    a.inp.type('@nm1 {"id": 11, "cmd": "nodes", "args": {"limit": 0}}\n')
    _run([a], 2)
    got = _replies(a)
    whole = got[9]["data"]
    assert whole["total"] == 3 and len(whole["rows"]) == 3
    rows = [dict(zip(whole["fields"], row)) for row in whole["rows"]]
    assert [r["id"] for r in rows] == ["02:00:00:00:00:4e", "02:00:00:00:00:4f", "02:00:00:00:00:50"]
    me = rows[0]
    assert me["hops"] == 0 and me["age_s"] == 0 and me["name"] == "node78" and me["uptime_s"] is not None
    assert rows[1]["hops"] == 1 and rows[1]["seq"] >= 1 and rows[1]["next_hop"] == "02:00:00:00:00:4f"
    assert got[10]["data"]["rows"] == [whole["rows"][1]]
    assert got[11]["ok"] is False and "limit" in got[11]["error"]
