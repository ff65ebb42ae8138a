"""Power cuts at every phase of an install on a live emulated board: the
board's supervisor kills n2's `micropython` process before a chosen change
to its flash (NOWMESH_POWERCUT, the emulation's power switch; docs/ota.md),
one cut per boot, through staging, keeping the old files, the file list,
the commit, the switch and the boot that rolls the switch forward. After
each cut the board boots (the old tree, or the new one rolled forward),
installs again from the pages it holds, and in the end `nowmesh ota` reports
both nodes on the new bundle, with nothing half-done left on n2's flash."""
import json
import os
import subprocess
import sys
import time

from test_ota_install_live import _nodes_once_known, _ota, _tree

# in the order they are met: four before the commit (each boot starts the
# install again from the held pages), one in the switch, one in the boot
# that rolls the switch forward
CUTS = ("stage boot.py", "keep main.py", "write ota/files.txt", "write ota/install.json",
        "rename main.py", "write ota/running.json")


def _leftovers(fs_dir):
    found = []
    for folder, _dirs, files in os.walk(fs_dir):
        found += [os.path.join(folder, f) for f in files if f.endswith((".nmnew", ".tmp"))]
    return found


def test_a_power_cut_at_every_phase_of_the_install_boots_and_ends_on_the_new_bundle(make_emulated_mesh,
                                                                                     tmp_path, capsys):
    mesh = make_emulated_mesh("line", nodes=2)
    mesh.restart("n2", power_cuts=CUTS)
    assert len(_nodes_once_known(capsys, mesh.node("n1").port, 2)) == 2     # `nowmesh ota` targets what n1 knows
    changed = _tree(tmp_path, "changed", ("meshport/__init__.py", lambda t: t + "# changed for the cuts\n"))
    rc, out = _ota(capsys, mesh.node("n1").port, "--firmware-dir", changed, "--now")
    board = mesh.node("n2").board
    assert board.resets["power"] == len(CUTS), (board.resets, out)   # every cut happened
    assert rc == 0 and out["ok"], out
    assert [n["fw"] for n in out["nodes"]] == [out["bundle"]] * 2, out
    fs_dir = mesh.node("n2").fs_dir
    assert _leftovers(fs_dir) == []
    assert not os.path.exists(os.path.join(fs_dir, "ota", "install.json"))     # confirmed


def _pages(fs_dir):
    """{page file: (inode, mtime_ns)} of the OTA pages on a board's flash."""
    folder = os.path.join(fs_dir, "ota")
    out = {}
    for name in os.listdir(folder) if os.path.isdir(folder) else ():
        if name[:1] == "p" and name[1:].isdigit():
            st = os.stat(os.path.join(folder, name))
            out[name] = (st.st_ino, st.st_mtime_ns)
    return out


def test_a_board_killed_mid_transfer_resumes_from_the_pages_it_held(make_emulated_mesh, tmp_path, capsys):
    mesh = make_emulated_mesh("line", nodes=2)
    assert len(_nodes_once_known(capsys, mesh.node("n1").port, 2)) == 2
    changed = _tree(tmp_path, "changed", ("meshport/__init__.py", lambda t: t + "# changed for the resume\n"))
    ota = subprocess.Popen([sys.executable, "-m", "nowmesh", "ota", mesh.node("n1").port, "--json", "--now",
                            "--firmware-dir", changed, "--timeout", "240"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        fs_dir = mesh.node("n2").fs_dir
        deadline = time.monotonic() + 120
        while len(_pages(fs_dir)) < 12 and time.monotonic() < deadline and ota.poll() is None:
            time.sleep(0.05)
        mesh.kill("n2")
        held = _pages(fs_dir)
        # the newest page may be the one a cut tore; the rest must be kept as they are
        kept = {name: held[name] for name in held if name != "p%d" % (len(held) - 1)}
        assert len(kept) >= 11, held
        time.sleep(1.0)
        mesh.restart("n2")
        out, err = ota.communicate(timeout=300)
    finally:
        if ota.poll() is None:
            ota.kill()
    result = json.loads(out)
    assert ota.returncode == 0 and result["ok"], (result, err[-2000:])
    total = len(_pages(fs_dir))
    assert total > len(held), (total, len(held))       # killed mid-transfer, not after it
    after = _pages(fs_dir)
    assert {name: after.get(name) for name in kept} == kept     # not fetched again from zero
