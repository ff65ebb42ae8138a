"""A live emulated mesh heals: ping over three hops, a relay killed mid-stream
and the route repaired, a partition healed with the readings caught up.

    n1 ==== n2 ==== n4 ---- n5        (==== strong links, the preferred path)
      \\            /
       `-- n3 ----'                   (weaker links: the detour)
"""
import json
import time

import pytest

from nowmesh.pytest_plugin import EmulatedMesh

LINKS = [("n1", "n2", -60), ("n2", "n4", -60), ("n1", "n3", -80), ("n3", "n4", -80), ("n4", "n5", -65)]


@pytest.fixture(scope="module")
def mesh(tmp_path_factory):
    base = tmp_path_factory.mktemp("heal")
    topology = base / "diamond.json"
    topology.write_text(json.dumps({
        "nodes": [{"name": "n%d" % i} for i in range(1, 6)],
        "links": [{"a": a, "b": b, "rssi": rssi} for a, b, rssi in LINKS]}))
    with EmulatedMesh(str(topology), 5, interval_s=2, state_dir=str(base / "mesh")) as live:
        live.wait_for_readings(at="n1", timeout=90)
        yield live


def _ping(mesh, target, attempts):
    """The first successful ping reply within `attempts` tries (route repair takes a few)."""
    error = None
    for _ in range(attempts):
        try:
            return mesh.command("n1", "ping", node=target, timeout=12)
        except Exception as exc:      # noqa: BLE001 -- timeouts while the route heals
            error = exc
            time.sleep(1)
    raise AssertionError("no ping reply from %s in %d tries: %s" % (target, attempts, error))


def test_ping_over_three_hops(mesh):
    reply = _ping(mesh, "n5", 3)
    assert reply["hops"] == 3
    assert reply["rtt_ms"] > 0


def _seq(mesh, at, origin):
    for reading in mesh.command(at, "readings"):
        if mesh.name_of(reading["id"]) == origin:
            return reading["seq"]
    return None


def _wait_for_newer(mesh, origin, than, timeout, at="n1"):
    """`at` holds a reading of `origin` at least two sequence numbers past `than`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seq = _seq(mesh, at, origin)
        if seq is not None and seq >= than + 2:
            return seq
        time.sleep(0.5)
    raise AssertionError("%s got no reading of %s newer than seq %s in %gs" % (at, origin, than, timeout))


def test_relay_killed_mid_stream_and_the_route_repaired(mesh):
    seq_at_kill = _seq(mesh, "n1", "n5")
    mesh.kill("n2")
    started = time.monotonic()
    reply = _ping(mesh, "n5", 8)
    assert reply["hops"] == 3                   # now n1 -> n3 -> n4 -> n5
    # Readings n5 publishes after the kill still reach n1, through n3.
    _wait_for_newer(mesh, "n5", seq_at_kill, 60)
    print("route repaired and newer readings after %.1f s" % (time.monotonic() - started))
    mesh.restart("n2")
    mesh.wait_for_readings(at="n1", from_=["n2"], max_age_s=3, timeout=60)


def test_partition_and_heal_catch_up(mesh):
    mesh.partition([["n1", "n2", "n3"]])        # n4, n5 are the other side
    # Positive signals first: n4, on n5's side, gets two readings n5 published
    # after the cut (what was in flight towards n1 has landed by then) ...
    seen = _wait_for_newer(mesh, "n5", _seq(mesh, "n4", "n5"), 30, at="n4")
    cut_off_at = _seq(mesh, "n1", "n5")
    # ... then, over the window in which n4 gets two more, n1 gets none.
    _wait_for_newer(mesh, "n5", seen, 30, at="n4")
    assert _seq(mesh, "n1", "n5") == cut_off_at
    mesh.heal()
    _wait_for_newer(mesh, "n5", cut_off_at, 60)
