"""The monitor's mesh model, fed a stream recorded from an emulated 4-node line
(tests/monitor/monitor_data/line4.jsonl, from `nowmesh monitor PORT --json` on n1) and
hand-made records for the cases a recording rarely has."""
import json
import os

from nowmesh.monitor.model import RECENT_EVENTS, MeshState

RECORDING = os.path.join(os.path.dirname(__file__), "monitor_data", "line4.jsonl")
MAC = "02:4e:4d:00:00:0%d"


def recorded():
    with open(RECORDING, encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def replayed():
    state = MeshState()
    records = recorded()
    for record in records:
        state.apply(record)
    return state, records[-1]["t"]


def test_a_recorded_stream_fills_every_node_with_hops_rssi_and_uptime():
    state, end = replayed()
    rows = state.node_rows(end + 10)
    assert [r["name"] for r in rows] == ["n1", "n2", "n3", "n4"]
    assert [r["hops"] for r in rows] == [0, 1, 2, 3]      # n1 is connected; routes give the others
    assert rows[0]["local"] and not any(r["local"] for r in rows[1:])
    assert rows[1]["rssi"] == -95 and rows[0]["rssi"] is None
    assert all(r["last_heard_s"] is not None and 10 <= r["last_heard_s"] <= 14 for r in rows)
    # Uptime from the readings' "uptime" value, counted on since it was heard.
    last_n4 = [r for r in recorded() if r.get("ev") == "reading" and r["id"] == MAC % 4][-1]
    uptime = dict((v[0], v[1]) for v in last_n4["values"])["uptime"]
    assert rows[3]["uptime_s"] == int(uptime + (end + 10 - last_n4["t"]))
    assert rows[0]["heap_free"] == 96896                   # the local node's stats (after collection)
    assert rows[1]["heap_free"] is not None                # a remote status poll
    assert state.local["fw"] == "0.1.0"


def test_readings_have_units_and_ages_per_node():
    state, end = replayed()
    rows = state.reading_rows(end + 5)
    nodes = {r[0] for r in rows}
    assert nodes == {"n1", "n2", "n3", "n4"}
    temp = [r for r in rows if r[0] == "n3" and r[1] == "temp"]
    assert len(temp) == 1 and temp[0][3] == "C" and isinstance(temp[0][2], float)
    assert all(r[4] is not None and 5 <= r[4] <= 9 for r in rows)


def test_an_older_copy_of_a_reading_does_not_replace_a_newer_one():
    state = MeshState()
    state.apply({"ev": "reading", "t": 100.0, "id": MAC % 2, "name": "n2", "seq": 9, "values": [["temp", 21.0, "C"]]})
    state.apply({"ev": "poll", "t": 101.0, "cmd": "readings", "node": None, "ok": True,
                 "data": [{"id": MAC % 2, "name": "n2", "seq": 8, "age_s": 30, "values": [["temp", 19.0, "C"]]}]})
    assert state.reading_rows(101.0) == [("n2", "temp", 21.0, "C", 1)]


def test_a_reset_a_neighbour_loss_and_link_states_become_events():
    state, end = replayed()
    state.apply({"ev": "link", "t": end + 1, "state": "disconnected", "port": "/dev/x", "detail": "the port went away"})
    assert state.link["state"] == "disconnected"
    state.apply({"ev": "link", "t": end + 2, "state": "connected", "port": "/dev/x", "detail": None})
    state.apply({"ev": "hello", "t": end + 3, "proto": 1, "fw": "0.1.0", "name": "n1", "id": MAC % 1,
                 "board": "esp32-devkitc"})
    state.apply({"ev": "neighbour", "t": end + 4, "id": MAC % 2, "state": "down"})
    texts = [text for _t, text in state.events]
    assert texts[-4:] == ["link disconnected: the port went away", "link connected", "n1 restarted (nowmesh 0.1.0)",
                          "neighbour n2 down"]
    local = state.node_rows(end + 5)[0]
    assert local["name"] == "n1" and local["uptime_s"] == 2      # counted from the new hello


def test_replies_update_the_node_and_failures_are_shown():
    state, _end = replayed()
    state.apply({"ev": "reply", "t": 1.0, "cmd": "ping", "node": None, "args": {"node": MAC % 4}, "ok": True,
                 "data": {"node": MAC % 4, "rtt_ms": 38, "hops": 3}})
    state.apply({"ev": "reply", "t": 2.0, "cmd": "status", "node": MAC % 3, "ok": False, "error": "timeout"})
    texts = [text for _t, text in state.events]
    assert texts[-2:] == ["ping n4: 38 ms, 3 hops", "status n3 failed: timeout"]
    state.apply({"ev": "reply", "t": 3.0, "cmd": "ping", "node": None, "args": {"node": MAC % 4}, "ok": True,
                 "data": {"node": MAC % 4, "rtt_ms": 50, "hops": 4}})
    assert state.nodes[MAC % 4]["hops"] == 4          # a ping's answer says how far the node is now


def test_garbage_and_unknown_records_never_raise_and_events_stay_bounded():
    state = MeshState()
    for i in range(RECENT_EVENTS + 50):
        state.apply({"ev": "output", "t": float(i), "text": "\ufffd\x00garbage %d" % i})
    bad = ({"ev": "reading", "t": 1.0}, {"ev": "reading", "t": 1.0, "id": "x", "values": [1, [2], None]},
           {"ev": "poll", "t": 1.0, "cmd": "readings", "ok": True, "data": [None, 3, {"id": None}]},
           {"ev": "poll", "t": 1.0, "cmd": "neighbours", "ok": True, "data": "nonsense"},
           {"ev": "poll", "t": 1.0, "cmd": "routes", "ok": True, "data": [{"id": "y", "hops": "far"}]},
           {"t": 2.0}, {"ev": "reading", "id": "z", "values": []}, {"ev": "link", "t": "soon"},
           ["not", "a", "dict"])
    for record in bad:
        assert state.apply(record) is False
    assert state.garbage == len(bad)
    assert state.nodes == {} and state.readings == {}
    assert state.apply({"ev": "stats", "t": 1.0, "uptime_s": 5})
    assert state.apply({"ev": "brand_new_event", "t": 1.0, "x": 1})     # unknown kinds pass (docs)
    assert len(state.events) == RECENT_EVENTS
    assert state.events_total > RECENT_EVENTS
    assert state.events[-1] == (1.0, "brand_new_event x=1")
