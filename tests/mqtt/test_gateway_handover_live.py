"""Several gateways, no primary (docs/mqtt.md "Several carriers"): two nodes
of one mesh made gateways by the real `nowmesh deploy`, a real broker. Both
publish every reading; when one dies the other's readings keep arriving,
the dead one's last will does not leave the mesh unavailable in Home
Assistant, and availability stays mesh-aware (the dead gateway goes offline
as a node)."""
import json
import time

from nowmesh.mqtt.testbroker import Cable

from test_gateway_live import _key, _needs_a_broker_that_routes_by_subscription, make_gateway


def _seqs(recorder, topic):
    return [json.loads(m[2])["seq"] for m in recorder.on(topic)]


def test_when_one_gateway_dies_another_carries_the_mesh(make_emulated_mesh, broker, recorder, nowmesh_cli):
    _needs_a_broker_that_routes_by_subscription(broker)
    mesh = make_emulated_mesh("grid", nodes=4, interval_s=3, ap="home:secret:1")
    cable = Cable(broker.port)
    try:
        make_gateway(nowmesh_cli, mesh, "n1", cable)
        make_gateway(nowmesh_cli, mesh, "n4", cable)
        for gw in ("n1", "n4"):       # both carry the mesh: each one's bridge device is announced
            topic = "homeassistant/device/nowmesh_bridge_%s/config" % _key(mesh, gw)
            recorder.wait_for(lambda msgs, t=topic: recorder.on(t), 60, topic)
        states = {name: "nowmesh/%s/state" % _key(mesh, name) for name in ("n2", "n3")}
        for topic in states.values():
            recorder.wait_for(lambda msgs, t=topic: recorder.on(t), 30, topic)

        # n4 has heard n1 read a few times (so it knows n1's interval, as the mesh-aware
        # availability needs), and both gateways carry the readings
        n1_state = "nowmesh/%s/state" % _key(mesh, "n1")
        first = max(_seqs(recorder, n1_state))
        recorder.wait_for(lambda msgs: max(_seqs(recorder, n1_state)) >= first + 3, 30, "n1 reading on")
        killed = time.monotonic()       # before: the will may come while kill() waits for the process
        mesh.kill("n1")
        seen = {name: max(_seqs(recorder, topic)) for name, topic in states.items()}
        # the will of n1 says offline on the one bridge state topic; n4 says online again
        will = recorder.wait_for(lambda msgs: [m for m in recorder.on("nowmesh/bridge/state")
                                               if m[0] >= killed and m[2] == b"offline"], 30, "n1's last will")
        recorder.wait_for(lambda msgs: [m for m in recorder.on("nowmesh/bridge/state")
                                        if m[0] > will[0][0] and m[2] == b"online"], 15,
                          "the bridge state online again (n4)")
        # readings newer than any n1 could have carried keep arriving, through n4
        for name, topic in states.items():
            recorder.wait_for(lambda msgs, t=topic, s=seen[name]: max(_seqs(recorder, t)) >= s + 3, 30,
                              "new readings of %s after n1 died" % name)
            print("%s: first new reading on the broker %.1f s after the kill" % (name, min(
                m[0] for m in recorder.on(topic) if json.loads(m[2])["seq"] > seen[name]) - killed))
        # mesh-aware: the dead gateway is an offline node, the others stay online
        n1_avail = "nowmesh/%s/availability" % _key(mesh, "n1")
        recorder.wait_for(lambda msgs: recorder.on(n1_avail)[-1][2] == b"offline", 40, "n1 offline")
        assert recorder.on("nowmesh/%s/availability" % _key(mesh, "n2"))[-1][2] == b"online"
        assert recorder.on("nowmesh/bridge/state")[-1][2] == b"online"
    finally:
        cable.close()
