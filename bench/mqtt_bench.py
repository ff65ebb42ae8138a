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
    """The same run for each carrier (the host bridge, a board gateway) on each
    broker here: amqtt (bridge only: the gateway needs a broker that routes by
    subscription, tests/mqtt/test_gateway_live.py), and mosquitto where it is on PATH."""
    from nowmesh.mqtt.testbroker import KINDS, available
    out = {}
    for kind in KINDS:
        if available(kind):
            out[kind] = run_on(kind, quick, _Bridge)
            if kind != "amqtt":
                out[kind + "_gateway"] = run_on(kind, quick, _Gateway)
    return out


class _Bridge:
    """`nowmesh bridge` on n1's port."""
    name = "bridge"
    emulation = {}

    def __init__(self, emu, cable):
        exe = os.path.join(os.path.dirname(sys.executable), "nowmesh")
        self.log = open(os.path.join(emu.state_dir, "bridge.log"), "wb")
        self.proc = subprocess.Popen([exe, "bridge", emu.node("n1").port, "--mqtt", cable.url, "--queue",
                                      os.path.join(emu.state_dir, "bridge.sqlite"), "--json"],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        time.sleep(5)

    def cpu_s(self):
        return _cpu_s(self.proc.pid)

    def close(self):
        self.proc.terminate()
        self.proc.wait(10)
        self.log.close()
        with open(self.log.name, "rb") as f:
            return f.read()[-400:].decode("utf-8", "replace")


class _Gateway:
    """n1 made a board gateway by `nowmesh deploy --wifi --mqtt`; the access
    point on channel 6, the mesh deployed on 1 (it follows, mesh/channels.py)."""
    name = "gateway"
    # the access point gives the mesh APP_HEAP: 256K, then 320K, ended in
    # MemoryErrors on a gateway of this many nodes (docs/mqtt.md "Gateway figures")
    emulation = {"ap": "home:secret:6"}

    def __init__(self, emu, cable):
        exe = os.path.join(os.path.dirname(sys.executable), "nowmesh")
        self.emu = emu
        done = subprocess.run([exe, "deploy", emu.node("n1").port, "--wifi", "home", "--wifi-password", "secret",
                               "--mqtt", cable.url], capture_output=True, text=True, timeout=180)
        self.deploy_error = None if done.returncode == 0 else done.stderr[-400:]
        time.sleep(15)

    def cpu_s(self):
        return 0.0                          # the gateway is a board: no host CPU

    def close(self):
        return self.deploy_error or ""


def _heap_figures(arrivals, gateway_id):
    """Free heap (after a collection, the readings' `heap`) of the gateway
    against the median of the other nodes, and the difference on the 32-bit
    estimate (docs/heap.md's ratio)."""
    own, others = [], []
    for (origin, _seq), values in list(arrivals.values.items()):
        if "heap" in values:
            (own if origin == gateway_id else others).append(values["heap"])
    if not own or not others:
        return None
    extra_64 = sorted(others)[len(others) // 2] - min(own)
    return {"gateway_heap_free_min_b": min(own), "others_heap_free_median_b": sorted(others)[len(others) // 2],
            "extra_heap_64bit_kb": round(extra_64 / 1024, 1),
            "extra_heap_32bit_estimate_kb": round(extra_64 * HEAP_RATIO_32 / 1024, 1), "budget_kb": 110}


def _channels(emu):
    # read in this process: the medium's status message is too long for 20 nodes
    return sorted({station.channel for station in emu.medium.air.nodes})


HEAP_RATIO_32 = 0.61        # 32-bit / 64-bit heap of the same firmware (docs/heap.md: 30.0 / 49.4 KB)


def run_on(kind, quick, carrier=_Bridge):
    nodes = 6 if quick else 20
    steady_s = 20.0 if quick else 60.0
    arrivals = BoardReadings()
    with LocalBroker(kind) as broker, Emulation("random", nodes=nodes, interval_s=10, taps={"n1": arrivals},
                                                   **carrier.emulation) as emu:
        cable = Cable(broker.port)
        recorder = _FileRecorder(broker.port, os.path.join(emu.state_dir, "on-broker.jsonl"))
        running = carrier(emu, cable)
        try:
            started, cpu0 = time.monotonic(), running.cpu_s()
            time.sleep(steady_s)
            steady_end = time.monotonic()
            cpu = running.cpu_s() - cpu0
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
            channels = _channels(emu) if carrier is _Gateway else None
        finally:
            tail = running.close()
            recorder.close()
            cable.close()
    latencies = sorted(on_broker[k] - t for k, t in counted.items() if t <= steady_end and k in on_broker)
    lost = sorted(k for k in counted if k not in on_broker)
    result = {
        "carrier": carrier.name, "nodes": nodes, "steady_s": steady_s, "outage_s": 10.0,
        "readings_at_board_steady": len([t for t in counted.values() if t <= steady_end]),
        "latency_board_to_broker_s": {"p50": _pick(latencies, 0.5), "p95": _pick(latencies, 0.95),
                                      "max": round(latencies[-1], 3) if latencies else None},
        "readings_during_outage": len([t for t in counted.values() if steady_end < t <= outage_end]),
        "readings_lost": len(lost), "lost_examples": [list(k) for k in lost[:5]],
        "bridge_cpu_percent_of_one_core": round(100.0 * cpu / steady_s, 1) if carrier is _Bridge else None,
        "machine_cores": os.cpu_count(),
        "load_average_1min_at_end": round(os.getloadavg()[0], 2),   # the machine is shared: context
    }
    if carrier is _Gateway:
        result["heap"] = _heap_figures(arrivals, emu.node("n1").mac.hex(":"))
        result["mesh_channels_at_end"] = channels
    if not on_broker:
        result["log_tail"] = tail
    result["broker"] = kind
    print("  %(broker)s, %(carrier)s, %(nodes)d nodes: %(readings_at_board_steady)d readings in %(steady_s)gs; "
          "board->broker p50 %(p50)s s, p95 %(p95)s s; %(readings_during_outage)d readings during a 10 s outage, "
          "%(readings_lost)d lost; bridge CPU %(bridge_cpu_percent_of_one_core)s%% of one core; heap %(heap)s"
          % dict(result, heap=result.get("heap"), **result["latency_board_to_broker_s"]))
    return result
