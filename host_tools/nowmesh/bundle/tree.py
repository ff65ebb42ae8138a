"""Where the bundle's files are: found through the import system, so the same
call works in a checkout (`pip install -e .` maps the packages to firmware/,
boards/ and examples/) and in an installed wheel (they are package data)."""
import importlib.resources
import os
import shutil

from nowmesh.errors import ToolError


def _folder(package):
    try:
        path = importlib.resources.files(package)
    except ModuleNotFoundError:
        raise ToolError("%s is missing from this nowmesh installation: reinstall it "
                        "(pip install nowmesh, or `make venv` in a checkout)" % package) from None
    return os.fspath(path)


def firmware_dir():
    """The firmware tree: boot.py, main.py, the mesh and meshport packages, manifest.py."""
    return _folder("nowmesh.bundle.firmware")


def boards_dir():
    """The board profiles (<name>.json)."""
    return _folder("nowmesh.bundle.boards")


def examples_dir():
    """Example topologies and scenarios (the simulator's demo farm)."""
    return _folder("nowmesh.bundle.examples")


def changed_firmware(dest, edits):
    """A copy of the firmware tree at `dest` (no caches) with `edits`
    ({path inside the tree: function(text) -> new text}) applied: a bundle
    that differs from the running one, for a test or a bench to deploy or
    push over the mesh. -> dest."""
    shutil.copytree(firmware_dir(), dest, ignore=shutil.ignore_patterns("__pycache__"))
    for path, edit in edits.items():
        full = os.path.join(dest, path)
        with open(full) as f:
            text = f.read()
        with open(full, "w") as f:
            f.write(edit(text))
    return dest
