"""An emulated board (a flash directory + a pty) driven by the real, unmodified
mpremote and ampy command lines, and by pyserial like a person at a terminal."""
import os
import subprocess
import sys
import time

import pytest
import serial

from nowmesh.emulation.board import EmulatedBoard

from conftest import read_until

BIN = os.path.dirname(sys.executable)
MPREMOTE = os.path.join(BIN, "mpremote")
AMPY = os.path.join(BIN, "ampy")

COUNTER_MAIN = """\
import time
n = 0
while True:
    print("count", n)
    n += 1
    time.sleep_ms(50)
"""


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:   # a zombie is not alive
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def make_board(tmp_path):
    boards = []

    def make(main=COUNTER_MAIN, files=None, **kw):
        fs = tmp_path / ("flash%d" % len(boards))
        fs.mkdir()
        if main is not None:
            (fs / "main.py").write_text(main)
        for name, text in (files or {}).items():
            (fs / name).write_text(text)
        board = EmulatedBoard(str(fs), **kw)
        boards.append(board)
        board.start()
        return board
    try:
        yield make
    finally:
        for board in boards:
            board.stop()


def run(tool, *args, timeout=30):
    r = subprocess.run([tool] + list(args), capture_output=True, timeout=timeout)
    out = r.stdout.decode(errors="replace")
    assert r.returncode == 0, (args, out, r.stderr.decode(errors="replace"))
    return out


def test_main_py_runs_and_ctrl_c_gives_the_repl(make_board):
    board = make_board()
    with serial.Serial(board.port, 115200, timeout=0.1) as s:
        read_until(s, b"count 2\r\n")
        s.write(b"\x03")
        out = read_until(s, b">>> ")
        assert b"KeyboardInterrupt" in out and b"MicroPython v" in out
        s.write(b"x = 6 * 7\rx\r")
        assert b"42\r\n>>> " in read_until(s, b"42\r\n>>> ")
        s.write(b"for i in range(2):\r")
        assert read_until(s, b"...     ").endswith(b"for i in range(2):\r\n...     ")  # auto-indent
        s.write(b"print('i', i)\r\r")
        out = read_until(s, b"i 1\r\n>>> ")
        assert b"i 0\r\n" in out
        s.write(b"def f(a):\r\n    return (a +\r\n1)\r\n\r\nf(2)\r\n")   # CR LF counts once
        read_until(s, b"3\r\n>>> ")
        s.write(b"n > 0\r")          # main.py's globals are the REPL's, as on a board
        read_until(s, b"True\r\n>>> ")
        time.sleep(0.2)
        assert b"count" not in s.read(s.in_waiting)


def test_mpremote_exec_ls_cp_cat(make_board, tmp_path):
    board = make_board()
    assert run(MPREMOTE, "connect", board.port, "exec", "print(1+1)").strip() == "2"
    assert "main.py" in run(MPREMOTE, "connect", board.port, "fs", "ls")
    local = tmp_path / "hello.txt"
    text = "hello flash\n" + "x" * 3000 + "\n"
    local.write_text(text)
    run(MPREMOTE, "connect", board.port, "fs", "cp", str(local), ":hello.txt")
    assert (tmp_path / "flash0" / "hello.txt").read_text() == text
    assert run(MPREMOTE, "connect", board.port, "fs", "cat", ":hello.txt").replace("\r\n", "\n") == text
    # "/" is the flash directory, not the host's root
    out = run(MPREMOTE, "connect", board.port, "exec", "import os; print(sorted(os.listdir('/')))")
    assert out.strip() == "['hello.txt', 'main.py']"
    pid = board.pid
    assert _alive(pid)


def test_soft_reset_keeps_the_board_healthy(make_board):
    board = make_board()
    first = board.pid
    run(MPREMOTE, "connect", board.port, "soft-reset")
    out = run(MPREMOTE, "connect", board.port, "exec", "print('alive')", "soft-reset", "exec", "print(3*3)")
    assert "alive" in out and "9" in out
    assert board.resets["soft"] >= 3 and board.pid != first and _alive(board.pid)
    # back in the friendly REPL: Ctrl-D soft-resets and main.py runs again
    with serial.Serial(board.port, 115200, timeout=0.1) as s:
        s.write(b"\x03")
        read_until(s, b">>> ")
        s.write(b"\x04")
        out = read_until(s, b"count 1\r\n")
        assert b"MPY: soft reboot\r\n" in out


def test_raw_repl_bytes(make_board):
    board = make_board(main=None)
    with serial.Serial(board.port, 115200, timeout=0.1) as s:
        read_until(s, b">>> ")
        s.write(b"\x01")
        read_until(s, b"raw REPL; CTRL-B to exit\r\n>")
        s.write(b"print('a')\x04")
        assert read_until(s, b"\x04>") .endswith(b"OKa\r\n\x04\x04>")
        s.write(b"1/0\x04")
        out = read_until(s, b"\x04>")
        assert out.startswith(b"OK\x04Traceback") and b"ZeroDivisionError" in out and out.endswith(b"\x04>")
        s.write(b"\x05A\x01")
        assert s.read(5) == b"R\x01\x80\x00\x01"
        s.write(b"print('pasted')\x04")
        assert read_until(s, b"\x04>") == b"\x04pasted\r\n\x04\x04>"
        s.write(b"\x04")
        out = read_until(s, b"raw REPL; CTRL-B to exit\r\n>")
        assert out == b"OK\r\nMPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>"
        s.write(b"\x02")
        read_until(s, b">>> ")


def test_ampy_ls_put_get(make_board, tmp_path):
    board = make_board()
    assert "main.py" in run(AMPY, "--port", board.port, "ls")
    local = tmp_path / "cfg.json"
    local.write_text('{"name": "kitchen"}')
    run(AMPY, "--port", board.port, "put", str(local), "nowmesh.json")
    assert (tmp_path / "flash0" / "nowmesh.json").read_text() == '{"name": "kitchen"}'
    assert run(AMPY, "--port", board.port, "get", "nowmesh.json").strip() == '{"name": "kitchen"}'
    assert "/nowmesh.json" in run(AMPY, "--port", board.port, "ls")


def test_main_py_that_raises_leaves_a_usable_repl(make_board):
    board = make_board(main="print('starting')\nraise ValueError('broken main')\n",
                       files={"boot.py": "print('boot ran')\n"})
    with serial.Serial(board.port, 115200, timeout=0.1) as s:
        s.write(b"\r")
        out = read_until(s, b">>> ")
    assert b"Traceback (most recent call last):" in out and b"ValueError: broken main" in out
    assert b"_emunode_repl" not in out
    assert run(MPREMOTE, "connect", board.port, "exec", "print(2+2)").strip() == "4"


def test_machine_reset_exit_code_restarts_like_a_hard_reset(make_board):
    board = make_board(main="import time\nprint('boot', time.ticks_ms() >= 0)\ntime.sleep_ms(100000)\n")
    first = board.pid
    with serial.Serial(board.port, 115200, timeout=0.1) as s:
        read_until(s, b"boot True")
        s.write(b"\x03")
        read_until(s, b">>> ")
        s.write(b"raise SystemExit(73)\r")    # what the emulated machine.reset() does
        out = read_until(s, b"boot True")
        assert b"SW_CPU_RESET" in out
    assert board.resets["hard"] == 1 and board.pid != first and not _alive(first)


def test_extra_modules_are_importable_but_not_on_the_flash(make_board, tmp_path):
    extra = tmp_path / "emu"
    extra.mkdir()
    (extra / "espfake.py").write_text("import os\nimport _espfake_link\nVALUE = _espfake_link.V + 1\n")
    (extra / "_espfake_link.py").write_text("V = 16\n")
    board = make_board(main=None, micropypath_extra=[str(extra)])
    out = run(MPREMOTE, "connect", board.port, "exec",
              "import espfake, os; print(espfake.VALUE, os.listdir('/'))")
    assert out.strip() == "17 []"


def test_os_looks_like_a_boards(make_board):
    board = make_board(main="print('12345')\n")
    out = run(MPREMOTE, "connect", board.port, "fs", "ls")
    assert "15 main.py" in out      # ilistdir carries sizes, as FAT/littlefs do
    out = run(MPREMOTE, "connect", board.port, "exec",
              "import os, gc; gc.collect(); print(os.uname()[0], gc.mem_free() > 100000)")
    assert out.split() == ["esp32", "True"]   # ~110K free for user code, as on an ESP32


def test_stop_kills_everything(tmp_path):
    fs = tmp_path / "flash"
    fs.mkdir()
    (fs / "main.py").write_text(COUNTER_MAIN)
    board = EmulatedBoard(str(fs))
    board.start()
    try:
        port, pid = board.port, board.pid
        assert os.path.exists(port) and _alive(pid)
    finally:
        board.stop()
    assert not _alive(pid)
    assert not board.running
    deadline = time.monotonic() + 2
    while os.path.exists(port) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(port)


def test_a_flooding_main_py_without_a_listener_does_not_stall(make_board):
    board = make_board(main="n = 0\nwhile True:\n    n += 1\n    print('flood line', n)\n")
    time.sleep(1.0)       # far more output than the pty holds, and nobody reads it
    with serial.Serial(board.port, 115200, timeout=0.1) as s:
        s.reset_input_buffer()
        read_until(s, b"flood line")
        s.write(b"\x03")
        read_until(s, b">>> ")
        s.write(b"n > 1000\r")
        read_until(s, b"True\r\n>>> ")


def test_bad_utf8_input_is_reported_not_fatal(make_board):
    board = make_board(main=None)
    pid = board.pid
    with serial.Serial(board.port, 115200, timeout=0.1) as s:
        read_until(s, b">>> ")
        s.write(b"'\xff'\r")
        read_until(s, b"UnicodeError")
        s.write(b"\x01")
        read_until(s, b"raw REPL; CTRL-B to exit\r\n>")
        s.write(b"print('\xff')\x04")
        assert read_until(s, b"\x04>").startswith(b"OK\x04Traceback")
    assert board.pid == pid and board.resets["crash"] == 0


def test_command_line_runs_one_board_until_sigterm(tmp_path):
    fs = tmp_path / "flash"
    fs.mkdir()
    (fs / "main.py").write_text(COUNTER_MAIN)
    link = tmp_path / "node.port"
    proc = subprocess.Popen([sys.executable, "-m", "nowmesh.emulation.board", str(fs), "--link", str(link)],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = proc.stdout.readline().strip()
        assert port.startswith("/dev/pts/") and os.readlink(str(link)) == port
        assert run(MPREMOTE, "connect", str(link), "exec", "print(5*5)").strip() == "25"
        proc.terminate()
        assert proc.wait(10) == 0
        assert not os.path.lexists(str(link))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_mpremote_resume_and_reset(make_board, tmp_path):
    extra = tmp_path / "emu"
    extra.mkdir()
    (extra / "machine.py").write_text("def reset():\n    raise SystemExit(73)\n")
    board = make_board(micropypath_extra=[str(extra)])
    with serial.Serial(board.port, 115200, timeout=0.1) as s:
        read_until(s, b"count 1\r\n")
    # resume: no soft reset, so main.py's globals are still there after Ctrl-C
    out = run(MPREMOTE, "connect", board.port, "resume", "exec", "print('n', n > 0)")
    assert out.strip() == "n True"
    first = board.pid
    run(MPREMOTE, "connect", board.port, "reset")      # import machine; machine.reset()
    with serial.Serial(board.port, 115200, timeout=0.1) as s:
        read_until(s, b"count 1\r\n")
    assert board.resets["hard"] == 1 and board.pid != first


def test_kbd_intr_minus_one_passes_ctrl_c_to_the_program(make_board):
    board = make_board(main=(
        "import micropython, sys\n"
        "from micropython import const\n"
        "micropython.kbd_intr(-1)\n"
        "print('raw input on')\n"
        "while True:\n"
        "    c = sys.stdin.read(1)\n"
        "    print('got', ord(c))\n"
        "    if c == '\\x03':\n"
        "        break\n"))
    pid = board.pid
    with serial.Serial(board.port, 115200, timeout=0.1) as s:
        read_until(s, b"raw input on")
        s.write(b"a\x03")
        out = read_until(s, b">>> ")     # main.py ended by itself; Ctrl-C is the REPL's again
        assert b"got 97\r\ngot 3\r\n" in out
        s.write(b"import time\r")
        read_until(s, b"import time\r\n>>> ")
        s.write(b"time.sleep(30)\r\x03")    # Ctrl-C right behind Enter
        out = read_until(s, b"KeyboardInterrupt: \r\n>>> ", timeout=5)
        assert out.count(b">>> ") == 1
    assert board.pid == pid and board.resets["crash"] == 0


def test_reset_button_restarts_main_py(make_board):
    board = make_board()
    first = board.pid
    with serial.Serial(board.port, 115200, timeout=0.1) as s:
        read_until(s, b"count 1\r\n")
        s.write(b"\x03")
        read_until(s, b">>> ")
        board.reset()
        out = read_until(s, b"count 1\r\n")
    assert b"POWERON_RESET" in out and b"count 0\r\n" in out
    assert board.pid != first and not _alive(first) and board.resets["hard"] == 1


def test_mpremote_run_and_mount(make_board, tmp_path):
    board = make_board()
    script = tmp_path / "job.py"
    script.write_text("import os\nprint('job', 6 * 7, os.getcwd())\n")
    assert run(MPREMOTE, "connect", board.port, "run", str(script)).strip() == "job 42 /"
    host = tmp_path / "hostdir"
    host.mkdir()
    (host / "hostmod.py").write_text("print('from the host', 1 + 2)\n")
    out = run(MPREMOTE, "connect", board.port, "mount", str(host), "exec", "import hostmod")
    assert "from the host 3" in out
    assert not (tmp_path / "flash0" / "hostmod.py").exists()


def test_tap_sees_all_output_without_a_reader(make_board):
    seen = bytearray()
    board = make_board(tap=seen.extend)
    deadline = time.monotonic() + 5
    while b"count 3\r\n" not in seen and time.monotonic() < deadline:
        time.sleep(0.05)
    assert seen.startswith(b"rst:0x1 (POWERON_RESET)") and b"count 3\r\n" in seen
    assert run(MPREMOTE, "connect", board.port, "exec", "print('tapped')").strip() == "tapped"
    assert b"tapped" in seen
