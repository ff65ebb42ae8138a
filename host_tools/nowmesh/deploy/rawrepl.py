"""MicroPython's raw REPL and raw-paste mode over a serial port (our own
implementation, the same bytes as pyexec.c expects and mpremote sends).

    repl = RawRepl(port)              # a pyserial port (see console.client.open_port)
    repl.enter()                      # Ctrl-C (stops main.py), Ctrl-A, soft reset -> ">"
    out = repl.exec("print(1)")       # raw-paste, with the device's window flow control
    repl.run_main()                   # Ctrl-B, Ctrl-D: soft reset that runs main.py

Every byte written is counted in `bytes_written` (the deploy reports it).
A port that goes away raises DeviceGone; a device that does not answer like
MicroPython raises NotMicroPython; code that raises on the device raises
DeviceError with the device's traceback.
"""
import struct
import time

import serial

from nowmesh.errors import ToolError

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n"
SOFT_REBOOT = b"soft reboot\r\n"


class DeviceGone(ToolError):
    """The port closed or failed mid-way (board unplugged or reset)."""


class NotMicroPython(ToolError):
    """No raw REPL answered: not MicroPython, or a program ignoring Ctrl-C."""


class DeviceError(ToolError):
    """Code sent to the device raised; `.traceback` is the device's text."""

    def __init__(self, message, traceback=""):
        super().__init__(message)
        self.traceback = traceback


class RawRepl:
    def __init__(self, port, url=None):
        self.port = port
        self.url = url or getattr(port, "port", "the port")
        self.bytes_written = 0
        self.bytes_read = 0
        self.raw_paste = True          # cleared if the device answers R\x00
        self.in_raw_repl = False       # main.py was stopped: run_main() starts it again
        self._pending = bytearray()    # bytes read ahead of what a caller asked for

    # -- bytes ---------------------------------------------------------------
    def write(self, data):
        try:
            self.port.write(data)
        except (serial.SerialException, OSError) as exc:
            raise DeviceGone("%s: the port went away while writing (%s)" % (self.url, exc)) from None
        self.bytes_written += len(data)

    def _read_some(self):
        try:
            chunk = self.port.read(self.port.in_waiting or 1)
        except (serial.SerialException, OSError, TypeError) as exc:
            raise DeviceGone("%s: the port went away while reading (%s)" % (self.url, exc)) from None
        self.bytes_read += len(chunk)
        return chunk

    def read_until(self, ending, timeout):
        """Bytes up to and including `ending`; None after `timeout` s of no match."""
        deadline = time.monotonic() + timeout
        while True:
            i = self._pending.find(ending)
            if i >= 0:
                got = bytes(self._pending[:i + len(ending)])
                del self._pending[:i + len(ending)]
                return got
            if time.monotonic() > deadline:
                return None
            self._pending += self._read_some()

    def read_exact(self, n, timeout):
        deadline = time.monotonic() + timeout
        while len(self._pending) < n:
            if time.monotonic() > deadline:
                raise DeviceGone("%s: the board stopped answering mid-way" % self.url)
            self._pending += self._read_some()
        got = bytes(self._pending[:n])
        del self._pending[:n]
        return got

    def discard_input(self):
        """Forget what the board printed so far (main.py's output)."""
        self._pending.clear()
        try:
            self.port.reset_input_buffer()
        except (serial.SerialException, OSError) as exc:
            raise DeviceGone("%s: the port went away (%s)" % (self.url, exc)) from None

    # -- as a port under the console connection (nowmesh.console.client) ------
    @property
    def in_waiting(self):
        if self._pending:
            return len(self._pending)
        try:
            return self.port.in_waiting
        except (serial.SerialException, OSError, TypeError) as exc:
            raise DeviceGone("%s: the port went away while reading (%s)" % (self.url, exc)) from None

    def read(self, n):
        """Up to n bytes: read ahead ones first, else what the port has."""
        if not self._pending:
            self._pending += self._read_some()
        got = bytes(self._pending[:n])
        del self._pending[:n]
        return got

    def flush(self):
        pass

    # -- REPL states ---------------------------------------------------------
    def enter(self, soft_reset=True, timeout=5.0):
        """Interrupt whatever runs (main.py), enter the raw REPL and, by
        default, soft-reset there so the heap is clean (boot.py runs, main.py
        does not). Raises NotMicroPython if no raw REPL answers."""
        self.write(b"\r\x03\x03")          # twice: a main.py catching one KeyboardInterrupt
        self.discard_input()
        self.write(b"\r\x01")
        if self.read_until(RAW_BANNER + b">", timeout) is None:
            # a slow main.py may still have been cleaning up: once more
            self.write(b"\r\x03\x03\r\x01")
            if self.read_until(RAW_BANNER + b">", timeout) is None:
                raise NotMicroPython(
                    "%s: no MicroPython REPL answered (is MicroPython flashed? `nowmesh flash` "
                    "writes it; or a program on the board ignores Ctrl-C)" % self.url)
        if soft_reset:
            self.write(b"\x04")
            if self.read_until(SOFT_REBOOT, timeout) is None or \
                    self.read_until(RAW_BANNER + b">", timeout) is None:
                raise NotMicroPython("%s: the board did not come back to the raw REPL after a "
                                     "soft reset" % self.url)
        self._pending.clear()
        self.in_raw_repl = True

    def run_main(self):
        """Leave the raw REPL and soft-reset from the friendly REPL: boot.py
        and main.py run, as after power-on."""
        self.write(b"\r\x02")
        self.read_until(b">>> ", 3.0)
        self.write(b"\x04")
        self.in_raw_repl = False

    # -- running code --------------------------------------------------------
    def exec(self, code, timeout=30.0):
        """Run `code` (str or bytes) in the raw REPL; -> its stdout bytes."""
        if isinstance(code, str):
            code = code.encode()
        if self.raw_paste and self._start_raw_paste():
            self._paste(code)
        else:
            self.write(code + b"\x04")
            if self.read_exact(2, timeout) != b"OK":
                raise DeviceGone("%s: the raw REPL did not accept the code" % self.url)
        out = self.read_until(b"\x04", timeout)
        err = self.read_until(b"\x04", timeout) if out is not None else None
        if err is None or self.read_until(b">", timeout) is None:
            raise DeviceGone("%s: the board stopped answering while running code" % self.url)
        if err[:-1]:
            text = err[:-1].decode("utf-8", "replace")
            last = text.strip().splitlines()[-1] if text.strip() else "error"
            raise DeviceError("%s: %s" % (self.url, last), text)
        return out[:-1]

    def _start_raw_paste(self):
        self.write(b"\x05A\x01")
        answer = self.read_exact(2, 5.0)
        if answer == b"R\x01":
            return True
        self.raw_paste = False
        if answer != b"R\x00":
            # A firmware without raw-paste prints the raw REPL banner again; its
            # first two bytes are `answer` already, so wait for the rest of it.
            self.read_until(RAW_BANNER[len(answer):] + b">", 5.0)
        return False

    def _paste(self, code):
        """Send `code` within the device's flow-control window, then Ctrl-D."""
        window = struct.unpack("<H", self.read_exact(2, 5.0))[0]
        remain = window
        i = 0
        while i < len(code):
            while remain == 0 or self._pending or self.port.in_waiting:
                flag = self.read_exact(1, 10.0)
                if flag == b"\x01":
                    remain += window
                elif flag == b"\x04":          # the device ended the paste early
                    self.write(b"\x04")
                    raise DeviceError("%s: the board aborted the upload" % self.url)
                else:
                    raise DeviceGone("%s: unexpected byte %r during raw paste" % (self.url, flag))
            piece = code[i:i + remain]
            self.write(piece)
            remain -= len(piece)
            i += len(piece)
        self.write(b"\x04")
        if self.read_until(b"\x04", 10.0) is None:
            raise DeviceGone("%s: the board did not confirm the end of the upload" % self.url)
