# The serial-port side of an emulated board, run by the unix port of MicroPython:
#   micropython -X heapsize=110K _emunode_repl.py
# with cwd = the node's flash directory and stdin/stdout = pipes to the host
# supervisor (host_tools/nowmesh/emulation/board/pty_board.py), which owns the pty.
#
# It does what a board's pyexec.c does on its USB serial port: run boot.py and
# main.py, then the friendly REPL (">>> "), the raw REPL (Ctrl-A), raw-paste
# mode (Ctrl-E "A" Ctrl-A in the raw REPL), soft reset (Ctrl-D). A soft or hard
# reset ends this process with an exit status the supervisor understands; it
# starts a fresh interpreter, as a board would re-initialise its heap.
#
# The flash directory is mounted as "/" (os.VfsPosix), so "/main.py" and
# os.listdir("/") mean the node's files, as on a board. Emulation-only modules
# (NOWMESH_EMU_EXTRA) are imported from their host directories on demand and
# never appear in the node's filesystem.
#
# Environment (set by the supervisor):
#   NOWMESH_EMU_ROOT   host path of the flash directory
#   NOWMESH_EMU_EXTRA  host directories of emulation-only modules, ":"-separated
#   NOWMESH_EMU_MODE   "friendly" (run main.py) or "raw" (soft reset in raw REPL)
#   NOWMESH_EMU_BOOT   "power", "hard" or "soft"
#   NOWMESH_EMU_CTL    path of a pipe: state bytes to the supervisor
#                      (X = running user code, R = waiting at a REPL prompt)
#   NOWMESH_EMU_BOOT_MODULE  optional: a module (in NOWMESH_EMU_EXTRA) imported
#                      by the frozen _boot.py stage (see _frozen_boot)
import builtins
import io
import os
import select
import sys

EXIT_SOFT_FRIENDLY = 71   # soft reset, then boot.py + main.py + friendly REPL
EXIT_SOFT_RAW = 72        # soft reset, then boot.py + raw REPL (main.py not run)
EXIT_HARD_RESET = 73      # machine.reset(): like power-on (main.py runs)

_SHIM = __file__
_stdin = sys.stdin.buffer
_stdout = sys.stdout.buffer
_ctl = None
_state = None
_ack = False
_pushback = bytearray()   # bytes read ahead, delivered before the pipe's


def _set_state(s):
    global _state
    if s != _state and _ctl is not None:
        _state = s
        _ctl.write(s)


# modules user code gets in a board-like variant (files beside this one)
_WRAPPERS = {"os": "_emunode_os", "micropython": "_emunode_micropython",
             "_nowmesh_powercut": "_emunode_powercut"}


def _kbd_intr(c):
    """micropython.kbd_intr(c) in user code: tell the supervisor which byte
    interrupts (none if c < 0) until the running program ends."""
    if _ctl is not None:
        _ctl.write(b"K" + bytes((c & 0xFF if 0 <= c < 255 else 0xFF,)))


def _out(b):
    if isinstance(b, str):
        b = b.encode()
    _stdout.write(b)


def _pop_pushback():
    # MicroPython's bytearray has neither pop() nor item deletion (both raised
    # here, and the REPL looped on the error at full CPU): slice assignment.
    c = bytes(_pushback[0:1])
    _pushback[0:1] = b""
    return c


def _getc():
    """One byte from the port. A SIGINT that arrives at a prompt (the
    supervisor's translation of a 0x03 it sent while it still thought code was
    running) becomes a 0x03 behind the bytes already waiting, where the host
    put it; no byte is lost."""
    global _ack
    c = b""
    try:
        _ready()
        if _pushback:
            c = _pop_pushback()
        else:
            c = _stdin.read(1)
        if c:                 # a pending KeyboardInterrupt surfaces here, inside the try
            pass
    except KeyboardInterrupt:
        if c:
            _pushback[0:0] = c
        _late_ctrl_c()
        return _getc()
    if not c:
        raise SystemExit(0)   # the supervisor closed the port: power off
    c = c[0]
    if c in (10, 13, 4):
        _ack = True
    return c


def _ready():
    """Tell the supervisor the shim reads input now (before a prompt is shown,
    so a host that saw the prompt is never ahead of the supervisor)."""
    global _state, _ack
    if _ack:                  # after Enter / Ctrl-D: tell the supervisor no code started
        _state = None
        _ack = False
    _set_state(b"R")


def _prompt_ready():
    try:
        _ready()
    except KeyboardInterrupt:
        _late_ctrl_c()


def _late_ctrl_c():
    global _state
    poller = select.poll()
    poller.register(_stdin, select.POLLIN)
    while poller.poll(0):
        b = _stdin.read(1)
        if not b:
            break
        _pushback.extend(b)
    _pushback.append(3)
    _state = None             # tell the supervisor it may send the rest
    _set_state(b"R")


def _print_exc(e):
    buf = io.StringIO()
    sys.print_exception(e, buf)
    for line in buf.getvalue().split("\n"):
        if line and _SHIM not in line:
            _out(line + "\r\n")


def _setup_fs():
    root = os.getenv("NOWMESH_EMU_ROOT") or os.getcwd()
    extra = [d for d in (os.getenv("NOWMESH_EMU_EXTRA") or "").split(":") if d]
    # which module names live in the emulation-only directories
    where = {}
    for d in extra:
        try:
            names = os.listdir(d)
        except OSError:
            continue
        for n in names:
            mod = n[:-3] if n.endswith(".py") else (n[:-4] if n.endswith(".mpy") else n)
            if mod and mod not in where and not mod.startswith("."):
                where[mod] = d
    os.umount("/")
    os.mount(os.VfsPosix(root), "/")
    os.chdir("/")
    sys.path[:] = ["", ".frozen", "/lib"]
    real_import = builtins.__import__
    for w in _WRAPPERS.values():
        where[w] = _SHIM[:_SHIM.rfind("/")]
    loading = []
    mounted = []

    def _import(name, *args):
        if len(args) >= 4 and args[3]:
            return real_import(name, *args)        # relative import inside a package
        top = name.split(".")[0]
        wrapper = _WRAPPERS.get(top)
        if wrapper and not loading:
            mod = sys.modules.get(wrapper)
            if mod is None:
                loading.append(1)
                try:
                    mod = _import(wrapper)
                finally:
                    loading.pop()
                if top == "micropython":
                    mod._notify = _kbd_intr
                elif top == "_nowmesh_powercut" and _ctl is not None:
                    mod._ctl = _ctl.write
            return mod
        d = where.get(top)
        if d is None or name in sys.modules:
            return real_import(name, *args)
        mp = "/.nowmesh-emu%d" % len(mounted)   # nested: an emulation module imports another
        os.mount(os.VfsPosix(d), mp, readonly=True)
        mounted.append(mp)
        sys.path.append(mp)
        try:
            return real_import(name, *args)
        finally:
            sys.path.remove(mp)
            mounted.pop()
            os.umount(mp)

    builtins.__import__ = _import


class Repl:
    def __init__(self, mode):
        self.mode = mode
        self.g = {"__name__": "__main__"}
        self.last = 0

    # --- running code -------------------------------------------------------
    def run(self, src, filename, kind, raw=False):
        """Compile and run; True normally, raises SystemExit for a reset."""
        exc = None
        global _state, _ack
        _state = None
        _ack = False
        try:
            # inside the try: a Ctrl-C the supervisor sends on seeing "X" belongs to this code
            _set_state(b"X")     # always sent: also tells the supervisor Ctrl-C interrupts again
            if not isinstance(src, str):
                src = bytes(src).decode()
            code = compile(src, filename, kind)
            src = None
            if _pushback and _pushback[0] == 3:
                _pop_pushback()            # the host's Ctrl-C came right behind this code
                raise KeyboardInterrupt
            exec(code, self.g)
        except SystemExit as e:
            code = e.value if e.args else None
            if raw:
                _out(b"\x04\x04")
            if code == EXIT_HARD_RESET:
                raise
            raise SystemExit(EXIT_SOFT_RAW if self.mode == "raw" else EXIT_SOFT_FRIENDLY)
        except BaseException as e:   # KeyboardInterrupt too: the board prints it
            exc = e
        if raw:
            _out(b"\x04")
        if exc is not None:
            _print_exc(exc)
        if raw:
            _out(b"\x04")
        return exc is None

    def run_file(self, name):
        try:
            os.stat(name)
        except OSError:
            return True
        with open(name) as f:
            src = f.read()
        return self.run(src, name, "exec")

    # --- the friendly REPL --------------------------------------------------
    def banner(self):
        v = sys.implementation.version
        _out("MicroPython v%d.%d.%d on unix; nowmesh emulated node with ESP32\r\n"
             'Type "help()" for more information.\r\n' % (v[0], v[1], v[2]))

    def readline(self, prompt, indent=0):
        """(ctrl, bytes): ctrl is 1..5 for Ctrl-A..E on an empty line, 3 for
        Ctrl-C anywhere, or 0 with the line after Enter. `indent` spaces are
        typed in advance (the board's auto-indent)."""
        line = bytearray(b" " * indent)
        _prompt_ready()
        _out(prompt + " " * indent)
        while True:
            c = _getc()
            last, self.last = self.last, c
            if c == 3:
                return 3, line
            if c in (1, 2, 4, 5) and not bytes(line).strip():
                return c, line
            if c == 13 or (c == 10 and last != 13):
                _out(b"\r\n")
                return 0, line
            if c in (8, 127):
                if line:
                    # over indentation only: a whole level at once, as readline.c
                    n = 4 if len(line) >= 4 and not bytes(line).strip() else 1
                    del line[-n:]
                    _out(b"\x08 \x08" * n)
            elif c == 27:           # escape sequence (arrows): consume and ignore
                c2 = _getc()
                if c2 in (91, 79):
                    while True:
                        c3 = _getc()
                        if 64 <= c3 <= 126:
                            break
            elif c >= 32 or c == 9:
                line.append(c)
                _out(bytes((c,)))

    def friendly(self, banner=True):
        if banner:
            self.banner()
        while True:
            ctrl, line = self.readline(">>> ")
            if ctrl == 1:
                _out(b"\r\n")
                self.mode = "raw"
                return
            if ctrl == 2:
                _out(b"\r\n")
                self.banner()
                continue
            if ctrl == 3:
                _out(b"\r\n")
                continue
            if ctrl == 4:
                _out(b"\r\n")
                raise SystemExit(EXIT_SOFT_FRIENDLY)
            if ctrl == 5:
                src = self.paste()
                if src is None:
                    continue
                self.run(src, "<stdin>", "exec")
                continue
            if not line:
                continue
            src = bytes(line).decode()   # not valid UTF-8: loop() reports it
            cancelled = False
            while _needs_more(src):
                ctrl, more = self.readline("... ", _auto_indent(src))
                if ctrl == 3:
                    _out(b"\r\n")
                    cancelled = True
                    break
                if ctrl == 4:
                    break
                src += "\n" + bytes(more).decode()
            if not cancelled:
                self.run(src + "\n", "<stdin>", "single")

    def paste(self):
        _out(b"\r\npaste mode; Ctrl-C to cancel, Ctrl-D to finish\r\n=== ")
        buf = bytearray()
        while True:
            c = _getc()
            if c == 3:
                _out(b"\r\n")
                return None
            if c == 4:
                _out(b"\r\n")
                return bytes(buf).replace(b"\r\n", b"\n").replace(b"\r", b"\n")
            buf.append(c)
            _out(b"\r\n=== " if c == 13 else bytes((c,)))

    # --- the raw REPL -------------------------------------------------------
    def raw(self, banner=True):
        if banner:
            _out(b"raw REPL; CTRL-B to exit\r\n")
        while True:
            _prompt_ready()
            _out(b">")
            line = bytearray()
            while True:
                c = _getc()
                if c == 1:
                    if len(line) == 2 and line[0] == 5:
                        self.raw_paste(line[1])
                        line = bytearray()
                        _out(b">")
                        continue
                    _out(b"raw REPL; CTRL-B to exit\r\n>")
                    line = bytearray()
                elif c == 2:
                    _out(b"\r\n")
                    self.mode = "friendly"
                    return
                elif c == 3:
                    line = bytearray()
                elif c == 4:
                    break
                else:
                    line.append(c)
            _out(b"OK")
            if not line:
                _out(b"\r\n")
                raise SystemExit(EXIT_SOFT_RAW)
            src = bytes(line)
            line = None
            self.run(src, "<stdin>", "exec", raw=True)

    def raw_paste(self, cmd):
        if cmd != 65:   # "A"
            _out(b"R\x00")
            return
        window = 128    # MICROPY_REPL_STDIN_BUFFER_MAX / 2, as on boards
        _out(b"R\x01" + bytes((window & 0xFF, window >> 8, 1)))
        buf = bytearray()
        remain = window
        interrupted = False
        while True:
            c = _getc()
            if c in (3, 4):
                _out(b"\x04")
                interrupted = c == 3
                break
            buf.append(c)
            remain -= 1
            if remain == 0:
                _out(b"\x01")
                remain = window
        if interrupted:
            _out(b"\x04")
            _print_exc(KeyboardInterrupt())
            _out(b"\x04")
            return
        src = bytes(buf)
        buf = None
        self.run(src, "<stdin>", "exec", raw=True)

    def loop(self):
        banner = True
        while True:
            try:
                if self.mode == "raw":
                    self.raw(banner)
                else:
                    self.friendly(banner)
                banner = True
            except KeyboardInterrupt:
                # Ctrl-C while the REPL itself was busy: like Ctrl-C at a prompt
                banner = False
                if self.mode != "raw":
                    _out(b"\r\n")
            except Exception as e:      # e.g. a line that is not UTF-8: report, stay usable
                banner = False
                _print_exc(e)


_COMPOUND = ("if ", "while ", "for ", "try:", "try ", "with ", "def ", "class ",
             "@", "async ", "elif ", "else:", "except", "finally:")


def _auto_indent(src):
    """Spaces to type ahead on a continuation line (readline.c auto-indent):
    the previous line's level, one more after a trailing ':'."""
    lines = src.split("\n")
    prev = lines[-1]
    if not prev.strip() and len(lines) > 1:
        if not lines[-2].strip():
            return 0          # two blank lines: no auto-indent
    n = (len(prev) - len(prev.lstrip(" "))) // 4
    if prev.endswith(":"):
        n += 1
    return 4 * n


def _needs_more(src):
    """Like py/repl.c mp_repl_continue_with_input."""
    depth = 0
    quote = None
    i = 0
    n = len(src)
    while i < n:
        ch = src[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if src.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
        elif ch == "#":
            while i < n and src[i] != "\n":
                i += 1
            continue
        elif ch in "'\"":
            quote = src[i:i + 3] if src[i:i + 3] in ("'''", '"""') else ch
            i += len(quote)
            continue
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        i += 1
    if depth > 0 or (quote and len(quote) == 3):
        return True
    lines = src.split("\n")
    last = lines[-1].rstrip()
    if last.endswith(":") or last.endswith("\\"):
        return True
    # a compound statement continues until an empty line, even a one-liner such
    # as "if x: pass" or "@decorator" (py/repl.c: "compound keyword and last line not empty")
    if src.lstrip().startswith(_COMPOUND) and last.strip():
        return True
    return False


def _frozen_boot():
    """The board's frozen _boot.py (ports/esp32/modules/_boot.py), run in the
    REPL's globals as pyexec_frozen_module() runs it: `gc`, `vfs` and `bdev`
    are defined at the prompt without an import. The flash directory is
    already mounted as "/"; NOWMESH_EMU_BOOT_MODULE, if set, stands for the
    mount failing (inisetup's initial setup or corrupt-filesystem loop)."""
    src = "import gc\nimport vfs\nfrom flashbdev import bdev\n"
    boot = os.getenv("NOWMESH_EMU_BOOT_MODULE")
    if boot:
        src += "import " + boot + "\n"
    return src + "gc.collect()\n"


def main():
    global _ctl
    ctl = os.getenv("NOWMESH_EMU_CTL")
    if ctl:
        _ctl = open(ctl, "wb")
    mode = os.getenv("NOWMESH_EMU_MODE") or "friendly"
    _setup_fs()
    repl = Repl(mode)
    _set_state(b"X")
    try:
        repl.run(_frozen_boot(), "_boot.py", "exec")
        repl.run_file("boot.py")
        if mode == "friendly":
            repl.run_file("main.py")
    except KeyboardInterrupt:
        pass
    repl.loop()


try:
    main()
except KeyboardInterrupt:
    raise SystemExit(EXIT_SOFT_FRIENDLY)
