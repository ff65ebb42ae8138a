"""Ask a serial port, briefly and safely, what is behind it.

Safe means: never interrupt a running program (no Ctrl-C), and send only
bytes every state ignores or answers harmlessly:
1. an empty line: an idle MicroPython REPL answers with its `>>> ` prompt; a
   running nowmesh ignores empty lines (docs/console-protocol.md);
2. at an idle prompt only, Ctrl-B: MicroPython prints its banner (version, board);
3. otherwise the console command `hello`: nowmesh answers with its name, id,
   firmware version and protocol.
Whatever else prints (a user's program) is reported, never disturbed.
"""
import time

import serial

from nowmesh.console.client import ConsoleClient, PortError, open_port
from nowmesh.console.connection import Banner, Mismatch, NodeEvent, Output, Prompt, Reply

PROBE_ID = "ports-probe"


class _Listener:
    """What the port printed while probing: the events, and whether it waits at a prompt."""

    def __init__(self, client):
        self.client = client
        self.events = []

    def listen(self, seconds, stop):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.events += self.client.read_some()
            if stop(self):
                return True
        return False

    def at_prompt(self):
        return self.client.connection.unfinished.rstrip(" ").endswith(">>>")

    def banner(self):
        return next((e for e in self.events if isinstance(e, Banner)), None)

    def text(self):
        return "\n".join(e.text for e in self.events if isinstance(e, Output)) + self.client.connection.unfinished


def probe_port(url, timeout=1.5, baudrate=115200):
    """{"answers": "nowmesh"|"micropython"|"program"|"silent"|"busy"|"error", ...}."""
    try:
        port = open_port(url, baudrate, timeout=0.05)
    except PortError as exc:
        return {"answers": "busy" if "busy" in str(exc) else "error", "detail": str(exc)}
    try:
        return _probe_open(ConsoleClient(url, port=port), timeout)
    except PortError as exc:
        return {"answers": "error", "detail": "the port went away while probing (%s)"
                % str(exc).split(": ", 1)[-1]}
    except (serial.SerialException, OSError) as exc:
        return {"answers": "error", "detail": "the port went away while probing (%s)" % exc}
    finally:
        port.close()


def _probe_open(client, timeout):
    listener = _Listener(client)
    client.send_raw(b"\r\n")
    if listener.listen(min(0.4, timeout), stop=lambda lst: any(isinstance(e, Prompt) for e in lst.events)):
        return _probe_repl(client, listener, timeout)
    client.request("hello", request_id=PROBE_ID, timeout=timeout)
    listener.listen(timeout, stop=_answered)
    return _verdict(listener)


def _probe_repl(client, listener, timeout):
    # Ctrl-B at an idle friendly prompt only reprints the banner.
    client.send_raw(b"\x02")
    listener.listen(timeout, stop=lambda lst: lst.banner() is not None and lst.at_prompt())
    banner = listener.banner()
    result = {"answers": "micropython", "nowmesh": False,
              "detail": "MicroPython REPL (nowmesh not running; `nowmesh deploy` installs it)"}
    if banner is not None:
        result["micropython"] = banner.version
        result["machine"] = banner.machine
    return result


def _answered(listener):
    return any(isinstance(e, (Reply, Mismatch)) for e in listener.events)


def _verdict(listener):
    hello = None
    events = 0
    for event in listener.events:
        if isinstance(event, Mismatch):
            return {"answers": "nowmesh", "nowmesh": True, "proto": event.proto,
                    "detail": "%s: update the firmware or the tools" % event.describe()}
        if isinstance(event, Reply) and event.ok:
            hello = event.data or {}
        elif isinstance(event, NodeEvent):
            events += 1
            if event.name == "hello":
                hello = hello or event.data
    if hello is not None:
        return {"answers": "nowmesh", "nowmesh": True, "name": hello.get("name"), "id": hello.get("id"),
                "fw": hello.get("fw"), "proto": hello.get("proto"), "board": hello.get("board")}
    if events:
        return {"answers": "nowmesh", "nowmesh": True, "detail": "nowmesh events, but no answer to hello"}
    text = listener.text().strip()
    if text:
        last = text.splitlines()[-1][:80]
        return {"answers": "program", "nowmesh": False,
                "detail": "prints output but does not answer the console protocol: %r" % last}
    return {"answers": "silent", "nowmesh": False,
            "detail": "no answer (another baud rate, a board in the bootloader, or nothing attached)"}
