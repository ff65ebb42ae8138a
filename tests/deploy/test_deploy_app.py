"""nowmesh deploy --app (docs/app-api.md) against one emulated board: the
app is compiled and installed with the firmware's staged procedure, a second
run sends nothing, a deploy without --app keeps it, another app's form
replaces the old one."""
import json
import os

import pytest

from nowmesh.cli import main
from nowmesh.console.client import ConsoleClient
from nowmesh.emulation.board.pty_board import parse_heap
from nowmesh.emulation.mesh import APP_HEAP, DEFAULT_HEAP

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GREENHOUSE = os.path.join(ROOT, "examples", "greenhouse")


@pytest.fixture(scope="module")
def node(make_emulated_mesh_module):
    # started as `nowmesh emulate` starts it: no app, so the DEFAULT_HEAP of a board
    # without one; the deploy's restart gives it the app heap (heap_for_flash)
    return make_emulated_mesh_module("line", nodes=1).node("n1")


@pytest.fixture(scope="module")
def key_file(tmp_path_factory):
    return str(tmp_path_factory.mktemp("project") / "nowmesh-key.json")


def _deploy_json(capsys, node, key_file, *extra):
    assert main(["deploy", node.port, "--key-file", key_file, "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def _status(node):
    with ConsoleClient(node.port) as client:
        return client.command("status", timeout=10)


def test_deploy_app_installs_it_and_a_second_run_sends_nothing(capsys, node, key_file):
    assert node.board.heap_bytes() == parse_heap(DEFAULT_HEAP)
    first = _deploy_json(capsys, node, key_file, "--app", GREENHOUSE)
    assert node.board.heap_bytes() == parse_heap(APP_HEAP)     # the restart's boot
    assert first["restarted"] is True and first["files_sent"] >= 1
    with open(os.path.join(node.fs_dir, "app.mpy"), "rb") as f:
        assert f.read(1) == b"M"                  # compiled: a .mpy, not the source
    assert not os.path.exists(os.path.join(node.fs_dir, "app.py"))
    assert _status(node)["app_state"] in ("running", "finished")
    second = _deploy_json(capsys, node, key_file, "--app", GREENHOUSE)
    assert second["files_sent"] == 0 and second["restarted"] is False


def test_deploying_nowmesh_again_keeps_the_app(capsys, node, key_file):
    _deploy_json(capsys, node, key_file, "--app", GREENHOUSE)
    with open(os.path.join(node.fs_dir, "app.mpy"), "rb") as f:
        app = f.read()
    again = _deploy_json(capsys, node, key_file)
    assert again["files_removed"] == 0
    with open(os.path.join(node.fs_dir, "app.mpy"), "rb") as f:
        assert f.read() == app
    assert "app_state" in _status(node)


def test_a_package_app_replaces_a_module_app_and_a_stray_source(capsys, node, key_file, tmp_path):
    _deploy_json(capsys, node, key_file, "--app", GREENHOUSE)
    with open(os.path.join(node.fs_dir, "app.py"), "w") as f:
        f.write("raise ImportError('a leftover source would shadow app.mpy')\n")
    package = tmp_path / "pkg" / "app"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("from app.helper import main\n")
    (package / "helper.py").write_text("async def main(mesh):\n    mesh.publish({'pkg': 1})\n")
    result = _deploy_json(capsys, node, key_file, "--app", str(tmp_path / "pkg"))
    assert result["files_removed"] == 2           # app.mpy and the stray app.py
    assert sorted(os.listdir(os.path.join(node.fs_dir, "app"))) == ["__init__.mpy", "helper.mpy"]
    assert not os.path.exists(os.path.join(node.fs_dir, "app.mpy"))
    assert _status(node)["app_errors"] == 0


def test_an_app_that_cannot_be_imported_leaves_the_mesh_running(capsys, node, key_file, tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import no_such_driver\n\nasync def main(mesh):\n    pass\n")
    result = _deploy_json(capsys, node, key_file, "--app", str(broken))
    assert result["restarted"] is True            # nowmesh came up and answered
    status = _status(node)
    assert (status["app_state"], status["app_errors"]) == ("stopped", 1)
    assert "no_such_driver" in status["app_last_error"]


def test_a_missing_or_wrong_app_path_is_one_clear_error(capsys, node, key_file, tmp_path):
    assert main(["deploy", node.port, "--key-file", key_file, "--app", str(tmp_path / "nope")]) != 0
    assert "does not exist" in capsys.readouterr().err
    assert main(["deploy", node.port, "--key-file", key_file, "--app", str(tmp_path)]) != 0
    assert "neither app.py nor an app/ package" in capsys.readouterr().err
