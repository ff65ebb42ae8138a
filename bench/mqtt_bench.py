"""`nowmesh bridge` on a live emulated mesh (20 nodes; 6 with --quick) with a real broker
(amqtt, and mosquitto too where it is on PATH, side by side).

Measured: from the moment a reading appears on the bridge's board (n1's
console, tapped from its power-on) to the moment a paho-mqtt subscriber (a
process of its own, so this process's emulation threads cannot delay it) on
the broker has it (p50/p95/max); readings lost across a 10 s broker outage
(the broker restarted and the bridge's network path cut for 10 s, counted by
(node, seq): every reading n1 printed must reach the broker); the bridge
process's CPU use.
"""
import json
import os
import subprocess
import sys
import time

from live import _pick  # noqa: E402 -- bench/ is on sys.path (run.py)
from nowmesh.emulation.mesh import Emulation
from nowmesh.mqtt.testbroker import BoardReadings, Cable, LocalBroker

TICKS = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class _FileRecorder:
    """The broker's subscriber in a process of its own (testbroker.record_to_file):
    the emulation's medium and taps in this process cannot delay its clock."""

    def __init__(self, port, path):
        self.path = path
        self.proc = subprocess.Popen([sys.executable, "-m", "nowmesh.mqtt.testbroker", str(port), path,
                                      "nowmesh/+/state"], stdin=subprocess.DEVNULL)
        self.wait_subscribed(0)

    def _lines(self):
        try:
            with open(self.path) as f:
                return [json.loads(line) for line in f if line.endswith("\n")]
        except FileNotFoundError:
            return []

    def subscriptions(self):
        return len([line for line in self._lines() if line[0] == "subscribed"])

    def wait_subscribed(self, before, timeout=15):
        deadline = time.monotonic() + timeout
        while self.subscriptions() <= before and time.monotonic() < deadline:
            time.sleep(0.05)

    def on_broker(self):
        got = {}
        for line in self._lines():
            if line[0] == "subscribed" or line[1] == "nowmesh/bridge/state":   # matches +/state too
                continue
            state = json.loads(line[2])
            got.setdefault((state["id"], state["seq"]), line[0])
        return got

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)


def run(quick=False):
    """The same run on each broker here: amqtt, and mosquitto where it is on PATH."""
    from nowmesh.mqtt.testbroker import KINDS, available
    return {kind: run_on(kind, quick) for kind in KINDS if available(kind)}


def run_on(kind, quick):
    nodes = 6 if quick else 20
    steady_s = 20.0 if quick else 60.0
    arrivals = BoardReadings()
    exe = os.path.join(os.path.dirname(sys.executable), "nowmesh")
    with LocalBroker(kind) as broker, Emulation("random", nodes=nodes, interval_s=10,
                                                   taps={"n1": arrivals}) as emu:
        cable = Cable(broker.port)
        recorder = _FileRecorder(broker.port, os.path.join(emu.state_dir, "on-broker.jsonl"))
        queue = os.path.join(emu.state_dir, "bridge.sqlite")
        bridge_log = open(os.path.join(emu.state_dir, "bridge.log"), "wb")
        bridge = subprocess.Popen([exe, "bridge", emu.node("n1").port, "--mqtt", cable.url, "--queue", queue,
                                   "--json"], stdout=bridge_log, stderr=subprocess.STDOUT)
        try:
            time.sleep(5)
            started, cpu0 = time.monotonic(), _cpu_s(bridge.pid)
            time.sleep(steady_s)
            steady_end = time.monotonic()
            cpu = _cpu_s(bridge.pid) - cpu0
            cable.unplug()
            subscribed = recorder.subscriptions()
            broker.stop()
            time.sleep(10.0)
            broker.start()
            recorder.wait_subscribed(subscribed)
            outage_end = time.monotonic()
            cable.plug()
            time.sleep(25)                    # the queue drains; readings after the outage arrive too
            on_broker = recorder.on_broker()
            counted = {k: t for k, t in arrivals.seen.items() if started <= t <= outage_end}
        finally:
            bridge.terminate()
            bridge.wait(10)
            bridge_log.close()
            with open(bridge_log.name, "rb") as f:
                tail = f.read()[-400:].decode("utf-8", "replace")
            recorder.close()
            cable.close()
    latencies = sorted(on_broker[k] - t for k, t in counted.items() if t <= steady_end and k in on_broker)
    lost = sorted(k for k in counted if k not in on_broker)
    result = {
        "nodes": nodes, "steady_s": steady_s, "outage_s": 10.0,
        "readings_at_board_steady": len([t for t in counted.values() if t <= steady_end]),
        "latency_board_to_broker_s": {"p50": _pick(latencies, 0.5), "p95": _pick(latencies, 0.95),
                                      "max": round(latencies[-1], 3) if latencies else None},
        "readings_during_outage": len([t for t in counted.values() if steady_end < t <= outage_end]),
        "readings_lost": len(lost), "lost_examples": [list(k) for k in lost[:5]],
        "bridge_cpu_percent_of_one_core": round(100.0 * cpu / steady_s, 1), "machine_cores": os.cpu_count(),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),   # the machine is shared: context
    }
    if not on_broker:
        result["bridge_log_tail"] = tail
    result["broker"] = kind
    print("  %(broker)s, %(nodes)d nodes: %(readings_at_board_steady)d readings in %(steady_s)gs; board->broker "
          "p50 %(p50)s s, p95 %(p95)s s; %(readings_during_outage)d readings during a 10 s outage, "
          "%(readings_lost)d lost; bridge CPU %(bridge_cpu_percent_of_one_core)s%% of one core"
          % dict(result, **result["latency_board_to_broker_s"]))
    return result
