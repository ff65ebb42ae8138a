"""A gateway deployed with --allow-commands, end to end (real `nowmesh deploy`,
real broker, paho subscriber): commands on MQTT (set, ping, reboot, an
app's command), answered on .../response,
with the security model's limit (set/reboot of another node need the operator
key, which a gateway never holds); and every node's discovery names its board
and firmware, learnt through the mesh (the node's hello)."""
import json
import os
import subprocess
import time

import paho.mqtt.publish as publish

from nowmesh.mqtt import schema
from nowmesh.mqtt.testbroker import Cable

from test_gateway_live import _key, _latest, _needs_a_broker_that_routes_by_subscription, make_gateway


APP = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "app", "apps", "hello")


def _answers(recorder, topic, count):
    return recorder.wait_for(lambda msgs: (lambda r: r if len(r) >= count else None)(
        [json.loads(m[2]) for m in msgs if m[1] == topic]), 30, "%d answers on %s" % (count, topic))


def test_commands_on_a_gateway_and_discovery_of_every_node(make_emulated_mesh, broker, recorder, nowmesh_cli):
    _needs_a_broker_that_routes_by_subscription(broker)
    mesh = make_emulated_mesh("line", nodes=3, interval_s=3, ap="home:secret:1")
    cable = Cable(broker.port)

    def send(name, cmd, payload=""):
        publish.single("nowmesh/%s/%s" % (_key(mesh, name), cmd), payload, hostname="127.0.0.1", port=broker.port)

    try:
        # n3 runs an app with commands, one open (tests/app/apps/hello)
        deployed = subprocess.run(nowmesh_cli + ["deploy", mesh.port("n3"), "--app", APP], capture_output=True,
                                  text=True, timeout=180)
        assert deployed.returncode == 0, deployed.stderr
        make_gateway(nowmesh_cli, mesh, "n1", cable, "--allow-commands")
        # discovery of the other nodes: name, board and firmware from their own hello
        for name in ("n2", "n3"):
            hello = mesh.command(name, "hello")
            topic = "homeassistant/device/nowmesh_%s/config" % _key(mesh, name)
            dev = recorder.wait_for(lambda msgs, t=topic: (lambda c: c and c["dev"].get("sw") and c["dev"])(
                _latest(recorder, t)), 60, "%s's discovery with its firmware" % name)
            assert dev["name"] == name and dev["sw"] == hello["fw"]
            assert hello["board"] and dev["mdl"] == hello["board"]
            state = "nowmesh/%s/state" % _key(mesh, name)
            recorder.wait_for(lambda msgs, t=state: (_latest(recorder, t) or {}).get("name") == name, 20, "%s named" % state)

        n1, n3 = "nowmesh/%s/response" % _key(mesh, "n1"), "nowmesh/%s/response" % _key(mesh, "n3")
        send("n3", "ping")              # read-only: any node, a round trip through the mesh
        ping = _answers(recorder, n3, 1)[0]
        assert ping["ok"] and ping["cmd"] == "ping", ping
        # hops: the gateway's estimate from its route's metric, as in the state (null while it has no route)
        assert ping["data"]["node"] == mesh.mac("n3") and (ping["data"]["hops"] is None or ping["data"]["hops"] >= 1)
        assert isinstance(ping["data"]["rtt_ms"], int) and ping["data"]["rtt_ms"] > 0
        send("n3", "set", '{"stats_s": 20}')        # another node: needs the operator key
        refused = _answers(recorder, n3, 2)[1]
        assert not refused["ok"] and "operator key" in refused["error"], refused
        send("n3", "reboot")
        assert "operator key" in _answers(recorder, n3, 3)[2]["error"]

        # an app's commands (mesh.on_command): another node's only when its app marked it open
        send("n3", "command", '{"name": "light", "args": ["on"]}')
        light = _answers(recorder, n3, 4)[3]
        assert light == {"cmd": "command", "ok": True, "data": {"light": ["on"]}}, light
        send("n3", "command", '{"name": "pump", "args": ["on"]}')
        pump = _answers(recorder, n3, 5)[4]
        assert not pump["ok"] and "not signed with the operator key" in pump["error"], pump
        send("n3", "command", '{"name": "pump", "args": [1]}')
        assert "list of at most 8 strings" in _answers(recorder, n3, 6)[5]["error"]

        send("n1", "set", '{"interval_s": 1000000}')   # the node's own validator
        bad = _answers(recorder, n1, 1)[0]
        assert not bad["ok"] and "interval_s" in bad["error"], bad
        send("n1", "set", '{"wifi": {"ssid": "evil"}}')
        assert "never travel over MQTT" in _answers(recorder, n1, 2)[1]["error"]
        send("n1", "set", '{"stats_s": 20}')
        done = _answers(recorder, n1, 3)[2]
        assert done["ok"] and done["field"] == "stats_s" and done["data"]["saved"], done
        assert mesh.command("n1", "config_get", field="stats_s") == {"stats_s": 20}

        # reboot: answered first, then the gateway boots again and carries on
        boot = mesh.command("n1", "status")["boot"]
        send("n1", "reboot")
        assert _answers(recorder, n1, 4)[3] == {"cmd": "reboot", "ok": True, "data": {"rebooting": True}}
        answered = time.monotonic()
        # the next boot's first reading (seq 1), published after the answer: the
        # boot before may have been as young (seq 1 too), so not "a lower seq"
        state_topic = "nowmesh/%s/state" % _key(mesh, "n1")
        recorder.wait_for(lambda msgs: any(m[0] > answered and m[1] == state_topic and json.loads(m[2])["seq"] == 1
                                           for m in msgs), 60, "the first reading of n1's next boot")
        status = mesh.command("n1", "status")
        assert status["boot"] > boot
        # `status` tells where the gateway stands: joined, connected, what waits
        gateway = status["gateway"]
        assert gateway["wifi"] and gateway["mqtt"] and gateway["published"] >= 1, gateway
        assert isinstance(gateway["outbox"], int) and gateway["dropped"] == 0, gateway
        # the old connection's will (`offline`, when the broker notices it gone) does not stay
        recorder.wait_for(lambda msgs: recorder.on("nowmesh/bridge/state")[-1][2] == b"online", 20,
                          "bridge state online: %s" % [m[2] for m in recorder.on("nowmesh/bridge/state")])
        assert schema.node_key(mesh.mac("n1")) in n1
    finally:
        cable.close()
