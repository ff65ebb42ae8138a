"""The live part of `make bench --only ota`: 10 emulated boards (the real
firmware in `micropython` processes, the emulated radio), a 5-hop line with
branches (n1..n6 in a line, n7..n10 one hop off n2..n5), updated through n1
by `nowmesh ota --json` as a user runs it after changing a firmware file.

Figures: wall time of the whole command (build, sign, hand-over to n1,
dissemination, the two-phase go, install, reboot, confirmation), the moment
every node held the bundle and the moment every node ran it (from the
command's progress lines), and the machine's load while it ran; the issue's
target is every node on the new bundle within 60 s.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from nowmesh.bundle.tree import changed_firmware
from nowmesh.emulation.mesh import Emulation

SPINE = ["n%d" % i for i in range(1, 7)]
BRANCHES = {"n7": "n2", "n8": "n3", "n9": "n4", "n10": "n5"}
RSSI = -70                       # every link good: the figure is the protocol's, not the loss's


def _topology_file(folder):
    links = [{"a": a, "b": b, "rssi": RSSI} for a, b in zip(SPINE, SPINE[1:])]
    links += [{"a": leaf, "b": stem, "rssi": RSSI} for leaf, stem in BRANCHES.items()]
    path = os.path.join(folder, "line-with-branches.json")
    with open(path, "w") as f:
        json.dump({"nodes": [{"name": n} for n in SPINE + list(BRANCHES)], "links": links}, f)
    return path


def _changed_firmware(folder):
    return changed_firmware(os.path.join(folder, "firmware"),
                            {"meshport/__init__.py": lambda t: t + "# changed for the OTA bench\n"})


def _cli(*args):
    return [sys.executable, "-m", "nowmesh"] + list(args)


def _wait_known(port, count, timeout_s=120.0):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = subprocess.run(_cli("nodes", port, "--json"), capture_output=True, text=True)
        if done.returncode == 0 and len(json.loads(done.stdout)["nodes"]) >= count:
            return True
        time.sleep(2.0)
    return False


def _timed_ota(port, firmware, timeout_s):
    """-> (rc, result, wall s, every node held at s, every node ran at s)."""
    start = time.monotonic()
    proc = subprocess.Popen(_cli("ota", port, "--json", "--firmware-dir", firmware, "--timeout", str(timeout_s)),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    held_at = ran_at = None
    for line in proc.stderr:             # "R/N nodes run bundle B, H more hold it"
        words = line.split()
        if len(words) >= 8 and words[1:4] == ["nodes", "run", "bundle"]:
            running, total = (int(x) for x in words[0].split("/"))
            holding = int(words[5])
            now = round(time.monotonic() - start, 1)
            if held_at is None and running + holding == total:
                held_at = now
            if ran_at is None and running == total:
                ran_at = now
    out = proc.stdout.read()
    proc.wait()
    wall = round(time.monotonic() - start, 1)
    return proc.returncode, (json.loads(out) if out.strip() else None), wall, held_at, ran_at


def _one(layout, topology, folder):
    emulation = Emulation(topology, 10, state_dir=os.path.join(folder, layout), interval_s=10)
    with emulation:
        port = emulation.node("n1").port
        known = _wait_known(port, 10)
        load_before = os.getloadavg()[0]
        rc, result, wall, held_at, ran_at = _timed_ota(port, _changed_firmware(os.path.join(folder, layout)), 300)
        load_after = os.getloadavg()[0]
    running = sum(1 for n in (result or {}).get("nodes", []) if n.get("ok"))
    out = {"nodes": 10, "layout": layout, "n1_knew_all_first": known, "rc": rc, "nodes_running_new": running,
           "wall_s": wall, "all_held_s": held_at, "all_running_s": ran_at, "target_s": 60,
           "load_1min": [round(load_before, 1), round(load_after, 1)]}
    print("  live, 10 emulated boards (%s): nowmesh ota exit %d, %d/10 run the new bundle; every node held it "
          "at %s s, ran it at %s s; the whole command %s s (target 60 s); load %s -> %s" % (
              layout, rc, running, held_at, ran_at, wall, out["load_1min"][0], out["load_1min"][1]), flush=True)
    return out


def run(quick=False):
    """The issue's layout (a 5-hop line with branches), then a plain 10-node
    line (9 hops: the worst case of 10 nodes) unless quick."""
    folder = tempfile.mkdtemp(prefix="nowmesh-ota-live-")
    try:
        out = _one("5-hop line with branches", _topology_file(folder), folder)
        if not quick:
            out["line_10"] = _one("10-node line, 9 hops", "line", folder)
        return out
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
