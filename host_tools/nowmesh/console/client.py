"""A console client over any pyserial URL: a board, an emulated node's pty,
`loop://`, `rfc2217://`. Events stream as parsed lines; commands wait for
their reply and skip everything else."""
import errno
import itertools
import sys
import time

import serial

from nowmesh.console.protocol import MAX_LINE, answer_problem, format_command, parse_line
from nowmesh.errors import ToolError


class PortError(ToolError):
    """The serial port cannot be used; the message says what to do."""


class ConsoleError(ToolError):
    """The node answered with an error, did not answer, or speaks another version."""


def _permission_hint():
    if sys.platform.startswith("linux"):
        return "add yourself to the 'dialout' group (sudo usermod -aG dialout $USER) and log in again"
    if sys.platform == "darwin":
        return "check that no other program (screen, Thonny, another nowmesh) has the port open"
    return "check the port's permissions"


def open_port(url, baudrate=115200, timeout=0.1):
    try:
        return serial.serial_for_url(url, baudrate=baudrate, timeout=timeout, exclusive=True)
    except serial.SerialException as exc:
        return _raise_port_error(url, exc)
    except ValueError as exc:
        raise PortError("%s: %s" % (url, exc)) from None


def _raise_port_error(url, exc):
    code = getattr(exc, "errno", None)
    text = str(exc)
    if code == errno.ENOENT or "No such file" in text or "could not open port" in text and "[Errno 2]" in text:
        raise PortError("%s: no such port (is the board plugged in? `nowmesh ports` lists them)" % url) from None
    if code in (errno.EACCES, errno.EPERM) or "Permission denied" in text or "[Errno 13]" in text:
        raise PortError("%s: permission denied: %s" % (url, _permission_hint())) from None
    if code == errno.EBUSY or "busy" in text.lower() or "lock" in text.lower():
        raise PortError("%s: port busy: another program has it open" % url) from None
    raise PortError("%s: %s" % (url, text)) from None


class ConsoleClient:
    def __init__(self, url, baudrate=115200, port=None):
        self.url = url
        self.port = port or open_port(url, baudrate)
        self._buffer = b""
        self._ids = itertools.count(1)

    def close(self):
        self.port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def lines(self, seconds=None):
        """Parsed lines as they arrive, for `seconds` (forever if None)."""
        end = None if seconds is None else time.monotonic() + seconds
        while end is None or time.monotonic() < end:
            try:
                chunk = self.port.read(self.port.in_waiting or 1)
            except (serial.SerialException, OSError) as exc:
                raise PortError("%s: the port went away (%s)" % (self.url, exc)) from None
            if not chunk:
                continue
            self._buffer += chunk
            while b"\n" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\n", 1)
                yield parse_line(raw.decode("utf-8", "replace"))
            if len(self._buffer) > MAX_LINE:        # no line end in sight: memory stays bounded
                yield parse_line(self._buffer[:200].decode("utf-8", "replace") + "...")
                self._buffer = b""

    def start_if_at_repl(self, wait_s=0.5):
        """If the board sits at MicroPython's friendly REPL (main.py stopped,
        as `mpremote exec` leaves it), soft-reset it with Ctrl-D so main.py
        starts; True if it did. An empty line is all it sends otherwise: a
        running nowmesh ignores it, and what the board prints meanwhile stays
        buffered for lines()."""
        self.port.write(b"\r\n")
        self.port.flush()
        end = time.monotonic() + wait_s
        while time.monotonic() < end:
            try:
                chunk = self.port.read(self.port.in_waiting or 1)
            except (serial.SerialException, OSError) as exc:
                raise PortError("%s: the port went away (%s)" % (self.url, exc)) from None
            self._buffer += chunk
            if self._buffer.rstrip(b" ").endswith(b">>>"):
                self._buffer = b""
                self.port.write(b"\x04")
                self.port.flush()
                return True
        return False

    def command(self, name, args=None, node=None, timeout=12.0):
        """Send one command and return its reply's data; raise ConsoleError on failure."""
        cmd_id = next(self._ids)
        self.port.write(format_command(cmd_id, name, args, node).encode())
        self.port.flush()
        for line in self.lines(timeout):
            if line.kind == "mismatch":
                raise ConsoleError("the node speaks console protocol %s; this nowmesh speaks 1: "
                                   "update the firmware or the tools" % line.data.get("proto"))
            if line.kind == "reply" and line.data["re"] == cmd_id:
                problem = answer_problem(name, line)
                if problem:
                    raise ConsoleError("%s sent a malformed answer to %s: %s" % (self.url, name, problem))
                if not line.data["ok"]:
                    raise ConsoleError(line.data.get("error") or "command failed")
                return line.data.get("data")
        raise ConsoleError("no answer from %s within %gs: is it running nowmesh? "
                           "(a REPL or another firmware does not answer)" % (self.url, timeout))
