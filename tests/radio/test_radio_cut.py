"""The radio model's safe cut-off distance changes no link, hence no reception.

RadioModel evaluates a link only when the pair is within max_reach_m() (the
distance at which the median received power is SAFE_SIGMAS shadowing
deviations below the detection threshold), found through a grid of cells.
Here every ordered pair is evaluated instead, with the very same shadowing
draw, for the layouts and seeds the test suite and the benchmarks use: the
detectable links must be exactly the ones the model kept. The medium hears
only heard_by, so equal link tables mean equal receptions.
"""
import math

import pytest

from nowmesh.radio import model as radio
from nowmesh.sim.runner import make_topology

# (layout, nodes, seed): the test suite's seeds, and the benchmark layouts
# (random-100 seed 11; the simspeed layouts at seed 1, up to 300 nodes here).
LAYOUTS = [("random", 100, s) for s in (1, 2, 3, 4, 5, 6, 9, 11, 42)] + [
    ("grid", 25, 3), ("grid", 100, 5), ("line", 40, 1),
    ("random", 300, 1), ("random", 300, 11),
]


def all_pairs_links(model):
    """Every ordered pair evaluated, no cut: {(i, j): rx_dbm} of detectable links."""
    n = len(model.positions)
    found = {}
    for i in range(n):
        for j in range(n):
            if i != j:
                rx = model._rx_from_distance(i, j)
                if rx >= model.detect_dbm:
                    found[(i, j)] = rx
    return found


def model_links(model):
    return {(i, j): rx for i, row in enumerate(model.link_dbm) for j, rx in row.items()}


@pytest.mark.parametrize("kind,nodes,seed", LAYOUTS)
def test_cut_drops_no_detectable_link(kind, nodes, seed):
    model = radio.RadioModel(make_topology(kind, nodes, seed), seed)
    assert model_links(model) == all_pairs_links(model)
    # heard_by is the medium's view of the same table, in index order
    for i, heard in enumerate(model.heard_by):
        assert [j for j, _dbm, _mw in heard] == sorted(model.link_dbm[i])


def test_cut_is_exercised_on_large_layouts():
    """The check above is not vacuous: on the larger layouts many pairs lie
    beyond the cut-off, and the farthest detectable link is well inside it."""
    model = radio.RadioModel(make_topology("random", 300, 1), 1)
    reach = model.max_reach_m()
    pos = model.positions
    beyond = sum(1 for i in range(len(pos)) for j in range(i + 1, len(pos))
                 if math.dist(pos[i], pos[j]) > reach)
    assert beyond > 5_000
    farthest = max(math.dist(pos[i], pos[j]) for i, row in enumerate(model.link_dbm) for j in row)
    assert farthest < reach


def test_cut_off_distance_follows_threshold_and_spread():
    topo = make_topology("random", 10, 1)
    narrow = radio.RadioModel(topo, 1, shadowing_db=2.0).max_reach_m()
    wide = radio.RadioModel(topo, 1, shadowing_db=8.0).max_reach_m()
    assert wide > narrow
    # at the cut-off the median power is SAFE_SIGMAS deviations under detection
    at = radio.TX_POWER_DBM - radio.path_loss_db(wide, 3.0)
    assert at == pytest.approx(radio.DETECT_DBM - radio.SAFE_SIGMAS * 8.0)
