"""One emulated board: a flash directory plus a pty that behaves like the
board's USB serial port (see docs/emulated-node.md).

A supervisor thread owns the pty master and runs
``micropython -X heapsize=HEAP upy/_emunode_repl.py`` with cwd = the flash
directory and stdin/stdout on pipes. The shim inside MicroPython does the
REPL work (friendly, raw, raw-paste); the supervisor does what the USB/UART
hardware and the reset circuit do:

- 0x03 from the host while user code runs becomes SIGINT for the child, which
  MicroPython raises as KeyboardInterrupt (a board's interrupt character);
  later input is held back until the shim is at a prompt again (or 0.5 s), so
  bytes meant for the REPL are not eaten by a main.py that reads stdin. While
  the shim waits at a prompt, 0x03 is passed on as a byte;
- output: a lone "\\n" becomes "\\r\\n", as a board's stdout does;
- the shim ends the process with EXIT_SOFT_FRIENDLY / EXIT_SOFT_RAW on a soft
  reset and user code with EXIT_HARD_RESET (``machine.reset()``); the
  supervisor prints "MPY: soft reboot" or a reset line and starts a fresh
  interpreter. Any other exit counts as a crash and is a hard reset after 1 s.
"""
import fcntl
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import tty

from nowmesh.emulation.device_paths import HARDWARE_DIR, REPL_DIR

from .port_traffic import PortTraffic

EXIT_SOFT_FRIENDLY = 71   # soft reset from the friendly REPL (or sys.exit()): main.py runs again
EXIT_SOFT_RAW = 72        # soft reset from the raw REPL: boot.py only, back to the raw REPL
EXIT_HARD_RESET = 73      # machine.reset(): the emulated machine module exits with this

# heap the shim itself keeps (its code, the REPL state; measured on 1.29, 64-bit): added to
# -X heapsize so that user code finds about `heap` free, as on a board whose REPL is in C
SHIM_HEAP = 14 * 1024
SHIM = os.path.join(REPL_DIR, "_emunode_repl.py")
# The board's own built-in and frozen modules (machine, esp32, flashbdev, ...):
# every emulated board has them, as every ESP32 running MicroPython does.
BOARD_MODULES = HARDWARE_DIR
CRASH_RESTART_S = 1.0

POWERON_LINE = b"rst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
HARD_RESET_LINE = b"rst:0xc (SW_CPU_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
SOFT_REBOOT_LINE = b"MPY: soft reboot\r\n"


def _prctl():
    try:
        import ctypes
        return ctypes.CDLL(None, use_errno=True).prctl
    except (ImportError, OSError, AttributeError):
        return None


_PRCTL = _prctl()
_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    """In the child before exec: SIGKILL when the supervisor goes (even kill -9
    of the test runner leaves no interpreter behind)."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, signal.SIGKILL)


def parse_heap(heap):
    """"110K" / "1M" / 112640 -> bytes."""
    if isinstance(heap, int):
        return heap
    text = str(heap).strip().upper()
    scale = {"K": 1024, "M": 1024 * 1024}.get(text[-1:], 1)
    return int(float(text.rstrip("KM")) * scale)


def default_micropython():
    here = os.path.join(os.path.dirname(sys.executable), "micropython")
    return here if os.path.exists(here) else (shutil.which("micropython") or "micropython")


class EmulatedBoard(PortTraffic):
    """A MicroPython board whose flash is ``fs_dir`` and whose USB serial port
    is the pty path ``port`` (valid after ``start()``)."""

    def __init__(self, fs_dir, micropython=None, micropypath_extra=(), heap="110K", env=None, tap=None):
        """`tap(data)`, if given, receives every byte the board writes to its
        port (from the supervisor thread), whether or not a tool has it open:
        for logs, without a second reader on the pty."""
        self.fs_dir = os.path.abspath(fs_dir)
        self.micropython = micropython or default_micropython()
        self.extra = [os.path.abspath(d) for d in micropypath_extra]
        if BOARD_MODULES not in self.extra:
            self.extra.append(BOARD_MODULES)
        self.heap = heap
        self.env = dict(env or {})
        self.tap = tap
        self.port = None
        self.resets = {"soft": 0, "hard": 0, "crash": 0, "power": 0}
        self._proc = None
        self._master = self._slave = None
        self._thread = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._inq = bytearray()       # from the host, not yet given to the child
        self._to_child = bytearray()  # accepted for the child's stdin, not yet written
        self._state = "starting"      # starting | exec | repl
        self._hold_until = None
        self._last_out = 0
        self._button = False
        self._power_cut = False       # the firmware met the step NOWMESH_POWERCUT names
        # the chip's RAM that a soft reset keeps: the Wi-Fi driver's state
        self._ram = None

    # --- public ----------------------------------------------------------------
    @property
    def pid(self):
        proc = self._proc
        return proc.pid if proc is not None else None

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    def heap_bytes(self):
        """The heap this boot gets: `heap` may be a callable asked at every
        boot (the emulation sizes it by what the flash holds)."""
        return parse_heap(self.heap() if callable(self.heap) else self.heap)

    def start(self):
        if self._thread is not None:
            raise RuntimeError("board already started")
        if not os.path.isdir(self.fs_dir):
            raise FileNotFoundError("flash directory %s does not exist" % self.fs_dir)
        self._master, self._slave = pty.openpty()
        try:
            tty.setraw(self._slave)       # no echo, no line discipline until a tool sets its own
            fl = fcntl.fcntl(self._master, fcntl.F_GETFL)
            fcntl.fcntl(self._master, fcntl.F_SETFL, fl | os.O_NONBLOCK)
            self.port = os.ttyname(self._slave)
        except BaseException:
            self._close_fds()
            raise
        # the supervisor thread starts every interpreter, the first one too: the
        # interpreter gets SIGKILL when that thread's process dies (PR_SET_PDEATHSIG)
        started = threading.Event()
        failure = []
        self._thread = threading.Thread(target=self._run, args=(started, failure),
                                        name="emunode %s" % self.port, daemon=True)
        self._thread.start()
        started.wait()
        if failure:
            self._thread.join()
            self._close_fds()
            raise failure[0]
        return self

    def reset(self):
        """Press the board's EN (reset) button: the interpreter is killed and
        starts again as after power-on (boot.py, main.py, friendly REPL)."""
        if not self.running:
            raise RuntimeError("board is not running")
        self._button = True
        self._kill()

    def stop(self, timeout=5):
        """Kill the interpreter, stop the supervisor and close the pty."""
        self._stop.set()
        self._kill()
        if self._thread is not None:
            self._thread.join(timeout)
        self._kill()
        self._close_fds()
        if self._ram is not None:
            shutil.rmtree(self._ram, ignore_errors=True)
            self._ram = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- child process -------------------------------------------------------
    def _wifi_ram(self, boot):
        """The file the emulated network module keeps Wi-Fi state in; emptied
        unless this is a soft reset (a hard reset or power cycle resets the radio)."""
        if self._ram is None:
            self._ram = tempfile.mkdtemp(prefix="nowmesh-emunode-ram-")
        path = os.path.join(self._ram, "wifi")
        if boot != "soft" and os.path.exists(path):
            os.remove(path)
        return path

    def _spawn(self, mode, boot):
        ctl_r, ctl_w = os.pipe()
        env = dict(os.environ)
        env.update(self.env)
        env.update({
            "MICROPYPATH": os.pathsep.join([self.fs_dir, os.path.join(self.fs_dir, "lib")] + self.extra),
            "NOWMESH_EMU_ROOT": self.fs_dir,
            "NOWMESH_EMU_EXTRA": os.pathsep.join(self.extra),
            "NOWMESH_EMU_MODE": mode,
            "NOWMESH_EMU_BOOT": boot,
            "NOWMESH_EMU_RAM": self._wifi_ram(boot),
            "NOWMESH_EMU_CTL": "/proc/self/fd/%d" % ctl_w,
        })
        try:
            proc = subprocess.Popen(
                [self.micropython, "-X", "heapsize=%d" % (self.heap_bytes() + SHIM_HEAP), SHIM],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                cwd=self.fs_dir, env=env, pass_fds=(ctl_w,), start_new_session=True,
                preexec_fn=_die_with_parent)
        except BaseException:
            os.close(ctl_r)
            os.close(ctl_w)
            raise
        os.close(ctl_w)
        for f in (proc.stdin, proc.stdout):
            fl = fcntl.fcntl(f.fileno(), fcntl.F_GETFL)
            fcntl.fcntl(f.fileno(), fcntl.F_SETFL, fl | os.O_NONBLOCK)
        self._ctl = ctl_r
        self._state = "starting"
        self._intr = 3                # the interrupt character while user code runs
        self._ctl_arg = False
        self._hold_until = None
        self._to_child = bytearray()
        self._proc = proc

    def _kill(self):
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass

    def _reap(self):
        """Wait for the child after its stdout closed; close its pipes."""
        proc = self._proc
        try:
            code = proc.wait(5)
        except subprocess.TimeoutExpired:
            self._kill()
            code = proc.returncode
        for f in (proc.stdin, proc.stdout):
            try:
                f.close()
            except OSError:
                pass
        try:
            os.close(self._ctl)
        except OSError:
            pass
        return code

    def _close_fds(self):
        for name in ("_master", "_slave"):
            fd = getattr(self, name)
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
                setattr(self, name, None)
        proc = self._proc
        if proc is not None:
            for f in (proc.stdin, proc.stdout):
                try:
                    f.close()
                except OSError:
                    pass

    # --- the supervisor loop -------------------------------------------------
    def _run(self, started, failure):
        try:
            self._spawn("friendly", "power")
        except BaseException as e:
            failure.append(e)
            return
        finally:
            started.set()
        try:
            self._emit(POWERON_LINE)
            while not self._stop.is_set():
                self._serve_child()
        except Exception as e:   # pragma: no cover - reported, never silent
            try:
                self._emit(("\r\nemunode supervisor failed: %r\r\n" % (e,)).encode())
            except Exception:
                pass
            raise

    def _serve_child(self):
        proc = self._proc
        out = proc.stdout.fileno()
        ctl = self._ctl
        ctl_open = True
        while not self._stop.is_set():
            rlist = [self._master, out] + ([ctl] if ctl_open else [])
            wlist = [proc.stdin.fileno()] if self._to_child else []
            timeout = 0.2
            if self._hold_until is not None:
                timeout = max(0.0, min(timeout, self._hold_until - time.monotonic()))
            try:
                r, w, _ = select.select(rlist, wlist, [], timeout)
            except (OSError, ValueError):
                if self._stop.is_set():
                    return
                raise
            if ctl_open and ctl in r:
                data = self._read(ctl)
                if not data:
                    ctl_open = False
                for b in data or b"":
                    if self._ctl_arg:              # "K" n: micropython.kbd_intr(n); 0xFF = none
                        self._ctl_arg = False
                        self._intr = None if b == 0xFF else b
                    elif b == ord("K"):
                        self._ctl_arg = True
                    elif b == ord("P"):            # _emunode_powercut: the power goes now
                        self._power_cut = True
                        self._kill()
                        break
                    elif b == ord("X"):
                        self._state = "exec"
                        self._intr = 3
                        self._hold_until = None
                    else:
                        self._state = "repl"
                        self._hold_until = None
                if data:
                    self._pump()
            if self._master in r:
                data = self._read(self._master)
                if data:
                    self._inq += data
                    self._pump()
            if self._hold_until is not None and time.monotonic() >= self._hold_until:
                self._hold_until = None
                self._pump()
            if w:
                self._write_child()
            if out in r:
                data = self._read(out)
                if data:
                    self._emit(data)
                elif data is not None:      # EOF: the interpreter ended
                    self._after_exit(self._reap())
                    return

    def _after_exit(self, code):
        if self._stop.is_set():
            return
        if self._power_cut:
            self._power_cut = False
            self.resets["power"] += 1
            self._next_power_cut()
            self._emit(b"\r\n" + POWERON_LINE)
            self._spawn("friendly", "power")
        elif self._button:
            self._button = False
            self.resets["hard"] += 1
            self._emit(b"\r\n" + POWERON_LINE)
            self._spawn("friendly", "power")
        elif code == EXIT_SOFT_FRIENDLY or code == EXIT_SOFT_RAW:
            self.resets["soft"] += 1
            self._emit(SOFT_REBOOT_LINE)
            self._spawn("raw" if code == EXIT_SOFT_RAW else "friendly", "soft")
        elif code == EXIT_HARD_RESET:
            self.resets["hard"] += 1
            self._emit(b"\r\n" + HARD_RESET_LINE)
            self._spawn("friendly", "hard")
        else:
            self.resets["crash"] += 1
            self._emit(("\r\nemunode: micropython exited with status %s; resetting\r\n" % code).encode())
            if self._stop.wait(CRASH_RESTART_S):
                return
            self._emit(HARD_RESET_LINE)
            self._spawn("friendly", "hard")

    def _next_power_cut(self):
        """NOWMESH_POWERCUT lists steps, one cut per boot: the next boot
        gets the rest of the list."""
        rest = self.env.get("NOWMESH_POWERCUT", "").split(",")[1:]
        if rest:
            self.env["NOWMESH_POWERCUT"] = ",".join(rest)
        else:
            self.env.pop("NOWMESH_POWERCUT", None)
