"""A gateway takes part in an over-the-mesh update like any node (docs/ota.md):
`nowmesh ota --now` through n1 reaches the gateway n2, which installs the new
bundle, boots into it, confirms itself, and publishes the mesh again: its
first reading of the new boot reaches the broker. Runs on either broker (the
gateway only publishes here)."""
import json
import subprocess
import time

from nowmesh.bundle.tree import changed_firmware
from nowmesh.mqtt.testbroker import Cable

from test_gateway_live import _key, make_gateway


def _tree(tmp_path):
    return changed_firmware(str(tmp_path / "changed"),
                            {"meshport/__init__.py": lambda t: t + "# changed for the gateway's update\n"})


def test_a_gateway_is_updated_over_the_mesh_and_publishes_again(make_emulated_mesh, broker, recorder, nowmesh_cli,
                                                                 tmp_path):
    mesh = make_emulated_mesh("line", nodes=2, interval_s=3, ap="home:secret:1")
    cable = Cable(broker.port)
    try:
        make_gateway(nowmesh_cli, mesh, "n2", cable)
        state_topic = "nowmesh/%s/state" % _key(mesh, "n2")
        recorder.wait_for(lambda msgs: recorder.on(state_topic), 60, "the gateway's first state")
        hello = mesh.command("n2", "hello")
        assert hello.get("ota") is not None, hello        # the gateway has the OTA part
        # n1 must know the gateway before the hand-over: it is whom `nowmesh ota` follows
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(mesh.command("n1", "nodes")["rows"]) < 2:
            time.sleep(1.0)
        mesh.release("n1")                                 # the port is `nowmesh ota`'s now
        started = time.monotonic()
        ota = subprocess.run(nowmesh_cli + ["ota", mesh.port("n1"), "--json", "--now", "--firmware-dir",
                                            _tree(tmp_path), "--timeout", "240"],
                             capture_output=True, text=True, timeout=300)
        assert ota.stdout, (ota.returncode, ota.stderr[-2000:])
        out = json.loads(ota.stdout)
        assert ota.returncode == 0 and out["ok"], (out, ota.stderr[-2000:])
        assert sorted(n["name"] for n in out["nodes"]) == ["n1", "n2"]
        assert all(n["fw"] == out["bundle"] for n in out["nodes"]), out
        assert mesh.command("n2", "status")["fw"] == out["bundle"]
        # the new boot publishes: a state of seq 1 after the update began
        recorder.wait_for(lambda msgs: any(m[0] > started and m[1] == state_topic and json.loads(m[2])["seq"] == 1
                                           for m in msgs), 60, "the gateway's first state after its update")
    finally:
        cable.close()
