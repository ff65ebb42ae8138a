"""`nowmesh bridge` on a live emulated mesh (20 nodes; 6 with --quick) with a real broker (amqtt).

Measured: from the moment a reading appears on the bridge's board (n1's
console, tapped from its power-on) to the moment a paho-mqtt subscriber on
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
from nowmesh.console.protocol import parse_line
from nowmesh.emulation.mesh import Emulation
from nowmesh.mqtt.testbroker import Cable, LocalBroker, Recorder

TICKS = os.sysconf("SC_CLK_TCK")


class _Arrivals:
    """A tap on n1's output: when each (origin, seq) reading appeared there."""

    def __init__(self):
        self.seen = {}
        self._buf = bytearray()

    def __call__(self, data):
        self._buf += data
        while b"\n" in self._buf:
            end = self._buf.index(b"\n")
            line, self._buf = bytes(self._buf[:end]), self._buf[end + 1:]
            parsed = parse_line(line.decode("utf-8", "replace").rstrip("\r"))
            if parsed.kind == "event" and parsed.data.get("ev") == "reading":
                self.seen.setdefault((parsed.data.get("id"), parsed.data.get("seq")), time.monotonic())


def _cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def _on_broker(recorder):
    got = {}
    for t, topic, payload, _retained in list(recorder.messages):
        if topic == "nowmesh/bridge/state":       # matches nowmesh/+/state too
            continue
        state = json.loads(payload)
        got.setdefault((state["id"], state["seq"]), t)
    return got


def run(quick=False):
    nodes = 6 if quick else 20
    steady_s = 20.0 if quick else 60.0
    arrivals = _Arrivals()
    exe = os.path.join(os.path.dirname(sys.executable), "nowmesh")
    with LocalBroker("amqtt") as broker, Emulation("random", nodes=nodes, interval_s=10,
                                                   taps={"n1": arrivals}) as emu:
        cable = Cable(broker.port)
        recorder = Recorder(broker.port, topics=("nowmesh/+/state",))
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
            subscribed = recorder.subscriptions
            broker.stop()
            time.sleep(10.0)
            broker.start()
            recorder.resubscribed(subscribed)
            outage_end = time.monotonic()
            cable.plug()
            time.sleep(25)                    # the queue drains; readings after the outage arrive too
            on_broker = _on_broker(recorder)
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
    print("  %(nodes)d nodes: %(readings_at_board_steady)d readings in %(steady_s)gs; board->broker "
          "p50 %(p50)s s, p95 %(p95)s s; %(readings_during_outage)d readings during a 10 s outage, "
          "%(readings_lost)d lost; bridge CPU %(bridge_cpu_percent_of_one_core)s%% of one core"
          % dict(result, **result["latency_board_to_broker_s"]))
    return result
