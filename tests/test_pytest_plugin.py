"""The pytest plugin, as users use it: a tiny test file run by pytester.

One pytester run holds two user tests, each with its own live mesh: one
passes through every helper (readings over two hops, console commands and
events, kill/restart, cut, loss), one fails on purpose after recording its
node pids, to show teardown stops the nodes on failure too.
"""
import json
import os
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:                                   # pragma: no cover
    tomllib = None

import pytest

from nowmesh import pytest_plugin

pytest_plugins = ["pytester"]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

USER_TESTS = '''
import json
import os

import pytest


def test_a_line_of_three_converges_and_survives_a_restart(make_emulated_mesh):
    mesh = make_emulated_mesh("line", nodes=3, interval_s=2)
    seen = mesh.wait_for_readings(at="n1", timeout=60)       # n3's come over two hops
    assert set(seen) == {"n2", "n3"}
    assert mesh.command("n1", "status")["name"] == "n1"
    assert mesh.port("n2").startswith("/dev/")
    stats = mesh.events("n2", 3)
    assert all("ev" in event for event in stats)
    hello = mesh.command("n2", "hello")
    assert hello["id"] == mesh.mac("n2")

    mesh.kill("n3")
    assert mesh.port("n3") is None and mesh.live_names() == ["n1", "n2"]
    mesh.restart("n3")
    mesh.wait_for_readings(at="n1", from_=["n3"], max_age_s=3, timeout=60)

    mesh.cut("n2")
    assert [n["cut"] for n in mesh.medium_status()["nodes"]] == [False, True, False]
    mesh.uncut("n2")
    mesh.set_loss(0.1)
    assert mesh.medium_status()["loss"] == pytest.approx(0.1)


def test_a_failing_test_still_stops_its_mesh(make_emulated_mesh):
    mesh = make_emulated_mesh(nodes=1)
    with open(os.environ["PIDS_FILE"], "w") as out:
        json.dump([node.pid for node in mesh.nodes], out)
    assert mesh.command("n1", "status")["name"] == "nobody"
'''


def test_user_tests_run_with_the_fixtures_and_teardown_stops_nodes(pytester, tmp_path, monkeypatch):
    pids_file = tmp_path / "pids.json"
    monkeypatch.setenv("PIDS_FILE", str(pids_file))
    pytester.makepyfile(test_user=USER_TESTS)
    result = pytester.runpytest_subprocess("-p", "nowmesh.pytest_plugin", "-p", "no:cacheprovider",
                                           timeout=150)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*assert 'n1' == 'nobody'*"])
    pids = json.loads(pids_file.read_text())
    assert pids and all(pids)
    for pid in pids:
        with pytest.raises(OSError):
            os.kill(pid, 0)


def test_options_marker_and_fixtures_are_registered(pytester):
    pytester.makepyfile(test_listed="def test_nothing():\n    pass\n")
    help_text = pytester.runpytest("-p", "nowmesh.pytest_plugin", "--help")
    help_text.stdout.fnmatch_lines(["*--nowmesh-heap=SIZE*"])
    fixtures = pytester.runpytest("-p", "nowmesh.pytest_plugin", "--fixtures")
    fixtures.stdout.fnmatch_lines(["*make_emulated_mesh*", "*make_emulated_mesh_module*", "*emulated_mesh*"])
    markers = pytester.runpytest("-p", "nowmesh.pytest_plugin", "--markers")
    markers.stdout.fnmatch_lines(["*nowmesh_mesh(**options)*"])


def test_heap_option_and_marker_reach_the_emulation(pytester, monkeypatch):
    """Without starting anything: EmulatedMesh.start is replaced by a recorder."""
    started = []
    monkeypatch.setattr(pytest_plugin.EmulatedMesh, "start", lambda self: started.append(self) or self)
    monkeypatch.setattr(pytest_plugin.EmulatedMesh, "stop", lambda self: None)
    pytester.makepyfile(test_marked='''
import pytest

@pytest.mark.nowmesh_mesh(topology="grid", nodes=4, seed=7)
def test_marked(emulated_mesh):
    assert emulated_mesh.names == ["n1", "n2", "n3", "n4"]
    assert emulated_mesh.emulation.heap == "300K"
    assert emulated_mesh.emulation.seed == 7
''')
    result = pytester.runpytest("-p", "nowmesh.pytest_plugin", "--nowmesh-heap", "300K")
    result.assert_outcomes(passed=1)
    assert len(started) == 1


def test_the_documented_example_file_collects(pytester):
    """The copyable example in docs/testing-with-emulated-nodes.md is valid
    and asks only for fixtures the plugin has (no mesh starts)."""
    with open(os.path.join(REPO, "docs", "testing-with-emulated-nodes.md"), encoding="utf-8") as f:
        doc = f.read()
    example = doc.split("```python\n", 1)[1].split("```", 1)[0]
    pytester.makepyfile(test_my_mesh=example)
    result = pytester.runpytest("-p", "nowmesh.pytest_plugin", "--collect-only", "-q")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*5 tests collected*"])
    fixtures = pytester.runpytest("-p", "nowmesh.pytest_plugin", "--setup-plan", "-q")
    assert "fixture '" not in fixtures.stdout.str()          # no "fixture 'x' not found"


def test_the_entry_point_is_declared_as_the_module_name():
    if tomllib is None:
        pytest.skip("tomllib needs Python 3.11")
    with open(os.path.join(REPO, "pyproject.toml"), "rb") as f:
        entry_points = tomllib.load(f)["project"]["entry-points"]["pytest11"]
    # named after the module: `-p nowmesh.pytest_plugin` then never registers it twice
    assert entry_points == {"nowmesh.pytest_plugin": "nowmesh.pytest_plugin"}


def test_installing_nowmesh_activates_the_plugin_through_its_entry_point(pytester):
    from importlib import metadata
    declared = [ep for ep in metadata.entry_points(group="pytest11") if ep.value == "nowmesh.pytest_plugin"]
    if not declared:
        pytest.skip("this environment's nowmesh install predates the entry point (pip install -e . again)")
    pytester.makepyfile(test_plain="def test_fixture_is_there(make_emulated_mesh):\n    assert callable(make_emulated_mesh)\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")      # no -p nowmesh...: the entry point
    result.assert_outcomes(passed=1)


def test_helpers_reject_unknown_nodes_before_anything_runs():
    mesh = pytest_plugin.EmulatedMesh("line", nodes=2)
    try:
        assert mesh.names == ["n1", "n2"] and mesh.mac("n2") == "02:4e:4d:00:00:02"
        assert mesh.name_of("02:4e:4d:00:00:01") == "n1" and mesh.name_of("aa") == "aa"
        with pytest.raises(Exception, match='"n7"'):
            mesh.port("n7")
        with pytest.raises(AssertionError, match="off"):
            mesh.console("n1")            # not started: no port yet
    finally:
        mesh.stop()
