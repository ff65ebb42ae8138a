"""`nowmesh flash` end to end: the real CLI in a subprocess, esptool's API, a
real pty, and the emulated ROM bootloader writing plain flash files."""
import json
import subprocess
import sys

import pytest

from espfakes import write_image
from nowmesh import boards
from nowmesh.emulation.rom import BootloaderPort


def nowmesh(*args):
    return subprocess.run([sys.executable, "-m", "nowmesh"] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("board_name", ["esp32-devkitc", "esp32-s3-devkitc-1", "esp32-c3-devkitm-1"])
def test_flash_writes_firmware_at_the_profile_offset(tmp_path, board_name):
    board = boards.load_board(board_name)
    data = write_image(tmp_path / "fw.bin", board["chip"], size=15000)
    with BootloaderPort(board["chip"], str(tmp_path / "flash.bin")) as rom:
        out = nowmesh("flash", rom.port, "--board", board_name, "--firmware", tmp_path / "fw.bin",
                      "--baud", 921600, "--json")
        assert out.returncode == 0, out.stdout + out.stderr
        result = json.loads(out.stdout)["boards"][0]
        assert (result["ok"], result["chip"], result["offset"]) == (True, board["chip"], board["firmware_offset"])
        raw = (tmp_path / "flash.bin").read_bytes()
        offset = board["firmware_offset"]
        assert raw[offset:offset + len(data)] == data
        assert ("baud", 921600) in rom.events and rom.events[-1] == ("reset",)   # soft reset: app started


def test_flash_refuses_the_wrong_chip_and_a_board_not_in_download_mode(tmp_path):
    write_image(tmp_path / "fw.bin", "esp32", size=2000)
    with BootloaderPort("esp32c3", str(tmp_path / "flash.bin")) as rom:
        out = nowmesh("flash", rom.port, "--board", "esp32-devkitc", "--firmware", tmp_path / "fw.bin")
        assert out.returncode == 1
        assert out.stderr.strip() == ("nowmesh flash: %s has an esp32c3, but board esp32-devkitc is an esp32: "
                                      "pick the matching --board" % rom.port)
    # the app runs (the ROM handed over): nothing answers the loader's SYNC
    with BootloaderPort("esp32", str(tmp_path / "flash2.bin"), on_run=lambda why: None) as rom:
        rom.rom.leave("run")
        out = nowmesh("flash", rom.port, "--board", "esp32-devkitc", "--firmware", tmp_path / "fw.bin")
        assert out.returncode == 1 and "not in download mode; hold BOOT" in out.stderr
        assert out.stderr.count("\n") == 1


def _images_folder(folder, chip, names):
    """A folder laid out as `nowmesh image` writes it: <node>.bin + manifest.json."""
    folder.mkdir()
    nodes = {}
    for i, name in enumerate(names):
        data = write_image(folder / (name + ".bin"), chip, size=3000 + 500 * i, seed=i)
        nodes[name] = {"file": name + ".bin", "offset": 0x1000, "size": len(data)}
    manifest = {"format": "nowmesh-images/1", "board": "esp32-devkitc", "chip": chip,
                "flash_size": "4MB", "flash_offset": 0x1000, "nodes": nodes}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return {name: (folder / (name + ".bin")).read_bytes() for name in names}


def test_flash_all_images_assigns_ports_in_order_and_keeps_the_mapping(tmp_path):
    images = _images_folder(tmp_path / "images", "esp32", ["n1", "n2", "n3"])
    with BootloaderPort("esp32", str(tmp_path / "a.bin")) as a, BootloaderPort("esp32", str(tmp_path / "b.bin")) as b:
        out = nowmesh("flash", "--all", "--images", tmp_path / "images", "--ports", a.port, b.port, "--json")
        report = json.loads(out.stdout)
        assert out.returncode == 1 and report["unassigned"] == ["n3"]       # 3 images, 2 boards
        assert [(r["node"], r["port"], r["ok"]) for r in report["boards"]] == [("n1", a.port, True),
                                                                             ("n2", b.port, True)]
        assert json.loads((tmp_path / "images" / "ports.json").read_text()) == {"n1": a.port, "n2": b.port}
        for flash_file, node in ((tmp_path / "a.bin", "n1"), (tmp_path / "b.bin", "n2")):
            raw = flash_file.read_bytes()
            assert raw[0x1000:0x1000 + len(images[node])] == images[node]
        # ports given the other way round: the recorded mapping still decides
        out = nowmesh("flash", "--all", "--images", tmp_path / "images", "--ports", b.port, a.port)
        assert "2 of 2 boards flashed" in out.stdout and "n3" in out.stdout, out.stdout + out.stderr
        assert (tmp_path / "b.bin").read_bytes()[0x1000:0x1000 + len(images["n2"])] == images["n2"]


def test_flash_one_image_from_a_folder_uses_its_manifest(tmp_path):
    images = _images_folder(tmp_path / "images", "esp32", ["n7"])
    with BootloaderPort("esp32", str(tmp_path / "f.bin")) as rom:
        out = nowmesh("flash", rom.port, "--image", tmp_path / "images" / "n7.bin")
        assert out.returncode == 0, out.stdout + out.stderr
        assert out.stdout.startswith("n7 @ %s: ok" % rom.port)
        assert (tmp_path / "f.bin").read_bytes()[0x1000:0x1000 + len(images["n7"])] == images["n7"]
