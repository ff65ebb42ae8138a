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
import re
import time

import serial

from nowmesh.console.client import PortError, open_port
from nowmesh.console.protocol import answer_problem, format_command, parse_line

PROBE_ID = "ports-probe"
_BANNER = re.compile(r"MicroPython (v[\w.\-]+)(?:[^;\r\n]*); ([^\r\n]*)")
_MAX_BUFFER = 4096          # garbage without newlines must not grow memory


class _Listener:
    """Reads what the port prints: complete lines (parsed) plus the unfinished tail."""

    def __init__(self, port):
        self.port = port
        self.tail = b""
        self.lines = []

    def listen(self, seconds, stop=None):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            chunk = self.port.read(self.port.in_waiting or 1)
            if chunk:
                self._feed(chunk)
                if stop is not None and stop(self):
                    return True
        return False

    def _feed(self, chunk):
        self.tail += chunk
        while b"\n" in self.tail:
            raw, self.tail = self.tail.split(b"\n", 1)
            self.lines.append(parse_line(raw.decode("utf-8", "replace")))
        self.tail = self.tail[-_MAX_BUFFER:]

    def at_prompt(self):
        return self.tail.endswith(b">>> ") or self.tail.endswith(b">>>")

    def text(self):
        return "\n".join(line.text for line in self.lines if line.kind == "text") + \
            self.tail.decode("utf-8", "replace")


def probe_port(url, timeout=1.5, baudrate=115200):
    """{"answers": "nowmesh"|"micropython"|"program"|"silent"|"busy"|"error", ...}."""
    try:
        port = open_port(url, baudrate, timeout=0.05)
    except PortError as exc:
        return {"answers": "busy" if "busy" in str(exc) else "error", "detail": str(exc)}
    try:
        return _probe_open(port, timeout)
    except (serial.SerialException, OSError) as exc:
        return {"answers": "error", "detail": "the port went away while probing (%s)" % exc}
    finally:
        port.close()


def _probe_open(port, timeout):
    listener = _Listener(port)
    port.write(b"\r\n")
    if listener.listen(min(0.4, timeout), stop=_Listener.at_prompt):
        return _probe_repl(port, listener, timeout)
    port.write(format_command(PROBE_ID, "hello").encode())
    listener.listen(timeout, stop=_answered)
    return _verdict(listener)


def _probe_repl(port, listener, timeout):
    # Ctrl-B at an idle friendly prompt only reprints the banner.
    port.write(b"\x02")
    listener.listen(timeout, stop=lambda lst: _BANNER.search(lst.text()) and lst.at_prompt())
    match = _BANNER.search(listener.text())
    result = {"answers": "micropython", "nowmesh": False,
              "detail": "MicroPython REPL (nowmesh not running; `nowmesh deploy` installs it)"}
    if match:
        result["micropython"] = match.group(1)
        result["machine"] = match.group(2).strip()
    return result


def _answered(listener):
    return any(line.kind == "reply" and line.data.get("re") == PROBE_ID or line.kind == "mismatch"
               for line in listener.lines)


def _verdict(listener):
    hello = None
    events = 0
    for line in listener.lines:
        if line.kind == "mismatch":
            return {"answers": "nowmesh", "nowmesh": True, "proto": line.data.get("proto"),
                    "detail": "console protocol %s, this nowmesh speaks 1: update the firmware or the tools"
                              % line.data.get("proto")}
        if line.kind == "reply" and line.data["re"] == PROBE_ID and line.data["ok"] \
                and answer_problem("hello", line) is None:
            hello = line.data["data"]
        elif line.kind == "event":
            events += 1
            if line.data.get("ev") == "hello":
                hello = hello or line.data
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
