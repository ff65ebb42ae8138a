"""Power cuts in the simulator (nowmesh.sim.ota_powercut, docs/ota.md):
seeded runs cutting one node's power during the transfer, the install or a
rollback leave no node unbootable or on a mixed bundle, a node cut during
its fetch boots holding the pages it had written (less only the one a torn
write damaged), and the checks themselves fail on a store that forgets its
pages, on an install that leaves a mix and on a mixed tree."""
import os

import pytest

from nowmesh.sim import ota_powercut as pc

SEEDS = range(60)                # where cuts fall depends on the whole mesh's timing:
                                 # 60 seeds give 7 transfer cuts after pages were written
INSTALL = 2                      # install cut at a rename, the next boot cut too


@pytest.fixture(scope="module")
def bundle():
    return pc.Bundle()


@pytest.fixture(scope="module")
def runs(bundle):
    return [pc.run(seed, bundle) for seed in SEEDS]


def test_sixty_cuts_leave_no_node_unbootable_or_mixed(runs):
    assert [r for r in runs if not r["ok"]] == []
    assert sum(len(r["unbootable"]) for r in runs) == 0
    assert sum(len(r["mixed"]) for r in runs) == 0
    phases = [r["phase"] for r in runs]
    assert phases.count("transfer") >= 10 and phases.count("install") >= 8 and "rollback" in phases
    # the install cuts fall on both sides of the commit point, and some
    # boots that roll a switch forward were cut as well
    assert {r["after_cut"] for r in runs if r["phase"] == "install"} == {"old", "new"}
    assert any(r.get("boot_step") for r in runs)
    for r in runs:
        want = "old" if r["phase"] == "rollback" else "new"
        assert r["outcome"] == want, r


def test_a_node_cut_during_its_fetch_resumes_from_the_pages_it_wrote(runs):
    keep = [r for r in runs if r["phase"] == "transfer" and r["expect_held"] > 0]
    assert len(keep) >= 5
    for r in keep:
        assert r["resumed"] and r["held_after_boot"] == r["expect_held"], r
        # only a damaged newest page is lost, never more
        assert r["expect_held"] >= r["held_at_cut"] - 1, r
    torn = {r["torn"] for r in runs if r["phase"] == "transfer"}
    assert {"tmp", "short", "flip"} <= torn


def test_a_store_that_forgets_its_pages_at_boot_is_caught(bundle, runs, monkeypatch):
    from meshport import ota_port
    seed = [r["seed"] for r in runs if r["phase"] == "transfer" and r["expect_held"] > 0][0]
    monkeypatch.setattr(ota_port.FlashPageStore, "check", lambda self, manifest: self.truncate(0))
    r = pc.run(seed, bundle)
    assert r["phase"] == "transfer" and r["expect_held"] > 0
    assert not r["ok"] and r["failure"].startswith("kept 0 pages at boot"), r


def test_an_install_that_leaves_a_file_unswitched_is_caught_as_mixed(bundle, monkeypatch):
    from meshport import ota_boot
    every = ota_boot.bundle_files
    monkeypatch.setattr(ota_boot, "bundle_files", lambda: every()[:-1])    # main.py never renamed
    r = pc.run(INSTALL, bundle)
    assert r["phase"] == "install" and not r["ok"]
    assert len(r["mixed"]) >= pc.NODES - 1 and "mixed" in r["failure"], r


def _tree(tmp_path, files):
    root = str(tmp_path)
    for path, data in files.items():
        full = os.path.join(root, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(data)
    return root


def test_the_tree_check_tells_old_new_mixed_and_unbootable(bundle, tmp_path):
    old = dict(pc.OLD, **pc.USER)
    assert pc.tree_state(_tree(tmp_path / "old", old), bundle) == "old"
    running = b'{"version": %d, "bundle": "%s"}' % (pc.VERSION, bundle.bundle_id.encode())
    new = dict(old, **bundle.files)
    new["ota/running.json"] = running
    assert pc.tree_state(_tree(tmp_path / "new", new), bundle) == "new"
    mixed = dict(old, **{"mesh/core.mpy": bundle.files["mesh/core.mpy"]})
    assert pc.tree_state(_tree(tmp_path / "mixed", mixed), bundle).startswith("mixed: new ['mesh/core.mpy']")
    added = dict(old, **{"meshport/added.mpy": bundle.files["meshport/added.mpy"]})
    assert pc.tree_state(_tree(tmp_path / "added", added), bundle).startswith("mixed")
    unsaid = dict(new)
    del unsaid["ota/running.json"]
    assert pc.tree_state(_tree(tmp_path / "unsaid", unsaid), bundle).startswith("mixed: running.json")
    no_main = dict(old)
    del no_main["main.py"]
    assert pc.tree_state(_tree(tmp_path / "nomain", no_main), bundle) == "unbootable: main.py missing"
    torn_boot = dict(new, **{"boot.py": bundle.files["boot.py"][:5]})
    assert pc.tree_state(_tree(tmp_path / "torn", torn_boot), bundle) == "unbootable: boot.py damaged"
    user = dict(new, **{"app.py": b"# overwritten"})
    assert pc.tree_state(_tree(tmp_path / "user", user), bundle).startswith("mixed: user file app.py")
