"""The emulation's old module paths keep working for one release, with a warning."""
import importlib
import sys

import pytest

ALIASES = [
    ("nowmesh.emulator", "nowmesh.emulation.mesh", "Emulation"),
    ("nowmesh.emulate_control", "nowmesh.emulation.control", "request"),
    ("nowmesh.image.download", "nowmesh.emulation.rom.download", "DownloadMode"),
    ("nowmesh.emunode", "nowmesh.emulation.board", "EmulatedBoard"),
    ("nowmesh.rombootloader", "nowmesh.emulation.rom", "BootloaderPort"),
    ("nowmesh.emulation.medium_server", "nowmesh.emulation.medium.server", "main"),
    ("nowmesh.emunode.board", "nowmesh.emulation.board.pty_board", "parse_heap"),
    ("nowmesh.capture", "nowmesh.emulation.capture", "FrameCapture"),
    ("nowmesh.sim.topology", "nowmesh.radio.topology", "load_topology_file"),
    ("nowmesh.sim.radio", "nowmesh.radio.model", "RadioModel"),
]


@pytest.mark.parametrize("old, new, name", ALIASES)
def test_old_path_gives_the_new_objects_and_warns(old, new, name):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=new.replace(".", r"\.")):
        module = importlib.import_module(old)
    assert getattr(module, name) is getattr(importlib.import_module(new), name)
    assert module.__spec__.name == new          # the real module keeps its own identity


def test_python_m_old_path_runs_the_new_module():
    import subprocess
    out = subprocess.run([sys.executable, "-m", "nowmesh.emunode", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "FLASH_DIR" in out.stdout.replace("flash_dir", "FLASH_DIR")
    out = subprocess.run([sys.executable, "-m", "nowmesh.emulation.medium_server", "--help"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "--topology" in out.stdout
