"""`make demo`, second half: a live mesh of emulated boards, watched from node 1.

Six real micropython processes run the firmware behind ptys; this watches
node 1's console the way a laptop watches a USB board, and prints what node 1
knows every few seconds.
"""
import time

from nowmesh.console import ConsoleClient
from nowmesh.emulation.mesh import Emulation


def _summary(names, latest):
    parts = []
    for mac, name in names.items():
        values = latest.get(mac)
        if values is None:
            parts.append("%s: -" % name)
            continue
        shown = ["%g%s" % (v, u) for n, v, u in values if n in ("temp", "rh")]
        parts.append("%s: %s" % (name, " ".join(shown) or "ok"))
    return "  ".join(parts)


def live_demo(nodes=6, seconds=40.0, every_s=5.0):
    print("Live: %d emulated ESP32 nodes (real micropython processes running firmware/main.py),\n"
          "joined by a real-time radio medium. Watching node n1's USB console:" % nodes, flush=True)
    with Emulation("grid", nodes=nodes, interval_s=4) as emu:
        names = {n.mac.hex(":"): n.name for n in emu.nodes[1:]}
        for n in emu.nodes:
            print("  %s  %s  port %s" % (n.name, n.mac.hex(":"), n.port))
        latest = {}
        started = next_print = time.monotonic()
        with ConsoleClient(emu.nodes[0].port) as client:
            for line in client.lines(seconds):
                # n1's own readings come with "local": true; count the others'.
                if (line.kind == "event" and line.data.get("ev") == "reading"
                        and line.data.get("id") in names):
                    latest[line.data["id"]] = line.data["values"]
                if time.monotonic() >= next_print + every_s:
                    next_print = time.monotonic()
                    print("t=%3.0fs n1 holds %d/%d: %s" % (next_print - started, len(latest), len(names),
                                                           _summary(names, latest)), flush=True)
        print("Try it yourself: .venv/bin/nowmesh emulate --nodes 5 --state-dir /tmp/mesh")
        print("then, in another terminal, the live dashboard of the whole mesh through n1:")
        print("  .venv/bin/nowmesh monitor $(python3 -c \"import json; "
              "print(json.load(open('/tmp/mesh/nodes.json'))['nodes'][0]['port'])\")")
    return 0 if len(latest) == len(names) else 1


if __name__ == "__main__":
    raise SystemExit(live_demo())
