"""`nowmesh emulate --node-flash NODE=FILE` / `--key-file`: bad input gives
one line and a non-zero exit, before or without leaving anything running."""
import pytest

from nowmesh.cli import main


def run(capsys, *args):
    code = main(["emulate", "--nodes", "2", "--seconds", "0.1", *args])
    return code, capsys.readouterr().err


def test_node_flash_needs_node_equals_file(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["emulate", "--nodes", "2", "--node-flash", "n2"])
    assert exc.value.code == 2 and "NODE=FILE" in capsys.readouterr().err


def test_node_flash_names_a_node_of_the_topology(capsys, tmp_path):
    code, err = run(capsys, "--node-flash", "n9=%s" % (tmp_path / "f.bin"), "--state-dir", str(tmp_path / "s"))
    assert code == 2 and 'no node "n9"' in err


def test_missing_key_file(capsys, tmp_path):
    code, err = run(capsys, "--key-file", str(tmp_path / "none.json"), "--state-dir", str(tmp_path / "s"))
    assert code == 2 and "key file not found" in err


def test_a_flash_file_without_micropython_stops_the_emulation_cleanly(capsys, tmp_path):
    flash = tmp_path / "blank.flash"
    flash.write_bytes(b"\xff" * (4 << 20))
    code, err = run(capsys, "--node-flash", "n2=%s" % flash, "--state-dir", str(tmp_path / "s"))
    assert code == 1 and "no bootable MicroPython in the flash" in err and err.count("\n") == 1
    assert flash.read_bytes() == b"\xff" * (4 << 20)           # left as it was
