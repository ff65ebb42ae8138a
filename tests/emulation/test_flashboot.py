"""Emulated boards booting from a flash file (nowmesh.emulation.rom.flashboot), as
MicroPython's _boot.py/inisetup.py do: a good filesystem is used, a blank one
formatted, a corrupt one reported and left alone."""
import hashlib
import json
import os
import time

import pytest
import serial

from imagefakes import firmware
from nowmesh import boards
from nowmesh.emulation.mesh import DEFAULT_KEY
from nowmesh.emulation.board.pty_board import EmulatedBoard
from nowmesh.emulation.rom import flashboot
from nowmesh.image import fsimage
from nowmesh.image.build import build_images

BOARD = boards.load_board("esp32-devkitc")
FLASH = 4 << 20
FS_OFFSET = 0x220000                      # v1.26 layout: after the factory partition


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("flashboot")
    (tmp / "fw.bin").write_bytes(firmware(version="v1.26.0"))
    (tmp / "key.json").write_text(json.dumps({"key": DEFAULT_KEY}))     # the emulated mesh's key
    build_images(str(tmp / "fw.bin"), "esp32-devkitc", ["barn", "silo"], str(tmp / "img"),
                 str(tmp / "key.json"), interval_s=3)
    return {name: (tmp / "img" / (name + ".bin")).read_bytes() for name in ("barn", "silo")}


def write_flash(path, image, offset=0x1000):
    flash = bytearray(b"\xff" * FLASH)
    flash[offset:offset + len(image)] = image
    path.write_bytes(flash)
    return path


def fs_files(fs_dir):
    found = set()
    for root, _dirs, files in os.walk(fs_dir):
        found |= {os.path.relpath(os.path.join(root, f), fs_dir).replace(os.sep, "/") for f in files}
    return found


def test_a_good_filesystem_is_unpacked_for_the_board(tmp_path, images):
    flash = write_flash(tmp_path / "flash.bin", images["barn"])
    boot = flashboot.prepare(str(flash), str(tmp_path / "fs"), BOARD)
    assert boot.state == "mounted" and boot.env == {} and boot.version == "v1.26.0"
    region = images["barn"][FS_OFFSET - 0x1000:]
    assert fs_files(tmp_path / "fs") == set(fsimage.read(region)) == set(boot.files)
    assert json.loads((tmp_path / "fs" / "nowmesh.json").read_text())["name"] == "barn"


def test_a_restart_keeps_what_the_node_wrote_until_the_flash_changes(tmp_path, images):
    flash = write_flash(tmp_path / "flash.bin", images["barn"])
    fs = tmp_path / "fs"
    flashboot.prepare(str(flash), str(fs), BOARD)
    (fs / "bootcount").write_text("7")                  # as the running node writes its boot counter
    flashboot.prepare(str(flash), str(fs), BOARD)
    assert (fs / "bootcount").read_text() == "7"
    write_flash(flash, images["silo"])                  # re-flashed with another image
    flashboot.prepare(str(flash), str(fs), BOARD)
    assert not (fs / "bootcount").exists()
    assert json.loads((fs / "nowmesh.json").read_text())["name"] == "silo"


def test_a_blank_filesystem_gets_micropythons_initial_setup(tmp_path, images):
    fw_only = images["barn"][:FS_OFFSET - 0x1000]
    flash = write_flash(tmp_path / "flash.bin", fw_only)
    boot = flashboot.prepare(str(flash), str(tmp_path / "fs"), BOARD)
    assert boot.state == "setup" and boot.env["NOWMESH_FS_STATE"] == "setup"
    assert fs_files(tmp_path / "fs") == {"boot.py"}
    written = flash.read_bytes()[FS_OFFSET:]
    assert fsimage.read(written) == {"boot.py": flashboot.DEFAULT_BOOT_PY}    # now in the flash too
    assert flashboot.prepare(str(flash), str(tmp_path / "fs"), BOARD).state == "mounted"


def test_a_corrupt_filesystem_is_reported_and_never_repaired(tmp_path, images):
    image = bytearray(images["barn"])
    start = FS_OFFSET - 0x1000
    image[start:start + 8192] = bytes(8192)             # both superblock copies zeroed
    flash = write_flash(tmp_path / "flash.bin", bytes(image))
    before = hashlib.sha256(flash.read_bytes()).hexdigest()
    boot = flashboot.prepare(str(flash), str(tmp_path / "fs"), BOARD)
    assert boot.state == "corrupt" and boot.env["NOWMESH_FS_STATE"] == "corrupt"
    assert fs_files(tmp_path / "fs") == set()
    assert hashlib.sha256(flash.read_bytes()).hexdigest() == before


def test_a_flash_without_micropython_does_not_boot(tmp_path):
    flash = tmp_path / "flash.bin"
    flash.write_bytes(b"\xff" * FLASH)
    with pytest.raises(flashboot.BootError, match="no bootable MicroPython"):
        flashboot.prepare(str(flash), str(tmp_path / "fs"), BOARD)


def read_until(port, want, seconds):
    seen = b""
    end = time.monotonic() + seconds
    while time.monotonic() < end and not all(w in seen for w in want):
        seen += port.read(4096)
    return seen.decode(errors="replace")


def test_the_corrupt_board_prints_micropythons_message_until_ctrl_c(tmp_path, images):
    image = bytearray(images["barn"])
    image[FS_OFFSET - 0x1000:FS_OFFSET - 0x1000 + 8192] = b"\x5a" * 8192
    flash = write_flash(tmp_path / "flash.bin", bytes(image))
    boot = flashboot.prepare(str(flash), str(tmp_path / "fs"), BOARD)
    board = EmulatedBoard(str(tmp_path / "fs"), micropypath_extra=boot.extra, env=boot.env)
    with board, serial.Serial(board.port, 115200, timeout=0.2) as port:
        text = read_until(port, [b"perform\r\nfactory reprogramming"], 10)
        assert "The filesystem appears to be corrupted." in text
        port.write(b"\x03")
        text = read_until(port, [b">>> "], 10)
        assert "KeyboardInterrupt" in text and text.rstrip().endswith(">>>")


def test_an_image_booted_from_flash_joins_the_mesh(tmp_path, images, make_emulated_mesh):
    flash = write_flash(tmp_path / "barn.flash", images["barn"])
    mesh = make_emulated_mesh("line", nodes=2, flash_images={"n2": str(flash)})
    assert mesh.command("n2", "status")["name"] == "barn"
    readings = mesh.wait_for_readings(at="n1", from_=["n2"], timeout=45)
    assert readings["n2"]["name"] == "barn"
    assert {v[0] for v in readings["n2"]["values"]} >= {"temp_mcu", "soil"}    # esp32-devkitc's sensors
    mesh.restart("n2")                        # a power cycle: same flash, boot counter moves on
    assert mesh.command("n2", "status")["boot"] == 2
    mesh.wait_for_readings(at="n1", from_=["n2"], timeout=45, max_age_s=3)


def test_an_image_for_4mb_on_an_8mb_board_is_a_corrupt_filesystem(tmp_path, images):
    """v1.26+ sizes the filesystem from the physical flash: littlefs refuses a
    superblock whose block count differs, and MicroPython reports corruption."""
    flash = tmp_path / "flash.bin"
    data = bytearray(b"\xff" * (8 << 20))
    data[0x1000:0x1000 + len(images["barn"])] = images["barn"]
    flash.write_bytes(data)
    boot = flashboot.prepare(str(flash), str(tmp_path / "fs"), BOARD)
    assert boot.state == "corrupt" and boot.region.end == 8 << 20


def test_the_blank_board_says_initial_setup_and_reaches_the_repl(tmp_path, images):
    flash = write_flash(tmp_path / "flash.bin", images["barn"][:FS_OFFSET - 0x1000])
    boot = flashboot.prepare(str(flash), str(tmp_path / "fs"), BOARD)
    seen = bytearray()          # every byte the board prints, also before a tool opens its port
    board = EmulatedBoard(str(tmp_path / "fs"), micropypath_extra=boot.extra, env=boot.env, tap=seen.extend)
    with board:
        deadline = time.monotonic() + 10
        while b">>> " not in seen and time.monotonic() < deadline:
            time.sleep(0.1)
    text = seen.decode(errors="replace")
    assert "Performing initial setup" in text and text.rstrip().endswith(">>>")
