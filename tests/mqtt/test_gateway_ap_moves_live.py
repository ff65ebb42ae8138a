"""The access point changes channel while a gateway is joined (a router's
auto channel): the emulated AP moves (Emulation.set_ap_channel), the
gateway's station loses it after the beacon timeout, and the gateway takes
the whole mesh along with an announced move before it joins again; readings
reach the broker again afterwards. Real `nowmesh deploy`, real broker."""
import json

from nowmesh.mqtt.testbroker import BoardReadings, Cable

from test_gateway_live import _key, _latest, _needs_a_broker_that_routes_by_subscription, make_gateway

NODES = ("n1", "n2", "n3", "n4")


def _first(tap, what, since=0.0):
    return next(((t, ev) for t, ev in list(tap.channel_events) if t >= since and what(ev)), None)


def test_the_mesh_follows_when_the_access_point_changes_channel(make_emulated_mesh, broker, recorder, nowmesh_cli):
    _needs_a_broker_that_routes_by_subscription(broker)
    taps = {name: BoardReadings() for name in ("n1", "n4")}
    mesh = make_emulated_mesh("grid", nodes=4, interval_s=3, ap="home:secret:6", taps=taps)
    cable = Cable(broker.port)
    try:
        make_gateway(nowmesh_cli, mesh, "n1", cable)
        state = "nowmesh/%s/state" % _key(mesh, "n4")
        recorder.wait_for(lambda msgs: _latest(recorder, state), 60, state)
        assert {n["channel"] for n in mesh.medium_status()["nodes"]} == {6}

        mesh.set_ap_channel(11)
        lost = recorder.wait_for(lambda msgs: _first(taps["n1"], lambda ev: ev["ev"] == "gateway_wifi"), 30,
                                 "the gateway noticing its AP gone")
        assert lost[1]["state"] == "lost"
        announced = recorder.wait_for(lambda msgs: _first(
            taps["n1"], lambda ev: ev["ev"] == "gateway_channel" and ev["ap_channel"] == 11, lost[0]), 15,
            "the gateway announcing the AP's new channel")
        assert announced[1]["mesh_channel"] == 6
        moved = recorder.wait_for(lambda msgs: _first(
            taps["n4"], lambda ev: ev["ev"] == "channel" and ev["channel"] == 11, lost[0]), 15,
            "n4 on channel 11")
        # told by the gateway's announcement, not found by its own scan (that waits 20 s of silence)
        assert moved[1]["why"] == "move", moved
        print("n4 on channel 11 %.2f s after the gateway noticed its AP gone" % (moved[0] - lost[0]))
        recorder.wait_for(lambda msgs: {n["channel"] for n in mesh.medium_status()["nodes"]} == {11}, 15,
                          "every node on channel 11")
        # and the mesh is on the broker again: a reading of n4 newer than the move
        seq = _latest(recorder, state)["seq"]
        recorder.wait_for(lambda msgs: json.loads(recorder.on(state)[-1][2])["seq"] > seq + 1, 30,
                          "n4's readings after the move")
    finally:
        cable.close()
