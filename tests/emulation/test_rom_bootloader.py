"""The emulated ROM bootloader against unmodified esptool (CLI subprocesses and
its Python API) on a real pty, plus golden wire bytes of the protocol."""
import hashlib
import signal
import struct
import subprocess
import sys

import pytest
from esptool import cmds
from esptool.util import FatalError

from espfakes import write_image
from nowmesh.emulation.rom import BootloaderPort, slip
from nowmesh.emulation.rom.flashchip import FlashChip
from nowmesh.emulation.rom.rom import RomLoader

ESPTOOL = [sys.executable, "-m", "esptool", "--no-stub", "--before", "no-reset", "--after", "no-reset",
           "--baud", "921600"]
CHIPS = ["esp32", "esp32s3", "esp32c3", "esp32s2", "esp32c6"]


def esptool(port, *args, options=()):
    return subprocess.run(ESPTOOL + list(options) + ["--port", port] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("chip", CHIPS)
def test_esptool_writes_verifies_and_reads_back(tmp_path, chip):
    flash_file = tmp_path / "flash.bin"
    data = write_image(tmp_path / "fw.bin", chip, size=12000)
    with BootloaderPort(chip, str(flash_file)) as board:
        ident = esptool(board.port, "flash-id")
        assert ident.returncode == 0, ident.stdout + ident.stderr
        assert "Detecting chip type... %s" % board.rom.chip["name"] in ident.stdout
        assert "Detected flash size: 4MB" in ident.stdout
        plain = esptool(board.port, "write-flash", "0x10000", tmp_path / "fw.bin", options=["--chip", chip])
        assert plain.returncode == 0 and "Hash of data verified." in plain.stdout, plain.stdout + plain.stderr
        packed = esptool(board.port, "write-flash", "--compress", "0x20000", tmp_path / "fw.bin")
        assert packed.returncode == 0 and "Hash of data verified." in packed.stdout, packed.stdout + packed.stderr
        back = esptool(board.port, "read-flash", "0x20000", len(data), tmp_path / "back.bin")
        assert back.returncode == 0, back.stdout + back.stderr
        assert (tmp_path / "back.bin").read_bytes() == data
        assert esptool(board.port, "verify-flash", "0x10000", tmp_path / "fw.bin",
                       options=["--chip", chip]).returncode == 0
        # the flash file is plain flash bytes at their addresses
        raw = flash_file.read_bytes()
        assert len(raw) == 4 << 20 and raw[0x10000:0x10000 + len(data)] == data
        assert raw[:0x10000] == b"\xff" * 0x10000
        # tamper with the flash behind the board's back: esptool's MD5 check sees it
        with open(flash_file, "r+b") as f:
            f.seek(0x10000 + 100)
            f.write(bytes([data[100] ^ 0x40]))
        tampered = esptool(board.port, "verify-flash", "0x10000", tmp_path / "fw.bin")
        assert tampered.returncode != 0
        assert "verification failed" in (tampered.stdout + tampered.stderr).lower()


def test_esptool_with_the_wrong_chip_argument_is_told_what_the_chip_is(tmp_path):
    with BootloaderPort("esp32c3", str(tmp_path / "f.bin")) as board:
        out = esptool(board.port, "flash-id", options=["--chip", "esp32s3"])
        assert out.returncode != 0 and "This chip is ESP32-C3, not ESP32-S3" in out.stdout + out.stderr


def test_chip_id_and_mac_reads(tmp_path):
    with BootloaderPort("esp32s3", str(tmp_path / "f.bin"), mac=bytes.fromhex("7cdfa1e0f04c")) as board:
        out = esptool(board.port, "chip-id")
        assert out.returncode == 0 and "7c:df:a1:e0:f0:4c" in out.stdout, out.stdout + out.stderr


def _connect(board):
    return cmds.detect_chip(board.port, connect_mode="no-reset", connect_attempts=1)


def test_baud_change_is_emulated_a_host_that_stays_behind_gets_no_answer(tmp_path):
    with BootloaderPort("esp32c3", str(tmp_path / "f.bin")) as board:
        with _connect(board) as esp:
            esp.command(esp.ESP_CMDS["CHANGE_BAUDRATE"], struct.pack("<II", 460800, 0))
            with pytest.raises(FatalError):           # still at 115200 on the host side
                esp.read_reg(0x60002000, timeout=0.3)
            esp._set_port_baudrate(460800)
            esp.flush_input()
            assert esp.read_reg(esp.MAC_EFUSE_REG) == board.rom.read_reg(esp.MAC_EFUSE_REG)


def test_bad_checksum_and_bad_deflate_get_the_roms_error_codes(tmp_path):
    with BootloaderPort("esp32", str(tmp_path / "f.bin")) as board, _connect(board) as esp:
        esp.flash_begin(1024, 0x8000)
        block = bytes(range(256)) * 4
        with pytest.raises(FatalError, match="0107"):  # status 1, error 7: checksum
            esp.check_command("write", esp.ESP_CMDS["FLASH_DATA"],
                              struct.pack("<IIII", len(block), 0, 0, 0) + block, esp.checksum(block) ^ 1)
        esp.flash_block(block, 0)
        assert board.flash.read(0x8000, 1024) == block
        esp.flash_defl_begin(4096, 1, 0x9000)
        junk = b"not zlib" * 8
        with pytest.raises(FatalError, match="010B"):  # error 0x0B: deflate
            esp.check_command("write", esp.ESP_CMDS["FLASH_DEFL_DATA"],
                              struct.pack("<IIII", len(junk), 0, 0, 0) + junk, esp.checksum(junk))


def test_after_run_the_rom_hands_over_to_the_app_and_stops_answering(tmp_path):
    runs = []
    with BootloaderPort("esp32", str(tmp_path / "f.bin"), on_run=runs.append) as board:
        out = subprocess.run([sys.executable, "-m", "esptool", "--no-stub", "--before", "no-reset",
                              "--after", "soft-reset", "--port", board.port, "flash-id"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and runs == ["run"], out.stdout + out.stderr
        again = esptool(board.port, "flash-id", options=["--connect-attempts", "1"])
        assert again.returncode != 0                   # the "app" owns the chip now
        board.reset()                                  # EN with BOOT held: download mode again
        assert esptool(board.port, "flash-id").returncode == 0


def _response(chip, packet):
    flash = FlashChip(_response.path, 4 << 20)
    try:
        rom = RomLoader(chip, flash, bytes(6))
        sync = struct.pack("<BBHI", 0, 8, 36, 0) + b"\x07\x07\x12\x20" + b"\x55" * 32
        assert len(rom.handle(sync)) == 8
        return rom.handle(packet)
    finally:
        flash.close()


def test_golden_wire_bytes(tmp_path):
    _response.path = str(tmp_path / "f.bin")
    read_magic = struct.pack("<BBHI", 0, 0x0A, 4, 0) + struct.pack("<I", 0x40001000)
    # ESP32: value 0x00f01d83, then 4 status bytes
    assert _response("esp32", read_magic) == [bytes.fromhex("010a0400831df000" "00000000")]
    # ESP32-S3: 2 status bytes; its security info carries chip id 9
    assert _response("esp32s3", struct.pack("<BBHI", 0, 0x14, 0, 0)) == [
        bytes.fromhex("0114160000000000") + bytes(12) + struct.pack("<II", 9, 0) + b"\x00\x00"]
    # ESP32 ROM has no GET_SECURITY_INFO: status 1, error 5 (invalid message)
    assert _response("esp32", struct.pack("<BBHI", 0, 0x14, 0, 0)) == [bytes.fromhex("0114040000000000" "01050000")]
    md5 = _response("esp32c3", struct.pack("<BBHI", 0, 0x13, 16, 0) + struct.pack("<IIII", 0, 4096, 0, 0))
    assert md5 == [bytes.fromhex("0113220000000000") + hashlib.md5(b"\xff" * 4096).hexdigest().encode() + b"\0\0"]
    assert slip.encode(b"\xc0\xdb") == b"\xc0\xdb\xdc\xdb\xdd\xc0"
    assert slip.Decoder().feed(b"noise\xc0\xdb\xdc\xdb\xdd\xc0\xc0ab\xc0") == [b"\xc0\xdb", b"ab"]


@pytest.mark.parametrize("command", [["rom", "esp32c3"], ["emulate", "--bootloader", "esp32c3"]])
def test_rom_command_serves_until_interrupted(tmp_path, command):
    flash_file = tmp_path / "c3.bin"
    proc = subprocess.Popen([sys.executable, "-m", "nowmesh", *command,
                             "--flash-size", "2MB", "--flash-file", str(flash_file)],
                            stdout=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        port = first.split(" on ")[1].split(" ")[0]
        assert first.startswith("esp32c3 ROM bootloader on /dev/") and flash_file.stat().st_size == 2 << 20
        out = esptool(port, "flash-id")
        assert out.returncode == 0 and "Detected flash size: 2MB" in out.stdout, out.stdout + out.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0


def test_emulate_command_refuses_a_flash_file_of_the_wrong_size(tmp_path, capsys):
    from nowmesh import cli
    (tmp_path / "small.bin").write_bytes(b"\xff" * 4096)
    assert cli.main(["emulate", "--bootloader", "esp32", "--flash-file", str(tmp_path / "small.bin")]) == 2
    assert "holds 4096 bytes, not the flash size 4194304" in capsys.readouterr().err
    assert cli.main(["rom", "esp32", "--flash-file", str(tmp_path / "small.bin")]) == 2
    assert "holds 4096 bytes, not the flash size 4194304" in capsys.readouterr().err
