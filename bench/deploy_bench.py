"""Deploy benchmark: the full firmware tree onto one emulated board, side by
side in one run through the same port: `nowmesh deploy` (first and unchanged
re-deploy) vs `mpremote connect PORT fs cp -r ...` vs `ampy --port PORT put ...`.

Bytes on the wire are counted by a pty proxy in front of the board's port:
each tool opens the proxy's pty path; a thread forwards every byte to and from
the board's pty and counts both directions (so nothing in the tools or the
board is instrumented). Wall time is each command's process, start to exit.
Every tool copies the identical tree: main.py and boot.py as source, the
packages compiled with mpy-cross for the board (what `nowmesh deploy` sends).
Before each "first" copy the tree is removed from the board's flash and the
board is power-cycled, so nothing is up to date.
"""
import os
import pty
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import tty

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "host_tools"))

from nowmesh.deploy import DeployOptions, deploy_board  # noqa: E402
from nowmesh.bundle import PACKAGES, SOURCE_FILES, Compiler, firmware_dir  # noqa: E402
from nowmesh.bundle import board_files as firmware_tree  # noqa: E402
from nowmesh.emulation.mesh import Emulation  # noqa: E402

BIN = os.path.dirname(sys.executable)
TREE = list(SOURCE_FILES) + list(PACKAGES)
FIRMWARE = firmware_dir()


class CountingProxy:
    """A pty path in front of a board's port that counts bytes both ways and,
    with `baud`, paces each direction like a UART at that rate (10 bits per
    byte): an ESP32 DevKitC's CP210x/CH340 bridge at 115200 baud. Without
    it the link is as fast as the pty (like the native USB of an S3 or C3)."""

    def __init__(self, board_port, baud=None):
        self.board = os.open(board_port, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(self.board)
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)               # kept open: the path stays valid between tools
        self.port = os.ttyname(self.slave)
        self.byte_s = 10.0 / baud if baud else 0.0
        self.count = {"to_board": 0, "from_board": 0}
        self._stop = False
        self._threads = [threading.Thread(target=self._forward, args=args, daemon=True)
                         for args in ((self.master, self.board, "to_board"),
                                      (self.board, self.master, "from_board"))]
        for t in self._threads:
            t.start()

    def _forward(self, source, target, counter):
        free_at = time.perf_counter()        # when the emulated wire is idle again
        while not self._stop:
            ready, _, _ = select.select([source], [], [], 0.1)
            if not ready:
                continue
            try:
                data = os.read(source, 256 if self.byte_s else 65536)
            except OSError:
                continue
            if self.byte_s:
                free_at = max(free_at, time.perf_counter()) + len(data) * self.byte_s
                time.sleep(max(0.0, free_at - time.perf_counter()))
            self.count[counter] += len(data)
            _write_all(target, data)

    def counters(self):
        return self.count["to_board"], self.count["from_board"]

    def close(self):
        self._stop = True
        for t in self._threads:
            t.join()
        for fd in (self.board, self.master, self.slave):
            os.close(fd)


def _write_all(fd, data):
    while data:
        try:
            data = data[os.write(fd, data):]
        except BlockingIOError:
            time.sleep(0.001)


def _measure(proxy, command):
    sent0, got0 = proxy.counters()
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    time.sleep(0.05)                         # let the proxy forward the board's last bytes
    if proc.returncode != 0:
        raise SystemExit("%s failed:\n%s%s" % (" ".join(command), proc.stdout, proc.stderr))
    sent, got = proxy.counters()
    return {"seconds": wall, "bytes_to_board": sent - sent0, "bytes_from_board": got - got0,
            "stdout": proc.stdout}


def _measure_library(proxy, options):
    sent0, got0 = proxy.counters()
    started = time.perf_counter()
    result = deploy_board(proxy.port, options)
    wall = time.perf_counter() - started
    time.sleep(0.05)
    sent, got = proxy.counters()
    return {"seconds": wall, "bytes_to_board": sent - sent0, "bytes_from_board": got - got0,
            "files_sent": result["files_sent"]}


def _wipe(node):
    """Remove the firmware tree from the board's flash; power-cycle it."""
    for item in TREE:
        path = os.path.join(node.fs_dir, item)
        shutil.rmtree(path, ignore_errors=True) if os.path.isdir(path) else _remove(path)
    node.board.reset()
    time.sleep(0.5)                          # boots to the REPL: no main.py


def _remove(path):
    try:
        os.remove(path)
    except FileNotFoundError:
        pass


def _committed_firmware(work):
    """The firmware as committed (git archive HEAD): the working tree may be
    mid-edit. Falls back to the working tree outside a git checkout."""
    out = os.path.join(work, "src")
    os.makedirs(out)
    repo = os.path.dirname(HERE)
    archive = subprocess.run(["git", "-C", repo, "archive", "HEAD", "firmware"], capture_output=True)
    if archive.returncode != 0:
        return FIRMWARE
    subprocess.run(["tar", "-x", "-C", out], input=archive.stdout, check=True)
    return os.path.join(out, "firmware")


def _stage_tree(firmware, out_dir):
    for path, data in firmware_tree(Compiler(6, 3, 2), firmware).items():
        target = os.path.join(out_dir, path)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "wb") as f:
            f.write(data)
    return out_dir


def _check_copied(node, stage):
    for root, _dirs, files in os.walk(stage):
        for name in files:
            rel = os.path.relpath(os.path.join(root, name), stage)
            with open(os.path.join(stage, rel), "rb") as a, open(os.path.join(node.fs_dir, rel), "rb") as b:
                if a.read() != b.read():
                    raise SystemExit("copy check failed for %s" % rel)


def _median(runs):
    keys = ("seconds", "bytes_to_board", "bytes_from_board")
    return {k: round(statistics.median(r[k] for r in runs), 4 if k == "seconds" else 0) for k in keys}


def _scenarios(node, proxy, stage, key_file, firmware, with_ampy):
    nowmesh = [os.path.join(BIN, "nowmesh"), "deploy", proxy.port, "--name", "n1",
               "--key-file", key_file, "--firmware", firmware, "--json"]
    mpremote = [os.path.join(BIN, "mpremote"), "connect", proxy.port, "fs", "cp", "-r"] + \
        [os.path.join(stage, item) for item in TREE] + [":"]
    ampy = [[os.path.join(BIN, "ampy"), "--port", proxy.port, "put", os.path.join(stage, item), item]
            for item in TREE]
    options = DeployOptions(name="n1", key_file=key_file, firmware_dir=firmware)

    def ampy_all():
        runs = [_measure(proxy, command) for command in ampy]
        return {k: sum(r[k] for r in runs) for k in ("seconds", "bytes_to_board", "bytes_from_board")}

    scenarios = [
        ("nowmesh deploy, first", lambda: (_wipe(node), _measure(proxy, nowmesh))[1]),
        ("nowmesh deploy, unchanged", lambda: _measure(proxy, nowmesh)),
        ("nowmesh library call, first", lambda: (_wipe(node), _measure_library(proxy, options))[1]),
        ("nowmesh library call, unchanged", lambda: _measure_library(proxy, options)),
        ("mpremote fs cp -r, first", lambda: (_wipe(node), _measure(proxy, mpremote))[1]),
        ("mpremote fs cp -r, unchanged", lambda: _measure(proxy, mpremote)),
    ]
    if with_ampy:
        scenarios.append(("ampy put, first", lambda: (_wipe(node), ampy_all())[1]))
    return scenarios


def _startup_s(command):
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run(command, capture_output=True, check=True)
        runs.append(time.perf_counter() - started)
    return round(statistics.median(runs), 3)


# (label, baud): the pty as it is (native USB), and a UART bridge's pace.
LINKS = (("pty, no rate limit (native USB)", None), ("UART 115200 baud (CP210x/CH340 bridge)", 115200))


def run(quick):
    repeats = 1 if quick else 3
    work = tempfile.mkdtemp(prefix="nowmesh-deploy-bench-")
    emulation = Emulation("line", nodes=1, state_dir=os.path.join(work, "emu"), interval_s=5)
    links = {}
    try:
        emulation.start()
        node = emulation.nodes[0]
        firmware = _committed_firmware(work)
        stage = _stage_tree(firmware, os.path.join(work, "tree"))
        tree_bytes = sum(os.path.getsize(os.path.join(r, f)) for r, _d, fs in os.walk(stage) for f in fs)
        key_file = os.path.join(work, "nowmesh-key.json")
        for label, baud in LINKS:
            # ampy paces itself (32-byte chunks, sleeps): minutes at 115200, so only in full runs
            with_ampy = baud is None or not quick
            links[label] = _measure_link(node, baud, stage, key_file, firmware, with_ampy, repeats)
        startup = {"nowmesh --version": _startup_s([os.path.join(BIN, "nowmesh"), "--version"]),
                   "mpremote --version": _startup_s([os.path.join(BIN, "mpremote"), "--version"])}
    finally:
        emulation.stop()
        shutil.rmtree(work, ignore_errors=True)
    return _report(links, tree_bytes, startup)


def _measure_link(node, baud, stage, key_file, firmware, with_ampy, repeats):
    proxy = CountingProxy(node.port, baud)
    rows = {}
    try:
        for name, scenario in _scenarios(node, proxy, stage, key_file, firmware, with_ampy):
            print("  %s%s ..." % (name, ", %d baud" % baud if baud else ""), flush=True)
            rows[name] = _median([scenario() for _ in range(repeats)])
            if "first" in name:
                _check_copied(node, stage)
    finally:
        proxy.close()
    return rows


def _ratio(rows, slow, fast, key="seconds"):
    if slow not in rows or not rows[fast][key]:
        return None
    return round(rows[slow][key] / rows[fast][key], 2)


RATIOS = (
    ("first: mpremote / nowmesh (commands)", "mpremote fs cp -r, first", "nowmesh deploy, first"),
    ("unchanged: mpremote / nowmesh (commands)", "mpremote fs cp -r, unchanged", "nowmesh deploy, unchanged"),
    ("first: mpremote / nowmesh (library call)", "mpremote fs cp -r, first", "nowmesh library call, first"),
    ("unchanged: mpremote / nowmesh (library call)", "mpremote fs cp -r, unchanged",
     "nowmesh library call, unchanged"),
    ("first: ampy / nowmesh (commands)", "ampy put, first", "nowmesh deploy, first"),
)


def _table(rows):
    lines = ["%-34s %9s %14s %16s" % ("deploy of the firmware tree", "seconds", "bytes to board",
                                      "bytes from board")]
    for name, row in rows.items():
        lines.append("%-34s %9.3f %14d %16d" % (name, row["seconds"], row["bytes_to_board"],
                                                row["bytes_from_board"]))
    return "\n".join(lines)


def _report(links, tree_bytes, startup):
    print("  firmware tree: %d bytes (main.py, boot.py, %s compiled)" % (tree_bytes, ", ".join(PACKAGES)))
    out = {"tree_bytes": tree_bytes, "startup_s": startup, "links": {}}
    for label, rows in links.items():
        ratios = {name: _ratio(rows, slow, fast) for name, slow, fast in RATIOS}
        ratios["first: bytes to board, mpremote / nowmesh"] = _ratio(
            rows, "mpremote fs cp -r, first", "nowmesh deploy, first", "bytes_to_board")
        print("\n  link: %s" % label)
        print(_table(rows))
        for name, value in ratios.items():
            print("    %-48s %s" % (name, value))
        out["links"][label] = {"rows": rows, "ratios": ratios}
    print("\n  command start-up alone (python imports): %s" % ", ".join(
        "%s %.3fs" % item for item in startup.items()))
    with open("/proc/loadavg") as f:
        out["loadavg"] = f.read().split()[:3]
    print("  load average: %s (2 cores shared with other work; figures are noisy)" % " ".join(out["loadavg"]))
    return out
