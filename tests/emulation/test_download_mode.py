"""A node of a running mesh goes into download mode, unmodified esptool
(`nowmesh flash --image`) writes a new image to it, and on esptool's soft
reset it boots from that flash and rejoins the mesh under its image's name."""
import json
import subprocess
import sys
import time

import pytest

from imagefakes import firmware
from nowmesh.emulation.mesh import DEFAULT_KEY
from nowmesh.emulation.rom.download import DownloadMode


def nowmesh(*args):
    proc = subprocess.run([sys.executable, "-m", "nowmesh", *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def barn_image(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dl")
    (tmp / "fw.bin").write_bytes(firmware(version="v1.26.0"))
    (tmp / "key.json").write_text(json.dumps({"key": DEFAULT_KEY}))
    nowmesh("image", "--board", "esp32-devkitc", "--firmware", str(tmp / "fw.bin"), "--name", "barn",
            "--out", str(tmp / "img"), "--key-file", str(tmp / "key.json"), "--interval", "3")
    return str(tmp / "img" / "barn.bin")


def test_a_running_node_is_reflashed_in_the_field(tmp_path, barn_image, make_emulated_mesh):
    mesh = make_emulated_mesh("line", nodes=3)
    mesh.wait_for_readings(at="n1", from_=["n3"], timeout=45)
    with DownloadMode(mesh.emulation, "n3", str(tmp_path / "n3.flash")) as dl:
        assert not mesh.running("n3")
        out = json.loads(nowmesh("flash", dl.port, "--image", barn_image, "--json"))
        assert out["flashed"] == 1 and out["boards"][0]["verified"]
        dl.wait_booted(30)
    assert mesh.running("n3") and mesh.command("n3", "status")["name"] == "barn"
    # the rest of the mesh learns the new name from n3's next readings
    deadline = time.monotonic() + 30
    while True:
        names = {n["id"]: n["name"] for n in json.loads(nowmesh("nodes", mesh.port("n2"), "--json"))["nodes"]}
        if names.get(mesh.mac("n3")) == "barn" or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert names.get(mesh.mac("n3")) == "barn", names


def test_a_failed_boot_is_reported(tmp_path, make_emulated_mesh):
    """esptool's soft reset with no MicroPython in the flash: the node stays off, and says why."""
    mesh = make_emulated_mesh("line", nodes=2)
    with DownloadMode(mesh.emulation, "n2", str(tmp_path / "n2.flash")) as dl:
        # unmodified esptool CLI, nothing written, then its soft reset (FLASH_END "run")
        proc = subprocess.run([sys.executable, "-m", "esptool", "--port", dl.port, "--no-stub", "--before",
                               "no-reset", "--after", "soft-reset", "flash-id"], capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        with pytest.raises(Exception, match="no bootable MicroPython"):
            dl.wait_booted(10)
    assert not mesh.running("n2")
