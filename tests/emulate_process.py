"""`nowmesh emulate` in a subprocess, as a user runs it, for live tests that
drive it through its control socket (emulate kill/replay/...)."""
import contextlib
import os
import signal
import subprocess
import sys
import time

from nowmesh.emulation.control import socket_path


def wait_until(check, timeout, what, pause=0.2):
    """check()'s first truthy value within timeout seconds; AssertionError naming what otherwise."""
    deadline = time.monotonic() + timeout
    seen = None
    while time.monotonic() < deadline:
        seen = check()
        if seen:
            return seen
        time.sleep(pause)
    raise AssertionError("timed out waiting for %s (last: %r)" % (what, seen))


@contextlib.contextmanager
def emulate_process(state_dir, log_path, *options):
    """Run `nowmesh emulate --state-dir STATE_DIR OPTIONS...` until the block
    ends; yields the process once its control socket is up. Its output goes
    to log_path and is printed at the end (pytest shows it for a failure)."""
    log = open(log_path, "w+")
    proc = subprocess.Popen([sys.executable, "-m", "nowmesh", "emulate", "--state-dir", str(state_dir)]
                            + [str(o) for o in options], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: os.path.exists(socket_path(state_dir)) or proc.poll() is not None, 60,
                   "control.sock")
        assert proc.poll() is None, "nowmesh emulate exited"
        yield proc
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.seek(0)
        print(log.read())
        log.close()
