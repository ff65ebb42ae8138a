"""`nowmesh bridge` between a live emulated mesh and a real broker, checked by
a real paho-mqtt subscriber as Home Assistant would see it."""
import json
import signal
import sqlite3
import subprocess
import time

import paho.mqtt.publish as publish
import pytest

from nowmesh.mqtt import schema
from nowmesh.mqtt.testbroker import BoardReadings, Cable, LocalBroker, Recorder, available

NODES = ("n1", "n2", "n3")


def _key(mesh, name):
    return schema.node_key(mesh.mac(name))


def _latest_json(recorder, topic):
    messages = recorder.on(topic)
    return json.loads(messages[-1][2]) if messages else None


def _seqs(messages, topic):
    return [json.loads(m[2])["seq"] for m in messages if m[1] == topic]


def test_the_mesh_appears_as_home_assistant_would_see_it(make_emulated_mesh, broker, recorder, start_bridge):
    board = BoardReadings()
    mesh = make_emulated_mesh("line", nodes=3, interval_s=3, taps={"n1": board})
    bridge = start_bridge(mesh.port("n1"), broker.url)
    for name in NODES:
        config_topic = "homeassistant/device/nowmesh_%s/config" % _key(mesh, name)
        # the first config may name the node by its MAC (a node two hops away says its
        # name in answer to the bridge's hello through the mesh): the config is sent again
        recorder.wait_for(lambda msgs, t=config_topic, n=name: any(
            m[1] == t and json.loads(m[2])["dev"]["name"] == n and "mdl" in json.loads(m[2])["dev"]
            for m in msgs), 60, "%s named, with its board" % config_topic)
        config = _latest_json(recorder, config_topic)
        assert config["dev"]["ids"] == [mesh.mac(name)]
        assert config["dev"]["sw"], config["dev"]
        assert config["o"]["name"] == "nowmesh"
        assert config["dev"]["via_device"].startswith("nowmesh_bridge_")
        classes = {c.get("device_class") for c in config["cmps"].values()}
        assert {"temperature", "humidity", "signal_strength", "timestamp", "duration", "data_size"} <= classes
        for comp in config["cmps"].values():
            if comp.get("device_class") in schema.ALLOWED_UNITS and "unit_of_measurement" in comp:
                assert comp["unit_of_measurement"] in schema.ALLOWED_UNITS[comp["device_class"]]
    assert _latest_json(recorder, "homeassistant/device/%s/config" % config["dev"]["via_device"])["cmps"]
    assert recorder.on("nowmesh/bridge/state")[-1][2] == b"online"

    # states match the mesh as it reached the bridge's board: every reading n1 printed
    # (tapped from its output) is on the broker with the same values
    deadline = time.monotonic() + 10
    printed = {}
    while time.monotonic() < deadline and {k[0] for k in printed} != {mesh.mac(n) for n in NODES}:
        time.sleep(0.5)
        printed = dict(board.values)
    assert {k[0] for k in printed} == {mesh.mac(n) for n in NODES}, printed
    for (mac, seq), values in printed.items():
        topic = "nowmesh/%s/state" % schema.node_key(mac)
        state = recorder.wait_for(
            lambda msgs, t=topic, s=seq: next((json.loads(m[2]) for m in msgs
                                              if m[1] == t and json.loads(m[2])["seq"] == s), None),
            20, "reading seq %s of %s" % (seq, mac))
        assert state["id"] == mac
        assert state["values"] == pytest.approx(values, rel=1e-6)
        assert state["name"] in (mesh.name_of(mac), None), state

    # availability is mesh-aware: n3 killed -> offline (3 intervals unheard), back -> online
    avail = "nowmesh/%s/availability" % _key(mesh, "n3")
    n3_state = "nowmesh/%s/state" % _key(mesh, "n3")
    recorder.wait_for(lambda msgs: len(_seqs(msgs, n3_state)) >= 4, 30, "four readings of n3 (its interval)")
    assert recorder.on(avail)[-1][2] == b"online"
    mesh.kill("n3")
    recorder.wait_for(lambda msgs: [m for m in msgs if m[1] == avail][-1][2] == b"offline", 40, "n3 offline")
    assert recorder.on("nowmesh/%s/availability" % _key(mesh, "n2"))[-1][2] == b"online"
    mesh.restart("n3")
    recorder.wait_for(lambda msgs: [m for m in msgs if m[1] == avail][-1][2] == b"online", 60, "n3 online again")

    assert bridge.stop() == 0
    assert recorder.on("nowmesh/bridge/state")[-1][2] == b"offline"


def _needs_inbound(broker):
    # amqtt 0.12 now and then delivers nothing more to the bridge's subscriptions while
    # another client subscribes to nowmesh/# (seen in these tests, not reduced to a
    # minimal case; the same tests pass on mosquitto): what the bridge receives is
    # tested on mosquitto.
    if broker.kind == "amqtt":
        pytest.skip("amqtt 0.12 drops deliveries to the bridge's subscriptions; tested on mosquitto")


def test_homeassistant_status_and_refused_commands(make_emulated_mesh, broker, recorder, start_bridge):
    _needs_inbound(broker)
    mesh = make_emulated_mesh("line", nodes=2, interval_s=3)
    bridge = start_bridge(mesh.port("n1"), broker.url)
    for name in ("n1", "n2"):
        topic = "homeassistant/device/nowmesh_%s/config" % _key(mesh, name)
        recorder.wait_for(lambda msgs, t=topic: any(m[1] == t for m in msgs), 60, topic)
    configs = len([m for m in recorder.messages if m[1].startswith("homeassistant/device/")])
    publish.single("homeassistant/status", "online", hostname="127.0.0.1", port=broker.port)
    recorder.wait_for(lambda msgs: len([m for m in msgs if m[1].startswith("homeassistant/device/")])
                      >= configs + 3, 15, "discovery sent again after homeassistant/status online")
    publish.single("nowmesh/%s/ping" % _key(mesh, "n2"), "", hostname="127.0.0.1", port=broker.port)
    response = recorder.wait_for(lambda msgs: [json.loads(m[2]) for m in msgs if m[1].endswith("/response")],
                                 15, "a response to ping")[0]
    assert response["ok"] is False and "--allow-commands" in response["error"]
    assert bridge.stop() == 0


def test_commands_when_allowed(make_emulated_mesh, broker, recorder, start_bridge):
    _needs_inbound(broker)
    mesh = make_emulated_mesh("line", nodes=2, interval_s=3)
    start_bridge(mesh.port("n1"), broker.url, "--allow-commands")
    key = _key(mesh, "n2")
    recorder.wait_for(lambda msgs: any(m[1] == "nowmesh/%s/state" % key for m in msgs), 60, "n2's state")
    responses = "nowmesh/%s/response" % key

    def answers(count):
        return lambda msgs: (lambda r: r if len(r) >= count else None)(
            [json.loads(m[2]) for m in msgs if m[1] == responses])

    publish.single("nowmesh/%s/ping" % key, "", hostname="127.0.0.1", port=broker.port)
    ping = recorder.wait_for(answers(1), 30, "ping's response")[0]
    assert ping["ok"], ping
    assert ping["cmd"] == "ping" and ping["data"]["node"] == mesh.mac("n2")
    publish.single("nowmesh/%s/set" % key, '{"interval_s": 1000000}', hostname="127.0.0.1", port=broker.port)
    refused = recorder.wait_for(answers(2), 15, "set's refusal")[1]
    assert not refused["ok"] and "interval_s" in refused["error"]
    publish.single("nowmesh/%s/set" % key, '{"stats_s": 20}', hostname="127.0.0.1", port=broker.port)
    done = recorder.wait_for(answers(3), 30, "set's response")[2]
    assert done["ok"], done
    assert done["field"] == "stats_s" and done["data"]["saved"]
    assert mesh.command("n2", "config_get", field="stats_s") == {"stats_s": 20}


def test_no_reading_lost_across_a_broker_restart(make_emulated_mesh, broker, start_bridge):
    """Every reading that reached the bridge's board (n1's console, tapped)
    before, during and after an outage (the broker restarted, the bridge's
    path to it cut meanwhile) is on the broker afterwards, counted by seq."""
    board = BoardReadings()
    mesh = make_emulated_mesh("line", nodes=3, interval_s=3, taps={"n1": board})
    cable = Cable(broker.port)
    watcher = Recorder(broker.port, topics=("nowmesh/+/state",))
    try:
        start_bridge(mesh.port("n1"), cable.url)
        topics = ["nowmesh/%s/state" % _key(mesh, n) for n in NODES]
        watcher.wait_for(lambda msgs: all(_seqs(msgs, t) for t in topics), 60, "a state of every node")
        counted_from = time.monotonic()      # the bridge is up: from now on every reading counts
        time.sleep(3)
        cable.unplug()                      # the bridge loses its broker ...
        subscribed = watcher.subscriptions
        broker.stop()                       # ... which restarts, forgetting everything
        broker.start()
        assert watcher.resubscribed(subscribed)
        time.sleep(9)                       # three readings of each node arrive meanwhile
        during = board.between(counted_from, time.monotonic())
        cable.plug()
        time.sleep(4)
        want = board.between(counted_from, time.monotonic())
        assert len(want) > len(during) >= 9
        watcher.wait_for(lambda msgs: want <= {(json.loads(m[2])["id"], json.loads(m[2])["seq"])
                                               for m in msgs if m[1] in topics},
                         60, "every reading the board printed")
    finally:
        watcher.close()
        cable.close()


def test_a_bridge_restart_loses_nothing_queued(make_emulated_mesh, broker, start_bridge, tmp_path):
    mesh = make_emulated_mesh("line", nodes=2, interval_s=3)
    cable = Cable(broker.port)
    queue = str(tmp_path / "queue.sqlite")
    try:
        cable.unplug()                      # no broker from the start: everything waits on disk
        first = start_bridge(mesh.port("n1"), cable.url, queue=queue)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _queued(queue) < 4:
            time.sleep(0.5)
        first.stop(signal.SIGKILL)          # no clean shutdown
        waiting = _queued_rows(queue)
        assert len(waiting) >= 4
        watcher = Recorder(broker.port, topics=("nowmesh/+/state",))
        try:
            cable.plug()
            start_bridge(mesh.port("n1"), cable.url, queue=queue)
            want = {(t, json.loads(p)["seq"]) for t, p in waiting}
            watcher.wait_for(lambda msgs: want <= {(m[1], json.loads(m[2])["seq"]) for m in msgs
                                                   if m[1] != "nowmesh/bridge/state"}, 60,
                             "every reading queued before the kill")
        finally:
            watcher.close()
    finally:
        cable.close()


def _queued_rows(path):
    try:
        db = sqlite3.connect(path)
        try:
            return [(r[0], bytes(r[1])) for r in db.execute("SELECT topic, payload FROM outbox ORDER BY id")
                    if r[0].endswith("/state")]
        finally:
            db.close()
    except sqlite3.Error:
        return []


def _queued(path):
    return len(_queued_rows(path))


@pytest.mark.parametrize("args, says", [
    (["--mqtt", "http://127.0.0.1"], "--mqtt"),
    (["--mqtt", "mqtt://127.0.0.1:99999"], "--mqtt"),
    (["--mqtt", "mqtt://127.0.0.1", "--base-topic", "a/#"], "--base-topic"),
    (["--mqtt", "mqtt://127.0.0.1", "--discovery-prefix", ""], "--discovery-prefix"),
    (["--mqtt", "mqtt://127.0.0.1", "--queue-max", "0"], "--queue-max"),
    (["--mqtt", "mqtt://127.0.0.1", "--queue", "GARBAGE"], "not a nowmesh bridge queue"),
])
def test_garbage_config_is_one_clear_error(args, says, tmp_path, nowmesh_cli):
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"\x00garbage" * 64)
    args = [str(garbage) if a == "GARBAGE" else a for a in args]
    result = subprocess.run(nowmesh_cli + ["bridge", "loop://"] + args, capture_output=True, text=True,
                            timeout=30, cwd=str(tmp_path))
    assert result.returncode == 2, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "Traceback" not in result.stderr, result.stderr
    assert garbage.read_bytes().startswith(b"\x00garbage")


def test_the_bridge_rides_out_its_board_unplugged(make_emulated_mesh, broker, recorder, start_bridge, tmp_path):
    """The board on the bridge's port goes away (killed: its pty vanishes) and
    comes back behind the same path: the bridge keeps running, and readings
    flow again, from the board and from the rest of the mesh."""
    import os
    mesh = make_emulated_mesh("line", nodes=2, interval_s=3)
    stable = str(tmp_path / "board-by-id")
    os.symlink(mesh.port("n1"), stable)
    bridge = start_bridge(stable, broker.url)
    topics = {n: "nowmesh/%s/state" % _key(mesh, n) for n in ("n1", "n2")}
    recorder.wait_for(lambda msgs: all(_seqs(msgs, t) for t in topics.values()), 60, "both nodes' states")
    mesh.kill("n1")                                  # unplugged
    os.remove(stable)
    unplugged_at = len(recorder.messages)
    time.sleep(3)
    assert bridge.proc.poll() is None, "the bridge exited when its board went away"
    mesh.restart("n1")                               # plugged back in
    os.symlink(mesh.port("n1"), stable)
    recorder.wait_for(lambda msgs: all(_seqs(msgs[unplugged_at:], t) for t in topics.values()), 60,
                      "states of both nodes after the board came back")
    assert any(line.get("ev") == "board" and line.get("state") == "disconnected" for line in bridge.lines())
    assert recorder.on("nowmesh/bridge/state")[-1][2] == b"online"


def test_the_bridge_speaks_tls_to_an_mqtts_broker(make_emulated_mesh, start_bridge):
    # mosquitto with a TLS listener whose certificate a CA made here signed; the bridge
    # trusts the system's CAs, and OpenSSL's SSL_CERT_FILE adds ours as a system's would
    if not available("mosquitto"):
        pytest.skip("mosquitto is not installed")
    with LocalBroker("mosquitto", tls=True) as broker:
        recorder = Recorder(broker.port)      # plain, beside: what the bridge sent over TLS
        try:
            mesh = make_emulated_mesh("line", nodes=2, interval_s=3)
            bridge = start_bridge(mesh.port("n1"), broker.tls_url, env={"SSL_CERT_FILE": broker.ca_file})
            for name in ("n1", "n2"):
                topic = "nowmesh/%s/state" % _key(mesh, name)
                recorder.wait_for(lambda msgs, t=topic: any(m[1] == t for m in msgs), 60, topic)
            assert recorder.on("nowmesh/bridge/state")[-1][2] == b"online"
            assert any(line.get("ev") == "mqtt" and line.get("state") == "connected"
                       and line.get("broker", "").startswith("mqtts://") for line in bridge.lines())
            assert bridge.stop() == 0
        finally:
            recorder.close()


def test_an_mqtts_broker_with_an_untrusted_certificate_gets_nothing(make_emulated_mesh, start_bridge):
    if not available("mosquitto"):
        pytest.skip("mosquitto is not installed")
    with LocalBroker("mosquitto", tls=True) as broker:
        recorder = Recorder(broker.port)
        try:
            mesh = make_emulated_mesh("line", nodes=1, interval_s=3)
            bridge = start_bridge(mesh.port("n1"), broker.tls_url)     # our CA is not trusted
            said = recorder.wait_for(lambda msgs: [line for line in bridge.lines() if line.get("state") ==
                                                   "unreachable"], 30, "the bridge saying it cannot connect")
            assert "TLS" in said[0]["detail"] and said[0]["broker"].startswith("mqtts://")
            assert not [m for m in recorder.messages if m[1].startswith("nowmesh/")]
            assert not any(line.get("ev") == "mqtt" and line.get("state") == "connected" for line in bridge.lines())
            bridge.stop()
        finally:
            recorder.close()
