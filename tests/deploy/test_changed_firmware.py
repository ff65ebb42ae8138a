"""nowmesh.bundle.tree.changed_firmware: the firmware tree copied with some
files edited (what the OTA tests and bench push over the mesh), the
original left as it was."""
import os

from nowmesh.bundle.tree import changed_firmware, firmware_dir


def test_a_copy_with_one_file_edited_and_the_original_untouched(tmp_path):
    original = open(os.path.join(firmware_dir(), "meshport", "__init__.py")).read()
    dest = changed_firmware(str(tmp_path / "fw"), {"meshport/__init__.py": lambda t: t + "# edited\n"})
    assert dest == str(tmp_path / "fw")
    assert open(os.path.join(dest, "meshport", "__init__.py")).read() == original + "# edited\n"
    assert open(os.path.join(firmware_dir(), "meshport", "__init__.py")).read() == original
    assert open(os.path.join(dest, "main.py")).read() == open(os.path.join(firmware_dir(), "main.py")).read()
    assert not [d for _root, dirs, _files in os.walk(dest) for d in dirs if d == "__pycache__"]
