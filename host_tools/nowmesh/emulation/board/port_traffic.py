"""The bytes between an emulated board's port and its interpreter
(docs/emulated-node.md), for EmulatedBoard (pty_board.py): host input held
and handed on, a Ctrl-C turned into SIGINT while user code runs, and output
with a board's line endings, dropped only when nobody reads the port.

A mixin: it works on the board's state, which EmulatedBoard sets up --
`_inq`, `_to_child` (bytearrays), `_state` ("starting" | "exec" | "repl"),
`_hold_until`, `_intr` (the interrupt character or None), `_proc`,
`_master`/`_slave` (the pty), `_last_out`, and `tap`."""
import errno
import os
import select
import signal
import termios
import time

HOLD_S = 0.5              # how long input is held after a Ctrl-C for the shim to reach a prompt
DRAIN_WAIT_S = 0.05       # how long a full port waits for its reader before the oldest output goes


class PortTraffic:
    @staticmethod
    def _read(fd):
        try:
            return os.read(fd, 4096)
        except BlockingIOError:
            return None
        except OSError as e:
            if e.errno == errno.EIO:    # pty: no client has the port open
                return None
            raise

    # --- host -> child ---------------------------------------------------------
    def _pump(self):
        """Move host bytes towards the child, turning 0x03 into SIGINT while
        user code runs."""
        while self._inq:
            if self._state == "starting" or self._hold_until is not None:
                return
            if self._state == "repl":
                # Up to the first byte that may start a program (Enter, Ctrl-D), then
                # wait until the shim says whether it runs code ("X") or reads on
                # ("R"): a 0x03 after it must interrupt that code, not be read later.
                ends = [i for i in (self._inq.find(b"\r"), self._inq.find(b"\n"), self._inq.find(b"\x04"))
                        if i >= 0]
                if not ends:
                    self._to_child += self._inq
                    self._inq.clear()
                    break
                i = min(ends) + 1
                self._to_child += self._inq[:i]
                del self._inq[:i]
                self._hold_until = time.monotonic() + HOLD_S
                break
            i = self._inq.find(bytes((self._intr,))) if self._intr is not None else -1
            if i < 0:
                self._to_child += self._inq
                self._inq.clear()
                break
            self._to_child += self._inq[:i]
            del self._inq[:i + 1]
            self._write_child()        # what came before the Ctrl-C is in the pipe before the signal
            try:
                os.kill(self._proc.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            self._hold_until = time.monotonic() + HOLD_S
        self._write_child()

    def _write_child(self):
        if not self._to_child:
            return
        try:
            n = os.write(self._proc.stdin.fileno(), self._to_child)
            del self._to_child[:n]
        except BlockingIOError:
            pass
        except (BrokenPipeError, ValueError):
            self._to_child.clear()     # the child is going away; a board loses these too

    # --- child -> host ---------------------------------------------------------
    def _emit(self, data):
        # a lone "\n" becomes "\r\n", as a board's stdout does
        if b"\n" in data:
            fixed = bytearray()
            prev = self._last_out
            for b in data:
                if b == 10 and prev != 13:
                    fixed += b"\r"
                fixed.append(b)
                prev = b
        else:
            fixed = data
        if data:
            self._last_out = data[-1]
        if self.tap is not None and fixed:
            try:
                self.tap(bytes(fixed))
            except Exception:     # a broken log must not stop the board
                self.tap = None
        view = bytes(fixed)
        while view:
            try:
                n = os.write(self._master, view)
                view = view[n:]
            except BlockingIOError:
                # The port is full. A host that reads (slowly, or descheduled
                # on a loaded machine) gets a moment to drain it: flushing
                # under a reader between its select() and its read() gives
                # it "ready but no data", which pyserial takes for an
                # unplugged device. Still full: nobody reads the port, so
                # drop what waits there (oldest first), as a board's output
                # is lost when no host listens.
                if select.select([], [self._master], [], DRAIN_WAIT_S)[1]:
                    continue
                try:
                    termios.tcflush(self._slave, termios.TCIFLUSH)
                except termios.error:
                    return
                try:
                    n = os.write(self._master, view)
                    view = view[n:]
                except BlockingIOError:
                    return
            except OSError:
                return
