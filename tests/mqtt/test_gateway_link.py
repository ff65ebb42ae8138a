# The gateway's MQTT link (firmware meshport.gateway_link + its flash outbox)
# in the real micropython interpreter with the pinned umqtt.simple, against a
# real broker started by the test: a broker outage loses nothing and keeps the
# order; a broker that accepts and then says nothing does not hang the loop.
import json
import os
import socket
import subprocess
import threading
import time

import pytest

from nowmesh.bundle import upylib
from nowmesh.mqtt.testbroker import Cable, Recorder

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
UPY = os.path.join(ROOT, ".venv", "bin", "micropython")

# Puts COUNT readings into the outbox, one every GAP ms, stepping the link in
# between as the node's loop does, until every one is published or the
# deadline passes; prints the link's counters and the longest step().
SCRIPT = """
import json, sys, time
from meshport.gateway_outbox import Outbox
from meshport.gateway_link import Link
url, outbox_path, count, gap_ms, deadline_ms = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
link = Link(url, "gw-test", Outbox(outbox_path), "t/bridge/state")
start = time.ticks_ms()
put = 0
longest = 0
while time.ticks_diff(time.ticks_ms(), start) < deadline_ms:
    if put < count and time.ticks_diff(time.ticks_ms(), start) >= put * gap_ms:
        put += 1
        link.outbox.put("t/n1/state", json.dumps({"seq": put}), True)
    t = time.ticks_ms()
    link.step()
    longest = max(longest, time.ticks_diff(time.ticks_ms(), t))
    if put == count and len(link.outbox) == 0:
        break
    time.sleep_ms(10)
print(json.dumps({"put": put, "left": len(link.outbox), "published": link.published,
                  "failures": link.failures, "connected": link.connected(), "longest_step_ms": longest}))
link.close()
"""


def run_link(tmp_path, url, count, gap_ms, deadline_ms):
    script = tmp_path / "gw_link.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, MICROPYPATH=":".join([os.path.join(ROOT, "firmware"), upylib.lib_dir()]))
    return subprocess.Popen([UPY, str(script), url, str(tmp_path / "outbox.jsonl"), str(count), str(gap_ms),
                             str(deadline_ms)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)


def finish(proc, timeout):
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err
    return json.loads(out.strip().splitlines()[-1])


def seqs(recorder, topic):
    return [json.loads(m[2])["seq"] for m in recorder.on(topic)]


def test_a_broker_outage_loses_nothing_and_keeps_the_order(broker, recorder, tmp_path):
    cable = Cable(broker.port)
    try:
        proc = run_link(tmp_path, cable.url, count=60, gap_ms=50, deadline_ms=40000)
        recorder.wait_for(lambda msgs: any(m[1] == "t/n1/state" and json.loads(m[2])["seq"] >= 15 for m in msgs),
                          20, "the first readings")
        cable.unplug()
        time.sleep(2)
        cable.plug()
        summary = finish(proc, 60)
    finally:
        cable.close()
    assert summary["put"] == 60 and summary["left"] == 0, summary
    assert summary["failures"] >= 1, "the outage was not noticed: %s" % summary
    recorder.wait_for(lambda msgs: 60 in seqs(recorder, "t/n1/state"), 10, "the last reading")
    got = seqs(recorder, "t/n1/state")
    first_seen = list(dict.fromkeys(got))           # at least once: a repeat is allowed, a gap or a swap is not
    assert first_seen == list(range(1, 61))
    states = [m[2] for m in recorder.on("t/bridge/state")]
    assert b"online" in states and states[-1] in (b"online", b"offline")


def test_a_silent_broker_does_not_hang_the_loop(tmp_path):
    # accepts TCP connections and never answers a byte: umqtt.simple on its own
    # would wait for the CONNACK forever
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                pass

    threading.Thread(target=accept, daemon=True).start()
    try:
        proc = run_link(tmp_path, "mqtt://127.0.0.1:%d" % server.getsockname()[1], count=3, gap_ms=10,
                        deadline_ms=5000)
        summary = finish(proc, 30)
    finally:
        stop.set()
        for conn in held:
            conn.close()
        server.close()
    assert held, "the link never tried the broker"
    assert summary["failures"] >= 1 and not summary["connected"]
    assert summary["left"] == 3, "nothing may leave the outbox without the broker's acknowledgement"


@pytest.fixture(autouse=True)
def _needs_micropython():
    if not os.path.exists(UPY):
        pytest.skip("no micropython in .venv (make venv)")
