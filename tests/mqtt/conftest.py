"""A real broker per test (amqtt; mosquitto too where it is on PATH) and the
bridge as users run it: the `nowmesh bridge` command in a subprocess."""
import json
import os
import signal
import subprocess
import sys

import pytest

from nowmesh.mqtt.testbroker import KINDS, LocalBroker, Recorder, available


@pytest.fixture(params=KINDS)
def broker(request):
    if not available(request.param):
        pytest.skip("%s is not installed" % request.param)
    with LocalBroker(request.param) as running:
        yield running


@pytest.fixture
def recorder(broker):
    rec = Recorder(broker.port)
    yield rec
    rec.close()


@pytest.fixture
def nowmesh_cli():
    return nowmesh_command()


def nowmesh_command():
    exe = os.path.join(os.path.dirname(sys.executable), "nowmesh")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "nowmesh"]


class BridgeProcess:
    def __init__(self, port, url, queue, *extra, env=None):
        self.log_path = queue + ".%d.log" % os.getpid()
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(nowmesh_command() + ["bridge", port, "--mqtt", url, "--queue", queue,
                                                          "--json", "--poll", "2"] + list(extra),
                                     stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     env=None if env is None else dict(os.environ, **env))

    def lines(self):
        with open(self.log_path) as f:
            return [json.loads(line) for line in f if line.startswith("{")]

    def stop(self, sig=signal.SIGINT):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


@pytest.fixture
def start_bridge(tmp_path):
    started = []

    def start(port, url, *extra, queue=None, env=None):
        bridge = BridgeProcess(port, url, queue or str(tmp_path / "queue.sqlite"), *extra, env=env)
        started.append(bridge)
        return bridge

    yield start
    for bridge in started:
        bridge.stop()
