"""`nowmesh sweep` and `nowmesh plot`: spec checks, resumption, retry, Dask, outputs."""
import csv
import json
import os

import pytest

from nowmesh import cli
from nowmesh.errors import InputError
from nowmesh.sim import sweep, sweep_exec

TINY = """
axes:
  protocol: [nowmesh, flood]
  seed: [1, 2]
fixed:
  topology: random
  nodes: 4
  duration_s: 6
  reading_interval_s: 2
  requests: 0
"""


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return str(path)


def sweep_cli(*args):
    return cli.main(["sweep", *args, "--no-progress"])


def sorted_lines(path):
    with open(path) as f:
        return sorted(line for line in f if line.strip())


# -- the spec -------------------------------------------------------------------

def test_spec_expands_every_combination_with_fixed_settings(spec_file):
    runs = sweep.load_spec(spec_file).runs()
    assert len(runs) == 4
    assert {(r["protocol"], r["seed"]) for r in runs} == {
        ("nowmesh", 1), ("nowmesh", 2), ("flood", 1), ("flood", 2)}
    assert all(r["nodes"] == 4 and r["duration_s"] == 6 for r in runs)
    assert len({sweep.run_id(r) for r in runs}) == 4


@pytest.mark.parametrize("data,field", [
    ({"axes": {"nodes": [5]}, "colour": 1}, "colour"),
    ({"axes": {"node_count": [5]}}, "axes.node_count"),
    ({"axes": {"nodes": 5}}, "axes.nodes"),
    ({"axes": {"nodes": []}}, "axes.nodes"),
    ({"axes": {"nodes": [5]}, "fixed": {"nodes": 6}}, "fixed.nodes"),
    ({"axes": {"nodes": [5]}, "x": "loss"}, "x"),
    ([1, 2], None),
])
def test_bad_specs_name_the_field(data, field):
    with pytest.raises(InputError) as err:
        sweep.parse_spec(data, "s.yaml")
    assert err.value.field == field


def test_any_simulate_keyword_is_an_axis():
    spec = sweep.parse_spec({"axes": {"shadowing_db": [2.0, 6.0], "deadline_s": [5, 10],
                                      "protocol_options": [{"beacon_ms": 2000}]}})
    assert len(spec.runs()) == 4


def test_cli_rejects_a_bad_spec_with_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("axes: {nodes: [3], wings: [2]}\n")
    assert sweep_cli(str(bad), "--out", str(tmp_path / "o.jsonl")) == 2
    assert "axes.wings" in capsys.readouterr().err
    garbage = tmp_path / "garbage.json"
    garbage.write_text("{not: [json")
    assert sweep_cli(str(garbage)) == 2


# -- running, resuming, retrying ------------------------------------------------

def test_sweep_writes_lines_csv_and_resumes_only_missing_runs(spec_file, tmp_path, capsys):
    out = str(tmp_path / "r.jsonl")
    assert sweep_cli(spec_file, "--out", out, "--workers", "2") == 0
    first = sorted_lines(out)
    assert len(first) == 4
    record = json.loads(first[0])
    assert set(record) == {"run", "params", "result"}
    assert "wall_s" not in record["result"]          # lines are reproducible
    with open(str(tmp_path / "r.csv")) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and {"protocol", "seed", "delivery_ratio", "airtime_per_reading_ms"} <= set(rows[0])
    capsys.readouterr()

    # Lose two runs and leave a half-written line, as a killed sweep would.
    with open(out, "w") as f:
        f.write(first[0] + first[1] + first[2][:40])
    assert sweep_cli(spec_file, "--out", out, "--workers", "2") == 0
    err = capsys.readouterr().err
    assert "2 already in" in err and "2 to run" in err
    assert "1 line(s) were not run results" in err
    records, bad = sweep.read_lines(out)
    assert bad == 1
    assert sorted(json.dumps(r, sort_keys=True) + "\n" for r in records) == first

    # Nothing left to do: no run is repeated.
    assert sweep_cli(spec_file, "--out", out) == 0
    assert "0 to run" in capsys.readouterr().err
    assert len(sweep.read_lines(out)[0]) == 4


def dies_once(params):
    """A run that kills its worker process the first time any run starts."""
    marker = os.environ["NOWMESH_TEST_DIE_MARKER"]
    if not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(1)
    return sweep.run_one(params)


def test_a_run_whose_worker_dies_is_retried(tmp_path, monkeypatch):
    """The first run kills its worker process; the pool is rebuilt and every
    run still finishes with the line an undisturbed run gives."""
    marker = tmp_path / "died-once"
    monkeypatch.setenv("NOWMESH_TEST_DIE_MARKER", str(marker))
    params = [dict(protocol="flood", topology="line", nodes=3, seed=s, duration_s=4.0,
                   reading_interval_s=2.0, requests=0) for s in (1, 2, 3)]
    lines, errors = [], []
    sweep_exec.run_local(params, 2, lambda line, wall: lines.append(line), errors.append, task=dies_once)
    assert marker.exists() and not errors
    assert sorted(lines) == sorted(sweep.run_one(p)[0] for p in params)


def test_a_run_that_raises_is_reported_not_fatal(tmp_path):
    params = [dict(protocol="nowmesh", topology="line", nodes=3, seed=1, duration_s=3.0, requests=0),
              dict(protocol="nowmesh", topology="line", nodes=3, seed=1, duration_s=3.0, environment="moon")]
    lines, errors = [], []
    sweep_exec.run_local(params, 1, lambda line, wall: lines.append(line), errors.append)
    assert len(lines) == 1 and len(errors) == 1
    assert "KeyError" in str(errors[0]) and "moon" in str(errors[0])


def test_dask_local_cluster_gives_the_same_lines(spec_file, tmp_path):
    pytest.importorskip("distributed")
    local, dask = str(tmp_path / "local.jsonl"), str(tmp_path / "dask.jsonl")
    assert sweep_cli(spec_file, "--out", local, "--workers", "2") == 0
    assert sweep_cli(spec_file, "--out", dask, "--dask", "local", "--workers", "2") == 0
    assert sorted_lines(dask) == sorted_lines(local)
    assert len(sorted_lines(dask)) == 4
    # the CSV follows the spec's order, whatever order the runs finished in
    with open(str(tmp_path / "local.csv")) as a, open(str(tmp_path / "dask.csv")) as b:
        assert a.read() == b.read()


# -- plots --------------------------------------------------------------------------

def test_plot_from_results_and_from_sweep(spec_file, tmp_path, capsys):
    out, png = str(tmp_path / "r.jsonl"), str(tmp_path / "sweep.png")
    assert sweep_cli(spec_file, "--out", out, "--plot", png) == 0
    assert "x = seed" in capsys.readouterr().err       # the only axis besides protocol
    again = str(tmp_path / "again.png")
    assert cli.main(["plot", out, "--out", again, "--x", "seed"]) == 0
    for path in (png, again):
        with open(path, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    assert cli.main(["plot", out, "--x", "colour"]) == 2
    assert cli.main(["plot", str(tmp_path / "missing.jsonl")]) == 2


def test_the_example_spec_is_valid():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    spec = sweep.load_spec(os.path.join(root, "examples", "sweep-small.yaml"))
    assert len(spec.runs()) == 18 and spec.plot_axis() == "nodes"


def test_plot_floor_is_the_matrix_floor_of_the_runs_layout():
    from nowmesh.radio.model import ENVIRONMENTS
    from nowmesh.radio.topology import make_topology
    from nowmesh.sim import floors, sweep_report
    params = {"protocol": "flood", "topology": "random", "nodes": 12, "seed": 3, "loss": 0.1,
              "reading_interval_s": 20}
    cache = {}
    got = sweep_report.floor_ms(params, cache)
    want = floors.floor_of(make_topology("random", 12, 3), 3, 0.1, 20, ENVIRONMENTS["indoor"], 4.0)
    assert got == want["floor_ms"] and got > 0
    # the protocol does not change the floor: the second run reuses the first's
    assert sweep_report.floor_ms(dict(params, protocol="nowmesh"), cache) == got and len(cache) == 1
    # a denser load (shorter interval) or more loss gives another floor
    assert sweep_report.floor_ms(dict(params, loss=0.3), cache) != got
    # priced at 1 Mbps: no floor for runs at another rate
    assert sweep_report.floor_ms(dict(params, phy_rate="LR250K"), cache) is None
