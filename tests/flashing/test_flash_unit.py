"""nowmesh flash: chip/board/offset selection and every error path, calling the
real library and CLI with esptool's serial connection replaced by an
in-memory ROM loader (espfakes.FakeSerial) at the seam."""
import errno
import fcntl
import json
import os
import pty
import types

import pytest
import serial

from espfakes import FakeSerial, esp_image, write_image
from nowmesh import boards, cli
from nowmesh.errors import InputError, ToolError
from nowmesh.flashing import images, session
from nowmesh.emulation.rom.flashchip import FlashChip

ROM_ONLY = session.Connection(before="no-reset", after="no-reset", stub=False, attempts=1)


def _job(fake, board_name, data, **kw):
    board = boards.load_board(board_name)
    return session.FlashJob(fake.port, board, data, board["firmware_offset"], "fw.bin",
                            connection=ROM_ONLY, **kw)


def _flash(fake, job):
    return session.flash(job, opener=lambda path: fake)


@pytest.mark.parametrize("board_name, chip, offset", [
    ("esp32-devkitc", "esp32", 0x1000),
    ("esp32-s3-devkitc-1", "esp32s3", 0x0),
    ("esp32-c3-devkitm-1", "esp32c3", 0x0),
    ("lolin-s2-mini", "esp32s2", 0x1000),
    ("esp32-c6-devkitc-1", "esp32c6", 0x0),
])
def test_writes_at_the_board_profiles_offset_and_reports_the_chip(tmp_path, board_name, chip, offset):
    fake = FakeSerial(chip, str(tmp_path / "flash.bin"))
    data = esp_image(chip, size=6000)
    result = _flash(fake, _job(fake, board_name, data, baud=921600))
    assert fake.flash.read(offset, len(data)) == data
    assert fake.flash.read(offset + len(data), 16) == b"\xff" * 16
    assert (result["chip"], result["offset"], result["verified"]) == (chip, offset, True)
    assert result["mac"].startswith("24:0a:c4:")
    assert ("baud", 921600) in fake.rom.events        # it really switched rates


def test_board_chip_mismatch_is_refused_before_writing(tmp_path):
    fake = FakeSerial("esp32s3", str(tmp_path / "flash.bin"))
    with pytest.raises(ToolError, match="has an esp32s3, but board esp32-devkitc is an esp32"):
        _flash(fake, _job(fake, "esp32-devkitc", esp_image("esp32", size=2000)))
    assert not [e for e in fake.rom.events if e[0] == "erase"]


def test_board_not_in_bootloader_tells_to_hold_boot(tmp_path):
    for mode in ("silent", "repl"):
        fake = FakeSerial("esp32", str(tmp_path / ("flash-%s.bin" % mode)), mode=mode)
        with pytest.raises(ToolError, match="not in download mode; hold BOOT"):
            _flash(fake, _job(fake, "esp32-devkitc", esp_image("esp32", size=2000)))


def test_erase_clears_the_whole_flash_through_the_rom(tmp_path):
    fake = FakeSerial("esp32c3", str(tmp_path / "flash.bin"))
    fake.flash.erase(0x300000, 0x1000)
    fake.flash.program(0x300000, b"old filesystem")
    data = esp_image("esp32c3", size=3000)
    result = _flash(fake, _job(fake, "esp32-c3-devkitm-1", data, erase=True))
    assert result["erased"] and fake.flash.read(0x300000, 14) == b"\xff" * 14
    assert fake.flash.read(0, len(data)) == data


class _BitRotFlash(FlashChip):
    """A flash chip whose programming silently loses one bit: verification must catch it."""

    def program(self, offset, data):
        data = bytearray(data)
        if data:
            data[len(data) // 2] &= 0xFE
        super().program(offset, bytes(data))


def test_flash_that_does_not_hold_the_data_fails_verification(tmp_path):
    path = str(tmp_path / "flash.bin")
    fake = FakeSerial("esp32", path, flash=_BitRotFlash(path, 4 << 20))
    data = esp_image("esp32", size=4000, seed=7)
    with pytest.raises(ToolError, match="verify failed on fake://board"):
        _flash(fake, _job(fake, "esp32-devkitc", data))


@pytest.mark.parametrize("code, words", [
    (errno.ENOENT, "no such port /dev/x"),
    (errno.EACCES, "permission denied on /dev/x: add yourself to the dialout group"),
    (errno.EBUSY, "port /dev/x is busy"),
    (errno.EAGAIN, "port /dev/x is busy"),
])
def test_port_errors_are_one_clear_line(code, words):
    message = str(session.port_error("/dev/x", serial.SerialException(code, "boom")))
    assert message.startswith(words) and "\n" not in message


def test_permission_hint_follows_the_users_os(monkeypatch):
    monkeypatch.setattr(session.sys, "platform", "darwin")
    assert "Privacy & Security" in str(session.port_error("/dev/cu.x", serial.SerialException(errno.EACCES, "")))
    monkeypatch.setattr(session.sys, "platform", "win32")
    assert "COM port" in str(session.port_error("COM3", serial.SerialException(errno.EACCES, "")))


def test_missing_and_busy_ports_are_reported_by_the_real_opener():
    with pytest.raises(ToolError, match="no such port /dev/nowmesh-nope"):
        session.open_serial("/dev/nowmesh-nope")
    master, slave = pty.openpty()
    holder = os.open(os.ttyname(slave), os.O_RDWR | os.O_NOCTTY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX | fcntl.LOCK_NB)     # another program has it open exclusively
        with pytest.raises(ToolError, match="is busy"):
            session.open_serial(os.ttyname(slave))
    finally:
        for fd in (holder, slave, master):
            os.close(fd)


def test_ptys_use_the_no_reset_rom_connection():
    master, slave = pty.openpty()
    try:
        assert session.port_kind(os.ttyname(slave)) == "pty"
    finally:
        os.close(master), os.close(slave)
    assert session.port_kind("/dev/ttyUSB99") == "usb"
    assert session.CONNECTIONS["usb"].before == "default-reset" and session.CONNECTIONS["usb"].stub


def test_image_checks(tmp_path):
    board = boards.load_board("esp32-devkitc")
    good = tmp_path / "fw.bin"
    write_image(good, "esp32", size=1000)
    assert images.check_image_for_board(images.read_image(str(good)), board, "fw.bin") == "esp32"
    s3 = tmp_path / "s3.bin"
    write_image(s3, "esp32s3", size=1000)
    with pytest.raises(InputError, match="built for esp32s3, but board esp32-devkitc has an esp32"):
        images.check_image_for_board(images.read_image(str(s3)), board, "s3.bin")
    (tmp_path / "text.bin").write_bytes(b"<html>not found</html>" * 4)
    with pytest.raises(InputError, match="not an ESP firmware image \\(first byte 0x3c"):
        images.read_image(str(tmp_path / "text.bin"))
    with pytest.raises(InputError, match="firmware file not found"):
        images.read_image(str(tmp_path / "missing.bin"))


@pytest.mark.parametrize("argv, words", [
    (["flash", "--board", "esp32-devkitc", "--firmware", "x.bin"], "give one PORT or --all"),
    (["flash", "/dev/x", "--firmware", "x.bin"], "--board: is needed with --firmware"),
    (["flash", "/dev/x", "--board", "esp32-devkitc"], "say what to write"),
    (["flash", "/dev/x", "--images", "d"], "use --all"),
    (["flash", "/dev/x", "--board", "esp32-devkitc", "--firmware", "/nonexistent/fw.bin"],
     "firmware file not found"),
    (["flash", "/dev/x", "--board", "no-such-board", "--firmware", "fw.bin"], 'unknown board "no-such-board"'),
])
def test_cli_bad_input_is_one_line_exit_2(capsys, argv, words):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert words in err and err.count("\n") == 1 and "Traceback" not in err


def test_cli_no_such_port_exit_1(capsys, tmp_path):
    write_image(tmp_path / "fw.bin", "esp32", size=1000)
    code = cli.main(["flash", "/dev/nowmesh-nope", "--board", "esp32-devkitc",
                     "--firmware", str(tmp_path / "fw.bin")])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith("nowmesh flash: no such port /dev/nowmesh-nope")
    assert err.count("\n") == 1


def test_detected_ports_are_the_known_esp_usb_ids():
    def port(device, vid, pid):
        return types.SimpleNamespace(device=device, vid=vid, pid=pid)
    fake = [port("/dev/ttyUSB1", 0x10C4, 0xEA60), port("/dev/ttyACM0", 0x303A, 0x1001),
            port("/dev/ttyS0", None, None), port("/dev/ttyUSB0", 0x0403, 0x6001),
            port("/dev/ttyACM1", 0x2341, 0x0043)]
    # FTDI fronts many ESP32 boards (ESP-Prog): the same rule as `nowmesh ports` and `deploy --all`
    assert session.detected_ports(lambda: fake) == ["/dev/ttyACM0", "/dev/ttyUSB0", "/dev/ttyUSB1"]


def test_ports_are_assigned_in_order_then_kept_by_the_recorded_mapping(tmp_path):
    pairs, missing = images.assign_ports(str(tmp_path), ["n1", "n2", "n3"], ["/dev/a", "/dev/b"])
    assert pairs == [("n1", "/dev/a"), ("n2", "/dev/b")] and missing == ["n3"]
    assert json.loads((tmp_path / "ports.json").read_text()) == {"n1": "/dev/a", "n2": "/dev/b"}
    pairs, missing = images.assign_ports(str(tmp_path), ["n1", "n2", "n3"], ["/dev/c", "/dev/b", "/dev/a"])
    assert sorted(pairs) == [("n1", "/dev/a"), ("n2", "/dev/b"), ("n3", "/dev/c")] and not missing
    (tmp_path / "ports.json").write_text("[1, 2]")
    with pytest.raises(InputError, match="must map node names to port paths"):
        images.assign_ports(str(tmp_path), ["n1"], ["/dev/a"])
