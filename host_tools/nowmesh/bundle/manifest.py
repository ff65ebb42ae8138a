"""What ships to a board: firmware/manifest.py, read the way micropython-lib
reads its manifests (the file calls module() and package()), and the one walk
over the firmware tree that turns it into board files."""
import os

from nowmesh.bundle.tree import firmware_dir
from nowmesh.errors import InputError

MANIFEST_FILE = "manifest.py"


class Manifest:
    def __init__(self):
        self.modules = []           # copied as source
        self.packages = []          # compiled to .mpy

    def module(self, path):
        self.modules.append(path)

    def package(self, name):
        self.packages.append(name)

    def sources(self, root):
        """[(board path, source file, compiled?)] for a firmware tree, sorted within each package."""
        found = [(name, os.path.join(root, name), False) for name in self.modules]
        for package in self.packages:
            for top, dirs, files in os.walk(os.path.join(root, package)):
                dirs[:] = sorted(d for d in dirs if d != "__pycache__")
                for name in sorted(files):
                    if name.endswith(".py"):
                        source = os.path.join(top, name)
                        rel = os.path.relpath(source, root).replace(os.sep, "/")
                        found.append((rel[:-3] + ".mpy", source, True))
        return found


def read(root=None):
    """The manifest of a firmware tree (default: the bundled one)."""
    root = root or firmware_dir()
    path = os.path.join(root, MANIFEST_FILE)
    manifest = Manifest()
    try:
        with open(path, encoding="utf-8") as f:
            code = compile(f.read(), path, "exec")
    except OSError as exc:
        raise InputError(path, None, "cannot read the firmware manifest: %s" % exc.strerror) from None
    exec(code, {"__builtins__": {}, "module": manifest.module, "package": manifest.package})
    return manifest


SHIPPED = read()
SOURCE_FILES = tuple(SHIPPED.modules)      # ("boot.py", "main.py")
PACKAGES = tuple(SHIPPED.packages)         # ("mesh", "meshport")
