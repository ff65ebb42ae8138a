"""Fixtures for emulation tests: a medium in a thread, and real `micropython` nodes.

Every process and socket a test starts is closed in a finally block, also
when the test fails.
"""
import os
import queue
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from nowmesh.emulation.medium.server import MediumServer
from nowmesh.radio.identity import node_mac
from nowmesh.radio.topology import parse_topology

REPO = Path(__file__).resolve().parents[2]
UPY_MODULES = REPO / "host_tools" / "nowmesh" / "emulation" / "device" / "radio"
HEAP = "110K"         # what an ESP32 without PSRAM leaves MicroPython (docs/heap.md)

PRELUDE = """\
import network, espnow, time, sys
BCAST = b'\\xff' * 6
def mac(i):
    return bytes((2, 0x4e, 0x4d, 0, 0, i + 1))
def up():
    w = network.WLAN(network.STA_IF)
    w.active(True)
    e = espnow.ESPNow()
    e.active(True)
    return w, e
def ready():
    print('READY')
def result(*values):
    print('RESULT', repr(values[0] if len(values) == 1 else values))
"""


def read_until(port, marker, timeout=5.0):
    """Bytes from a serial port up to and including `marker` (AssertionError after `timeout`)."""
    data = b""
    end = time.monotonic() + timeout
    while marker not in data and time.monotonic() < end:
        data += port.read(port.in_waiting or 1)
    assert marker in data, data
    return data


def micropython_binary():
    beside = Path(sys.executable).with_name("micropython")
    found = str(beside) if beside.exists() else shutil.which("micropython")
    if not found:
        pytest.skip("the micropython unix interpreter is not installed")
    return found


def links_topology(nodes, links):
    """A link-table topology: nodes as names or {"name", "channel"}, links as (a, b, rssi[, rssi_ba])."""
    entries = [{"name": n} if isinstance(n, str) else n for n in nodes]
    table = []
    for link in links:
        entry = {"a": link[0], "b": link[1], "rssi": link[2]}
        if len(link) > 3:
            entry["rssi_ba"] = link[3]
        table.append(entry)
    return parse_topology({"nodes": entries, "links": table}, "test")


class Node:
    """One `micropython` process running a script as an emulated node."""

    def __init__(self, process):
        self.process = process
        self.lines = queue.Queue()
        self.output = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self.output.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_for(self, prefix, timeout=10.0):
        while True:
            try:
                line = self.lines.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError("no %r line; output so far:\n%s" % (prefix, self.text()))
            if line is None:
                raise AssertionError("exited before %r:\n%s" % (prefix, self.text()))
            if line.startswith(prefix):
                return line[len(prefix):].strip()

    def send_line(self, text):
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def finish(self, timeout=15.0):
        """Wait for a clean exit; return all the output."""
        self.process.wait(timeout)
        self._reader.join(5)
        assert self.process.returncode == 0, self.text()
        return self.text()

    def text(self):
        return "".join(self.output)

    def result(self, prefix="RESULT", timeout=15.0):
        """The Python value the script printed after `prefix` (repr, evaluated)."""
        return eval(self.wait_for(prefix, timeout))          # noqa: S307 - our own scripts


class Emulation:
    """A medium serving `topology`, and the node processes started against it."""

    def __init__(self, topology, seed=1, **options):
        self.topology = topology
        self.server = MediumServer(topology, seed=seed, **options)
        self.address = "%s:%d" % self.server.address
        self.nodes = []
        self.server.start_thread()

    def mac(self, name):
        return node_mac(self.topology.names.index(name))

    def start(self, name_or_mac, script, path=(), env=None):
        """Run `script` (after PRELUDE) as the node; `path`: extra MICROPYPATH folders;
        `env`: more environment variables (NOWMESH_CHIP, ...)."""
        mac = self.mac(name_or_mac) if isinstance(name_or_mac, str) else name_or_mac
        folders = [str(UPY_MODULES)] + [str(folder) for folder in path] + [".frozen"]
        env = dict(os.environ, MICROPYPATH=":".join(folders), NOWMESH_MEDIUM=self.address,
                   NOWMESH_MAC=mac.hex(":"), **(env or {}))
        process = subprocess.Popen(
            [micropython_binary(), "-X", "heapsize=" + HEAP, "-c", PRELUDE + textwrap.dedent(script)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=env)
        node = Node(process)
        self.nodes.append(node)
        return node

    def close(self):
        try:
            for node in self.nodes:
                if node.process.poll() is None:
                    node.process.kill()
                node.process.wait(5)
                for stream in (node.process.stdin, node.process.stdout):
                    if stream:
                        stream.close()
        finally:
            self.server.stop()


@pytest.fixture
def emulation():
    """emulation(topology, **options) starts a medium; everything is stopped afterwards."""
    started = []

    def start(topology, **options):
        emu = Emulation(topology, **options)
        started.append(emu)
        return emu

    try:
        yield start
    finally:
        for emu in started:
            emu.close()
