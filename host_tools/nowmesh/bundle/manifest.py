"""What ships to a board: firmware/manifest.py, read the way micropython-lib
reads its manifests (the file calls module(), package() and require()), and
the one walk over the firmware tree that turns it into board files."""
import os

from nowmesh.bundle.tree import firmware_dir
from nowmesh.errors import InputError

MANIFEST_FILE = "manifest.py"


class Manifest:
    def __init__(self):
        self.modules = []           # copied as source
        self.packages = []          # compiled to .mpy
        self.requires = []          # micropython-lib modules (nowmesh.bundle.upylib), compiled into lib/

    def module(self, path):
        self.modules.append(path)

    def package(self, name):
        self.packages.append(name)

    def require(self, name):
        self.requires.append(name)

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
        for name in self.requires:
            from nowmesh.bundle import upylib      # fetched from PyPI (sha256-pinned) on first use, then cached
            rel = upylib.PINS[name]["path"]
            found.append((self.library_path(name), os.path.join(upylib.lib_dir(name), rel), True))
        return found

    def library_files(self):
        """Board paths of the required micropython-lib modules. lib/ is shared
        with the user's own libraries (mip installs there), so a deploy manages
        these files one by one and never owns the folder."""
        return [self.library_path(name) for name in self.requires]

    @staticmethod
    def library_path(name):
        from nowmesh.bundle import upylib
        return "lib/" + upylib.PINS[name]["path"][:-3] + ".mpy"


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
    exec(code, {"__builtins__": {}, "module": manifest.module, "package": manifest.package,
                "require": manifest.require})
    return manifest


SHIPPED = read()
SOURCE_FILES = tuple(SHIPPED.modules)      # ("boot.py", "main.py")
PACKAGES = tuple(SHIPPED.packages)         # ("mesh", "meshport")
LIBRARY_FILES = tuple(SHIPPED.library_files())   # ("lib/umqtt/simple.mpy",)
