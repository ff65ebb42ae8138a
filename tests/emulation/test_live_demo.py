"""`make demo`'s live half must succeed: it is the first command a newcomer types."""
from nowmesh.emulation.live_demo import live_demo


def test_live_demo_sees_every_other_node_and_exits_0(capsys):
    # Fewer nodes and seconds than `make demo`, the same code path: n1 must hold
    # the readings of every other node (its own, "local": true, not counted).
    assert live_demo(nodes=4, seconds=24.0, every_s=4.0) == 0
    out = capsys.readouterr().out
    assert "n1 holds 3/3" in out
    assert "n1 holds 4/3" not in out
