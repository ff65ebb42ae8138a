"""The one I/O driver of the console connection: pyserial (`serial_for_url`,
so a board, an emulated node's pty, `loop://`, `rfc2217://`) under a
`nowmesh.console.connection.Connection`. Every tool opens ports with
`open_port` and talks through `ConsoleClient`; the protocol itself (lines,
events, ids, paging, deadlines) lives in the connection."""
import errno
import random
import sys
import time

import serial

try:
    from termios import error as _TermiosError     # pyserial's flush() on a pty whose other end closed
except ImportError:                                 # not POSIX
    _TermiosError = OSError

from nowmesh.console.connection import (REMOTE_TIMEOUT_S, Connection, Mismatch, NoAnswer, Prompt,
                                        Reply)
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
    """A Connection driven over a pyserial port (or anything with read,
    in_waiting, write and flush, e.g. the deploy's RawRepl).

        with ConsoleClient("/dev/ttyUSB0") as client:
            client.command("status")                  # -> the reply's data
            for event in client.events(10):           # typed events for 10 s
                ...
    """

    def __init__(self, url, baudrate=115200, port=None, connection=None, first_id=None):
        self.url = url
        self.port = port or open_port(url, baudrate)
        # Ids unlike any earlier session's unless asked: a reply to a command
        # an earlier session left unanswered may still arrive on the port.
        self.connection = connection or Connection(first_id or random.randrange(1, 1 << 30))
        self._held = []             # events read while looking for a prompt, not yet handed out

    def close(self):
        self.port.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- writing --------------------------------------------------------------------
    def request(self, name, args=None, node=None, timeout=None, page=None, tag=None, request_id=None):
        """Send one command now -> its Request (the Reply comes as an event)."""
        request = self.connection.request(name, args, node, time.monotonic(), timeout, page, tag, request_id)
        self.flush()
        return request

    def send_raw(self, data):
        self.connection.send_raw(data)
        self.flush()

    def flush(self):
        """Write what the connection queued (follow-up pages, raw bytes)."""
        data = self.connection.data_to_send()
        if data:
            try:
                self.port.write(data)
                self.port.flush()
            except (serial.SerialException, OSError, _TermiosError) as exc:
                raise PortError("%s: the port went away (%s)" % (self.url, exc)) from None

    # -- reading --------------------------------------------------------------------
    def read_some(self):
        """Read what the port has (waiting up to its timeout) -> the events it completes."""
        try:
            chunk = self.port.read(self.port.in_waiting or 1)
        except (serial.SerialException, OSError) as exc:
            raise PortError("%s: the port went away (%s)" % (self.url, exc)) from None
        now = time.monotonic()
        events = self.connection.receive(chunk, now) if chunk else []
        events += self.connection.expire(now)
        self.flush()
        return events

    def events(self, seconds=None):
        """Events as they arrive, for `seconds` (forever if None); requests
        past their deadline come as NoAnswer."""
        held, self._held = self._held, []
        yield from held
        end = None if seconds is None else time.monotonic() + seconds
        while end is None or time.monotonic() < end:
            yield from self.read_some()

    def lines(self, seconds=None):
        """Parsed console lines (nowmesh.console.protocol.Line) for `seconds`."""
        for event in self.events(seconds):
            if event.line is not None:
                yield event.line

    def wait_for(self, request, seconds=None):
        """Read until `request` is answered -> its final Reply (the last page
        of a paged one; NoAnswer at its deadline). A protocol mismatch raises
        ConsoleError; other events are skipped."""
        end = None if seconds is None else time.monotonic() + seconds
        while end is None or time.monotonic() < end:
            for event in self.read_some():
                if isinstance(event, Mismatch):
                    raise ConsoleError("%s: update the firmware or the tools" % event.describe())
                if isinstance(event, Reply) and event.request.origin is request and not event.more:
                    return event
        return NoAnswer(None, request, False, error="no answer")

    def command(self, name, args=None, node=None, timeout=REMOTE_TIMEOUT_S, page=None):
        """Send one command and return its reply's data (every row of a paged
        one); raise ConsoleError on failure."""
        request = self.request(name, args, node, timeout, page)
        reply = self.wait_for(request)
        if isinstance(reply, NoAnswer):
            raise ConsoleError("no answer from %s within %gs: is it running nowmesh? "
                               "(a REPL or another firmware does not answer)" % (self.url, timeout))
        if reply.malformed:
            raise ConsoleError("%s sent a malformed answer to %s: %s" % (self.url, name, reply.malformed))
        if not reply.ok:
            raise ConsoleError(reply.error)
        return reply.rows

    def start_if_at_repl(self, wait_s=0.5):
        """If the board sits at MicroPython's friendly REPL (main.py stopped,
        as `mpremote exec` leaves it), soft-reset it with Ctrl-D so main.py
        starts; True if it did. An empty line is all it sends otherwise: a
        running nowmesh ignores it, and what it prints meanwhile stays for events()."""
        self.send_raw(b"\r\n")
        end = time.monotonic() + wait_s
        while time.monotonic() < end:
            events = self.read_some()
            self._held += events
            if any(isinstance(event, Prompt) for event in events):
                self._held = []
                self.connection.discard()
                self.send_raw(b"\x04")
                return True
        return False
