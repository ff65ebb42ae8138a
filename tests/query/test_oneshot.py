"""`nowmesh status|nodes|...|reboot` and `nowmesh topology` against a live
emulated 5-node line mesh (one mesh for the whole module), run through the
real CLI entry point on n1's serial port."""
import json
import os
import time
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from nowmesh.cli import main
from nowmesh.query import MeshSession, known_nodes

LINE = ["n1", "n2", "n3", "n4", "n5"]


def _converged(port, timeout=90.0):
    """Wait until n1 names all five nodes and has a route to each."""
    deadline = time.monotonic() + timeout
    nodes = []
    while time.monotonic() < deadline:
        try:
            with MeshSession(port) as session:
                nodes = known_nodes(session)
        except Exception:          # noqa: BLE001 -- booting, or a lost answer: ask again
            nodes = []
        if sorted(n["name"] or "?" for n in nodes) == LINE and all(n["hops"] for n in nodes[1:]):
            return
        time.sleep(1.0)
    raise AssertionError("the mesh did not converge: %s" % [(n["name"], n["hops"]) for n in nodes])


@pytest.fixture(scope="module")
def mesh(make_emulated_mesh_module):
    mesh = make_emulated_mesh_module("line", nodes=5)
    _converged(mesh.port("n1"))
    return mesh


def nowmesh(capsys, *argv):
    """Run the CLI -> (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def nowmesh_json(capsys, *argv):
    code, out, err = nowmesh(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def test_nodes_lists_every_node_with_hops(mesh, capsys):
    doc = nowmesh_json(capsys, "nodes", mesh.port("n1"))
    nodes = doc["nodes"]
    assert [n["name"] for n in nodes] == LINE           # sorted by hops: the line's order
    assert {n["id"] for n in nodes} == {mesh.mac(name) for name in LINE}
    assert nodes[0]["hops"] == 0 and nodes[0]["local"]
    assert nodes[1]["hops"] == 1 and nodes[4]["hops"] >= 3
    assert all(n["last_heard_s"] is not None and n["last_heard_s"] < 30 for n in nodes)
    code, out, _err = nowmesh(capsys, "nodes", mesh.port("n1"))
    assert code == 0 and out.splitlines()[1].startswith("n1 *") and len(out.splitlines()) == 7


def test_ping_the_far_end(mesh, capsys):
    doc = nowmesh_json(capsys, "ping", mesh.port("n1"), "--node", "n5")
    assert doc["ok"] is True and doc["node"] == "n5" and doc["id"] == mesh.mac("n5")
    # n1 never hears n5 directly; a flooded answer may skip a node over a
    # link heard one way only (n3 -> n1), so 2 hops is the floor, not 4.
    assert doc["hops"] >= 2 and doc["rtt_ms"] > 0


def test_trace_follows_the_line_with_link_quality(mesh, capsys):
    doc = nowmesh_json(capsys, "trace", mesh.port("n1"), "--node", "n5")
    assert doc["ok"] is True, doc
    assert [(h["from"], h["to"]) for h in doc["path"]] == list(zip(LINE, LINE[1:]))
    assert doc["hops"] == 4
    for hop in doc["path"]:
        assert -101 <= hop["rssi"] <= -60 and 8 <= hop["cost"] < 255
    code, out, _err = nowmesh(capsys, "trace", mesh.port("n1"), "--node", "n4")
    assert code == 0 and out.splitlines()[-1] == "reached in 3 hops"


def test_remote_status_neighbours_routes(mesh, capsys):
    status = nowmesh_json(capsys, "status", mesh.port("n1"), "--node", "n3")
    assert status["name"] == "n3" and status["id"] == mesh.mac("n3")
    nbrs = nowmesh_json(capsys, "neighbors", mesh.port("n1"), "--node", "n3")
    usable = {n["name"] for n in nbrs["neighbours"] if n["cost"] is not None and n["cost"] < 255}
    assert {"n2", "n4"} <= usable
    hops = _next_hops(capsys, mesh, "n3", ["n1", "n5"])
    assert hops == {mesh.mac("n1"): mesh.mac("n2"), mesh.mac("n5"): mesh.mac("n4")}


def _next_hops(capsys, mesh, node, dests, timeout=45.0):
    """node's next hop to each of dests, asked through n1 until it has a route
    to every one: `routes` lists the routes in use at that instant, and one
    whose next hop left the neighbour table for a moment (a board of a loaded
    machine, silent past its timeout) is back with that origin's next reading."""
    deadline = time.monotonic() + timeout
    want = [mesh.mac(d) for d in dests]
    hops = {}
    while time.monotonic() < deadline:
        code, out, _err = nowmesh(capsys, "routes", mesh.port("n1"), "--node", mesh.mac(node), "--json")
        if code == 0:
            hops = {r["id"]: r["next_hop"] for r in json.loads(out)["routes"] if r["id"] in want}
            if len(hops) == len(want):
                return hops
        time.sleep(1.0)
    raise AssertionError("%s has no route to each of %s: %s" % (node, dests, hops))


def test_readings_of_one_node_and_send(mesh, capsys):
    doc = nowmesh_json(capsys, "readings", mesh.port("n1"), "--node", "n4")
    assert [r["id"] for r in doc["readings"]] == [mesh.mac("n4")]
    assert any(v[0] == "uptime" for v in doc["readings"][0]["values"])
    sent = nowmesh_json(capsys, "send", mesh.port("n1"), "--node", "n2", "hello n2")
    assert sent == {"node": "n2", "id": mesh.mac("n2"), "ok": True}


def test_topology_json_matches_the_emulated_radio_links(mesh, capsys, tmp_path):
    radio = mesh.emulation.medium.air.radio
    names = mesh.names
    expected = {(names[i], names[j]) for i, j, _rssi_ij, _rssi_ji in radio.links()}
    assert len(expected) == 4                       # a line of 5
    out = tmp_path / "mesh.json"
    # Link costs are measured from hellos, so a fringe pair two spacings apart
    # can dip under the bar for a moment, and this line's links are all
    # fringe ones (-92 to -97 dBm: n1 hears n2 at -95); the tool must agree
    # with the radio model exactly, in one of its looks over half a minute.
    seen = []
    deadline = time.monotonic() + 30
    while not seen or (seen[-1] != expected and time.monotonic() < deadline):
        if seen:
            time.sleep(2)
        code, text, err = nowmesh(capsys, "topology", mesh.port("n1"), "--out", out)
        assert code == 0, err
        doc = json.loads(out.read_text())
        seen.append({(l["a"], l["b"]) for l in doc["links"]})
    assert seen[-1] == expected, seen
    assert len(doc["links"]) == 4 and "4 links" in text
    assert sorted(n["name"] for n in doc["nodes"]) == LINE and all(n["answered"] for n in doc["nodes"])
    for link in doc["links"]:
        assert link["rssi"] <= -60 and 8 <= link["cost"] <= 24


def test_topology_pictures(mesh, capsys, tmp_path):
    for ext in ("dot", "svg", "png"):
        code, _out, err = nowmesh(capsys, "topology", mesh.port("n1"), "--out", tmp_path / ("mesh." + ext))
        assert code == 0, err
    assert (tmp_path / "mesh.dot").read_text().count(" -- ") >= 4
    svg = ET.parse(tmp_path / "mesh.svg").getroot()
    labels = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
    assert set(LINE) <= set(labels) and sum(1 for t in labels if t and "dBm" in t) >= 4
    with Image.open(tmp_path / "mesh.png") as image:
        image.verify()
    assert Image.open(tmp_path / "mesh.png").format == "PNG"


# -- bad input: one line, non-zero exit -----------------------------------------------

def test_no_such_port(capsys, tmp_path):
    code, out, err = nowmesh(capsys, "nodes", tmp_path / "ttyUSB9")
    assert code == 1 and out == "" and "no such port" in err and len(err.splitlines()) == 1


def test_unknown_node_name(mesh, capsys):
    code, _out, err = nowmesh(capsys, "ping", mesh.port("n1"), "--node", "barn")
    assert code == 2 and 'no node "barn"' in err and "n5" in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("argv, message", [
    (["ping"], "--node"),                                  # ping needs a target
    (["config-set", "--node", "n2", "stats_s"], "value"),  # a field without a value
    (["nodes", "--node", "n2"], "connect to the other node"),
    (["topology", "--out", "mesh.txt"], "must end in"),
    (["topology", "--out", "mesh.json", "--max-cost", "nine"], "--max-cost"),
])
def test_bad_arguments(mesh, capsys, argv, message):
    try:
        code, _out, err = nowmesh(capsys, argv[0], mesh.port("n1"), *argv[1:])
    except SystemExit as exc:                              # argparse's own usage errors
        code, err = exc.code, capsys.readouterr().err
    assert code == 2 and message in err


# Last: a reboot disturbs n4's links for a while.
def test_config_set_on_a_remote_node_survives_its_reboot(mesh, capsys):
    port = mesh.port("n1")
    before = nowmesh_json(capsys, "status", port, "--node", "n4")
    doc = nowmesh_json(capsys, "config-set", port, "--node", "n4", "stats_s", "7")
    assert doc["saved"] is True and doc["value"] == 7
    assert nowmesh_json(capsys, "reboot", port, "--node", "n4")["rebooting"] is True
    boot_file = os.path.join(mesh.node("n4").fs_dir, "boot.cnt")
    deadline = time.monotonic() + 30
    while _read_boot(boot_file) != before["boot"] + 1:    # its flash says it booted again
        assert time.monotonic() < deadline, "n4 did not reset after answering its reboot"
        time.sleep(0.5)
    deadline = time.monotonic() + 90
    polls = []
    while True:                    # and it answers through the mesh with that boot counter
        # (a failed poll is polled again: its routes re-form after the boot,
        # and on a shared machine another tool may hold n1's port for a moment)
        code, out, err = nowmesh(capsys, "status", port, "--node", "n4", "--json")
        after = json.loads(out) if code == 0 else {}
        polls.append((code, after.get("boot"), err.strip()[-100:]))
        if after.get("boot") == before["boot"] + 1:
            break
        assert time.monotonic() < deadline, "n4 rebooted but did not answer: %r" % polls
        time.sleep(1.0)
    got = nowmesh_json(capsys, "config-get", port, "--node", "n4", "--field", "stats_s")
    assert got["config"] == {"stats_s": 7}
    with open("%s/nowmesh.json" % mesh.node("n4").fs_dir) as f:       # on its flash, too
        assert json.load(f)["stats_s"] == 7


def _read_boot(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None         # mid-write (it is replaced atomically) or not there yet


def test_ping_to_a_node_that_went_away_fails_clearly(mesh, capsys):
    mesh.kill("n5")
    code, out, _err = nowmesh(capsys, "ping", mesh.port("n1"), "--node", "n5", "--json")
    doc = json.loads(out)
    assert code == 1 and doc["ok"] is False and doc["rtt_ms"] is None and doc["error"] == "timeout"
