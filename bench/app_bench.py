"""Issue 15's targets for the user app API, measured side by side in one run.

- Frame-handling latency: `ping` round trips between two neighbouring
  emulated boards (rtt_ms as the node measures it: both nodes' loops and the
  emulated air), p50/p95 over PINGS pings, for three firmwares: the port's
  loop before the API (commit BASELINE_REV, a plain `while` loop), today's
  (the loop is an asyncio task) without an app, and today's with an app
  that iterates mesh.readings() and publishes every second.
- A reading's way across the mesh (issue 15: "a reading published by the
  app reaches every node as fast as a built-in sensor's"): on a 4-board
  line, the seconds from n1's own `reading` event (local) to the same
  reading's event on every other board, read from the boards' output taps
  (one host clock), p50/p95 over every (reading, board) pair; four runs in
  the order A B B A (_spread says why). Side by side,
  both with interval_s 1 (the relays' batch window follows the mesh's
  publication interval, so the interval must be the same): n1's built-in
  sensors with no app, and every board running bench/apps/publisher, whose
  n1 publishes a new value every second (each reading carries it).
- The greenhouse example's reaction (issue 15's "within 3 s"): on a 4-board
  line running examples/greenhouse, n3's temperature is set past 30 °C and
  back under 27 °C (EmulatedMesh.set_sensor) CYCLES times; the seconds until
  n1's fan pin changes (EmulatedMesh.actuator_log), on and off.
- Heap on the 32-bit estimate (MicroPython's wasm port, as bench/heap32.py):
  asyncio, the port loop's growth, the API's code and objects, a full
  readings() queue (bench/app_heap_runner.mjs). The port loop's growth is
  meshport/app.py now against BASELINE_REV's: it includes every later change
  to that file, not only the app's hooks (those were +592 B on their own).
"""
import os
import statistics
import subprocess
import tempfile
import time

import heap32
from live import _ReadingTimes
from nowmesh.console import ConsoleClient
from nowmesh.emulation.mesh import Emulation

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BASELINE_REV = "58cbd1b"          # main just before the app API (the port loop was a plain while loop)
APP = os.path.join(ROOT, "tests", "app", "apps", "hello")
PUBLISHER = os.path.join(HERE, "apps", "publisher")
SPREAD_NODES = 4
SPREAD_S = 40
PINGS = 60
CYCLES = 5
GREENHOUSE = os.path.join(ROOT, "examples", "greenhouse")
FAN_PIN = 4


def _extract(rev, target):
    """The firmware tree at `rev` into target/firmware -> its path."""
    archive = subprocess.run(["git", "-C", ROOT, "archive", rev, "firmware"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", target], input=archive.stdout, check=True)
    return os.path.join(target, "firmware")


def _ping_rtts(emulation, count):
    n2 = emulation.node("n2").mac.hex(":")
    rtts = []
    with ConsoleClient(emulation.node("n1").port) as console:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(rtts) < count:
            try:
                rtts.append(console.command("ping", {"node": n2}, timeout=5)["rtt_ms"])
            except Exception:             # noqa: BLE001 -- booting, or the neighbour not yet up
                time.sleep(0.5)
    return rtts


def _latency(label, count, **options):
    with tempfile.TemporaryDirectory(prefix="nowmesh-appbench-") as state:
        with Emulation("line", nodes=2, interval_s=1, state_dir=state, **options) as emulation:
            time.sleep(3)                 # past the boot's burst of hellos
            rtts = sorted(_ping_rtts(emulation, count))
    if not rtts:
        return {"label": label, "error": "no ping answered"}
    return {"label": label, "pings": len(rtts), "p50_ms": statistics.median(rtts),
            "p95_ms": rtts[int(0.95 * (len(rtts) - 1))], "max_ms": rtts[-1]}


class _Arrivals(_ReadingTimes):
    """A tap on one board's output: when each reading ((origin, seq), its own or
    another's) showed there first."""

    def __init__(self):
        super().__init__()
        self.seen = {}

    def _line(self, line):
        data = line.data if line.kind == "event" else {}
        if data.get("ev") == "reading":
            self.seen.setdefault((data.get("id"), data.get("seq"), bool(data.get("local"))), time.monotonic())


def _spread_delays(seconds, **options):
    """Seconds from each of n1's readings to its arrival at every other board -> (delays, missed)."""
    names = ["n%d" % (i + 1) for i in range(SPREAD_NODES)]
    taps = {name: _Arrivals() for name in names}
    with tempfile.TemporaryDirectory(prefix="nowmesh-spread-") as state:
        with Emulation("line", nodes=SPREAD_NODES, state_dir=state, taps=taps, **options) as emulation:
            origin = emulation.node("n1").mac.hex(":")
            time.sleep(seconds)
    sent = {key[1]: t for key, t in taps["n1"].seen.items() if key[0] == origin and key[2]}
    settled = sorted(sent)[len(sent) // 4:]           # past the boot's first readings
    others = [taps[name].seen for name in names[1:]]
    delays = [seen[(origin, seq, False)] - sent[seq] for seen in others for seq in settled
              if (origin, seq, False) in seen]
    return delays, len(others) * len(settled) - len(delays)


def _spread(seconds):
    """Built-in sensors against the app's publish(), run in the order A B B A:
    the machine's load drifts within a run of the bench (a pair's second run
    was the slower one whichever it was), so each kind gets one early and
    one late run; each kind's figures pool its two runs."""
    kinds = {"built-in sensors, no app": {"interval_s": 1},
             "the app's publish()": {"interval_s": 1, "app": PUBLISHER}}
    order = list(kinds) + list(reversed(list(kinds)))
    pooled = {label: ([], 0, []) for label in kinds}
    for label in order:
        delays, missed = _spread_delays(seconds, **kinds[label])
        all_delays, all_missed, runs = pooled[label]
        all_delays.extend(delays)
        runs.append(_percentiles(delays))
        pooled[label] = (all_delays, all_missed + missed, runs)
    out = []
    for label, (delays, missed, runs) in pooled.items():
        if not delays:
            out.append({"label": label, "error": "no reading of n1 arrived"})
            continue
        out.append(dict(_percentiles(delays), label=label, arrivals=len(delays), missed=missed,
                        runs=runs))
    return out


def _percentiles(delays):
    delays = sorted(delays)
    if not delays:
        return {}
    return {"p50_s": round(statistics.median(delays), 3), "p95_s": round(delays[int(0.95 * (len(delays) - 1))], 3),
            "max_s": round(delays[-1], 3)}


def _fan_change(mesh, value, since, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for entry in mesh.actuator_log("n1"):
            if entry["pin"] == FAN_PIN and entry["value"] == value and entry["t"] >= since:
                return entry["t"] - since
        time.sleep(0.05)
    return None


def _greenhouse(cycles):
    from nowmesh.pytest_plugin import EmulatedMesh
    on, off = [], []
    with tempfile.TemporaryDirectory(prefix="nowmesh-greenhouse-") as state:
        with EmulatedMesh("line", nodes=4, interval_s=1, app=GREENHOUSE, state_dir=state) as mesh:
            for name in mesh.names:
                mesh.set_sensor(name, "temp", 22.0)
            mesh.wait_for_readings(at="n1", timeout=60)
            for _ in range(cycles):
                hot = time.time()
                mesh.set_sensor("n3", "temp", 35.0)
                on.append(_fan_change(mesh, 1, hot))
                cool = time.time()
                mesh.set_sensor("n3", "temp", 25.0)
                off.append(_fan_change(mesh, 0, cool))
    done_on, done_off = [t for t in on if t is not None], [t for t in off if t is not None]
    return {"cycles": cycles, "on_s": [round(t, 2) if t is not None else None for t in on],
            "off_s": [round(t, 2) if t is not None else None for t in off],
            "on_max_s": round(max(done_on), 2) if done_on else None,
            "off_max_s": round(max(done_off), 2) if done_off else None,
            "missed": len(on) - len(done_on) + len(off) - len(done_off), "target_s": 3.0}


def _heap32(before_app):
    why = heap32.ensure_package()
    if why:
        return {"skipped": why}
    import json
    proc = subprocess.run(["node", os.path.join(HERE, "app_heap_runner.mjs"), heap32.PACKAGE_DIR, ROOT,
                           before_app], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError("wasm MicroPython run failed:\n" + proc.stderr[-3000:])
    w = json.loads(proc.stdout.strip().splitlines()[-1])
    if w["maxsize"] != 2 ** 31 - 1:
        raise RuntimeError("the wasm MicroPython is not 32-bit")
    hooks = w["port_loop_now"] - w["port_loop_before"]
    parts = w["api_part_readings"] + w["api_part_requests"]
    with_app = w["asyncio"] + hooks + w["api_code"] + w["api_objects"]
    return dict(w, port_loop_growth=hooks, without_app_bytes=hooks,
                with_app_bytes=with_app,                      # an app that uses neither part
                with_app_all_parts_bytes=with_app + parts,    # readings() and request() too
                with_app_state_bytes=w["asyncio"] + w["api_objects"] + w["readings_queue_full"])


def run(quick=False):
    count = PINGS // 3 if quick else PINGS
    with tempfile.TemporaryDirectory(prefix="nowmesh-baseline-") as tmp:
        baseline = _extract(BASELINE_REV, tmp)
        runs = [_latency("before (%s)" % BASELINE_REV, count, firmware=baseline),
                _latency("now, no app", count),
                _latency("now, with an app", count, app=APP)]
        heap = _heap32(os.path.join(baseline, "meshport", "app.py"))
    seconds = SPREAD_S // 2 if quick else SPREAD_S
    spread = _spread(seconds)
    greenhouse = _greenhouse(2 if quick else CYCLES)
    base = runs[0].get("p95_ms")
    for r in runs:
        if base and "p95_ms" in r:
            r["p95_ratio"] = round(r["p95_ms"] / base, 2)
        print("  %-22s %s" % (r["label"], r if "error" in r else
                                "p50 %(p50_ms)s ms  p95 %(p95_ms)s ms  (%(pings)d pings)" % r))
    if spread[0].get("p95_s"):
        for r in spread:
            if "p95_s" in r:
                r["p95_ratio"] = round(r["p95_s"] / spread[0]["p95_s"], 2)
    for r in spread:
        print("  spread, %-26s %s" % (r["label"], r if "error" in r else
                                      "p50 %(p50_s)s s  p95 %(p95_s)s s  (%(arrivals)d arrivals, %(missed)d missed; "
                                      "p95 per run %(p95s)s)" % dict(r, p95s=[x.get("p95_s") for x in r["runs"]])))
    if "skipped" not in heap:
        print("  heap, 32-bit: asyncio %(asyncio)d B, meshport/app.py since %(rev)s +%(port_loop_growth)d B, "
              "API code %(api_code)d B (+ readings() %(api_part_readings)d B, request() %(api_part_requests)d B), "
              "API objects %(api_objects)d B, a full readings() queue %(readings_queue_full)d B" % dict(heap, rev=BASELINE_REV))
        print("  heap, 32-bit: no app +%(without_app_bytes)d B, an app +%(with_app_bytes)d B "
              "(+%(with_app_all_parts_bytes)d B with both parts)" % heap)
    print("  greenhouse: fan on after %(on_s)s s, off after %(off_s)s s (target 3 s)" % greenhouse)
    return {"latency": runs, "spread": spread, "heap32": heap, "greenhouse": greenhouse, "target_p95_ratio": 1.5,
            "target_heap_bytes": 4096}
