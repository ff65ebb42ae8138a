"""`nowmesh ota` installs on a live emulated mesh (3 nodes in a line, 320K:
the default heap): after a firmware file changed, every node runs the new
bundle (`fw` in its hello and in `nowmesh nodes --json`); a bundle whose
firmware crashes on import rolls back on every node within 3 boots, and
`nowmesh ota` exits 1 naming each node and the reason. docs/ota.md.
"""
import json
import os
import time

import pytest

from nowmesh.bundle.tree import changed_firmware
from nowmesh.cli import main
from nowmesh.query import MeshSession


@pytest.fixture(scope="module")
def mesh(make_emulated_mesh_module):
    return make_emulated_mesh_module("line", nodes=3, heap="320K")


def _tree(tmp_path, name, change):
    """A copy of the firmware tree with one file changed."""
    path, edit = change
    return changed_firmware(str(tmp_path / name), {path: edit})


def _ota(capsys, port, *args):
    rc = main(["ota", port, "--json", "--timeout", "240"] + list(args))
    captured = capsys.readouterr()
    assert captured.out, (rc, captured.err[-2000:])     # one JSON object, whatever the outcome
    return rc, json.loads(captured.out)


def _nodes_once_known(capsys, port, count, timeout=60.0):
    """`nowmesh nodes --json` once n1 knows `count` nodes: the install
    restarted n1 too, and a node that just booted knows only itself until
    its boot sync."""
    deadline = time.monotonic() + timeout
    while True:
        rc = main(["nodes", port, "--json"])
        captured = capsys.readouterr()
        # a node still booting answers "restarted": asked again, to the deadline
        assert rc == 0 or time.monotonic() < deadline, captured.err
        listed = json.loads(captured.out)["nodes"] if rc == 0 else []
        if len(listed) >= count or time.monotonic() > deadline:
            return listed
        time.sleep(1.0)


def test_every_node_runs_the_new_bundle_then_a_crashing_one_rolls_back(mesh, tmp_path, capsys):
    port = mesh.node("n1").port
    assert len(_nodes_once_known(capsys, port, 3)) == 3       # `nowmesh ota` follows the nodes n1 knows
    changed = _tree(tmp_path, "changed", ("meshport/__init__.py", lambda t: t + "# changed\n"))
    rc, out = _ota(capsys, port, "--firmware-dir", changed)
    assert rc == 0 and out["ok"], out
    bundle = out["bundle"]
    assert [n["fw"] for n in out["nodes"]] == [bundle] * 3
    listed = _nodes_once_known(capsys, port, 3)
    assert sorted((n["name"], n["fw"]) for n in listed) == [("n1", bundle), ("n2", bundle), ("n3", bundle)]

    broken = _tree(tmp_path, "broken", ("meshport/app.py", lambda t: 'raise ImportError("broken on purpose")\n' + t))
    rc, out = _ota(capsys, port, "--firmware-dir", broken, "--confirm-s", "5")
    assert rc == 1 and not out["ok"]
    for node in out["nodes"]:
        assert node["reason"] == "rolled back %d: not confirmed in 3 boots" % out["version"], node
        assert node["fw"] == bundle                 # the previous bundle runs again
    with MeshSession(port) as session:
        assert session.command("hello")["fw"] == bundle
