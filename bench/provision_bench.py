"""Provisioning N emulated boards, two ways, side by side (issue 6):

  images: `nowmesh image` (one image per node), `nowmesh flash --all --images`
          (esptool writes each board's image, in parallel), power on;
  deploy: `nowmesh flash --all --firmware` (MicroPython only), power on, then
          `nowmesh deploy PORT --name ...` board after board over the REPL.

Every board is an emulated ROM bootloader on a pty (unmodified esptool,
--no-stub, as `nowmesh flash` drives a pty) backed by a flash file; "power
on" starts an emulated mesh whose nodes boot from those flash files. A way is
done when every node answers `status` with its own name. The firmware is a
small stand-in built like tests/imagefakes.py (bootloader, partition
table, app with esp_app_desc_t), so esptool moves less data than a real
1.6 MB MicroPython would: the figures compare the two ways, not a real USB
link's speed. Timing figures are wall clock on a shared machine.
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests", "image"))

import imagefakes  # noqa: E402
from nowmesh.console import ConsoleError  # noqa: E402
from nowmesh.emulation.mesh import DEFAULT_KEY  # noqa: E402
from nowmesh.pytest_plugin import EmulatedMesh  # noqa: E402
from nowmesh.emulation.rom import BootloaderPort  # noqa: E402

BOARD = "esp32-devkitc"
NOWMESH = [sys.executable, "-m", "nowmesh"]


def _nowmesh(*args):
    proc = subprocess.run(NOWMESH + list(args), capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError("nowmesh %s failed: %s" % (args[0], proc.stderr.strip()[-500:]))
    return proc.stdout


class Timer:
    def __init__(self):
        self.phases = {}

    def phase(self, name, func, *args):
        started = time.perf_counter()
        result = func(*args)
        self.phases[name] = round(time.perf_counter() - started, 2)
        return result


def _flash_all(flash_files, what):
    """Run `nowmesh flash --all ... --ports` against one emulated ROM per flash file."""
    roms = [BootloaderPort("esp32", path, 4 << 20, on_run=lambda reason: None) for path in flash_files]
    for rom in roms:
        rom.start()
    try:
        out = json.loads(_nowmesh("flash", "--all", "--ports", *[r.port for r in roms], *what, "--json"))
    finally:
        for rom in roms:
            rom.stop()
    if out["failed"] or out["flashed"] != len(flash_files):
        raise RuntimeError("flash --all: %s" % out)
    return out


def _power_on(work, names, flash_files):
    mesh = EmulatedMesh("line", nodes=len(names), state_dir=os.path.join(work, "mesh"), interval_s=3,
                        flash_images=dict(zip(["n%d" % (i + 1) for i in range(len(names))], flash_files)))
    return mesh.start()


def _wait_named(mesh, names):
    for slot, name in zip(mesh.names, names):
        deadline = time.monotonic() + 60
        while _status_name(mesh, slot) != name:
            if time.monotonic() > deadline:
                raise RuntimeError("%s never came up as %s" % (slot, name))
            time.sleep(0.5)


def _status_name(mesh, slot):
    try:
        return mesh.command(slot, "status", timeout=5).get("name")
    except ConsoleError:            # still booting (or busy): ask again
        return None


def _deploy_each(mesh, names, key_file):
    """-> file bytes each deploy sent over the REPL."""
    sent = []
    for slot, name in zip(mesh.names, names):
        args = ("deploy", mesh.port(slot), "--name", name, "--board", BOARD, "--key-file", key_file, "--json")
        try:
            out = _nowmesh(*args)
        except RuntimeError as e:       # seen rarely under load: counted, and deployed again
            RETRIES.append("%s: %s" % (name, e))
            out = _nowmesh(*args)
        sent.append(json.loads(out)["file_bytes_sent"])
    return sent


RETRIES = []       # deploys that failed once and were run again (reported with the figures)


def way_images(work, fw, names, key_file):
    timer = Timer()
    flash_files = [os.path.join(work, "img-%s.flash" % n) for n in names]
    out_dir = os.path.join(work, "images")
    name_args = [a for n in names for a in ("--name", n)]
    timer.phase("build", _nowmesh, "image", "--board", BOARD, "--firmware", fw, *name_args, "--out", out_dir,
                "--key-file", key_file, "--interval", "3")
    timer.phase("flash", _flash_all, flash_files, ["--images", out_dir])
    mesh = timer.phase("power_on", _power_on, work, names, flash_files)
    try:
        timer.phase("until_named", _wait_named, mesh, names)
    finally:
        mesh.stop()
    return timer.phases, _compressed_fs_bytes(out_dir, fw)


def _compressed_fs_bytes(out_dir, fw):
    """Per board, what the filesystem adds to esptool's compressed stream (zlib level 9, as
    esptool compresses): the image's bytes past the firmware file."""
    with open(fw, "rb") as f:
        fw_len = len(f.read())
    with open(os.path.join(out_dir, "manifest.json")) as f:
        nodes = json.load(f)["nodes"]
    sizes = []
    for node in nodes.values():
        with open(os.path.join(out_dir, node["file"]), "rb") as f:
            sizes.append(len(zlib.compress(f.read()[fw_len:], 9)))
    return sizes


def way_deploy(work, fw, names, key_file):
    timer = Timer()
    flash_files = [os.path.join(work, "dep-%s.flash" % n) for n in names]
    timer.phase("flash", _flash_all, flash_files, ["--board", BOARD, "--firmware", fw])
    mesh = timer.phase("power_on", _power_on, work, names, flash_files)
    try:
        sent = timer.phase("deploy", _deploy_each, mesh, names, key_file)
        timer.phase("until_named", _wait_named, mesh, names)
    finally:
        mesh.stop()
    return timer.phases, sent


def run(quick):
    count = 2 if quick else 5
    names = ["field-%d" % (i + 1) for i in range(count)]
    with tempfile.TemporaryDirectory(prefix="nowmesh-provision-") as work:
        fw = os.path.join(work, "micropython.bin")
        with open(fw, "wb") as out:
            out.write(imagefakes.firmware(chip="esp32", version="v1.26.0"))
        key_file = os.path.join(work, "key.json")
        with open(key_file, "w") as out:
            json.dump({"key": DEFAULT_KEY}, out)
        images, fs_wire = way_images(work, fw, names, key_file)
        deploy, repl_bytes = way_deploy(work, fw, names, key_file)
    ways = {"images": images, "deploy": deploy}
    for phases in ways.values():
        phases["total"] = round(sum(phases.values()), 2)
    result = {"boards": count, "board": BOARD, "ways": ways, "loadavg": _loadavg(),
              "speedup": round(ways["deploy"]["total"] / ways["images"]["total"], 2),
              "link_model": _link_model(fs_wire, repl_bytes), "deploy_retries": list(RETRIES)}
    _print(result)
    return result


# Real links, not emulated ones: esptool writes at --baud 460800 (nowmesh flash's
# default), a deploy talks to the REPL at 115200; 8N1 = 10 bits per byte.
ESPTOOL_BPS, REPL_BPS = 460800 / 10, 115200 / 10


def _link_model(fs_wire, repl_bytes):
    """What the filesystem part costs on real serial links (a model, not a
    measurement; the MicroPython firmware itself is written either way): the
    images way sends each board's compressed filesystem with esptool, boards in
    parallel; the deploy way sends the files over the REPL, board after board
    (raw-paste framing not counted, so deploy is if anything undercounted)."""
    return {"images_s": round(max(fs_wire) / ESPTOOL_BPS, 1),
            "deploy_s": round(sum(repl_bytes) / REPL_BPS, 1),
            "fs_wire_bytes_per_board": max(fs_wire), "repl_file_bytes_per_board": max(repl_bytes),
            "esptool_baud": 460800, "repl_baud": 115200}


def _loadavg():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return None


def _print(result):
    ways = result["ways"]
    phases = ["build", "flash", "power_on", "deploy", "until_named", "total"]
    print("  provisioning %d emulated %s boards (seconds, load %s)" % (result["boards"], result["board"],
                                                                      result["loadavg"]))
    print("  %-12s %10s %10s" % ("phase", "images", "deploy"))
    for phase in phases:
        print("  %-12s %10s %10s" % (phase, ways["images"].get(phase, "-"), ways["deploy"].get(phase, "-")))
    print("  flash + deploy per board / image + flash --all = %sx (emulated links: no baud-rate limit)"
          % result["speedup"])
    for retry in result["deploy_retries"]:
        print("  (a deploy was run twice: %s)" % retry[:200])
    model = result["link_model"]
    print("  on real links (model): filesystem by esptool at %d baud, boards in parallel: %s s; "
          "files by deploy at %d baud, board after board: %s s"
          % (model["esptool_baud"], model["images_s"], model["repl_baud"], model["deploy_s"]))


if __name__ == "__main__":
    run("--quick" in sys.argv)
