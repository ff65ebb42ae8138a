import os
import random
import signal

import pytest
from hypothesis import HealthCheck, settings

from nowmesh.bundle import core

core.load()     # the core's tests import the firmware's `mesh` (and the host shims) directly

# Tests stop `nowmesh` commands with SIGINT, as a user's Ctrl-C would. A shell
# that starts the run in the background (`make test &` in a script) ignores
# SIGINT, and an ignored signal stays ignored across exec, so every command the
# tests start would ignore it too. A handled signal is reset to the default at
# exec: handling it here gives the commands a normal Ctrl-C.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

# tests/port exercises the ESP32 port with MicroPython-only APIs
# (time.ticks_ms, sys.print_exception): `make test-upy` runs it under micropython.
collect_ignore = ["port"]

# Hypothesis profiles, chosen with NOWMESH_HYPOTHESIS_PROFILE (or pytest's
# --hypothesis-profile):
#   ci    (default when CI is set): derandomised, every run draws the same examples
#   dev   (default otherwise): a fresh seed each run, printed in the header
#   fuzz  (`make fuzz`): many more examples (NOWMESH_FUZZ_EXAMPLES, default 5000)
# Every run prints its seed; `--hypothesis-seed=N` replays a run exactly.
_COMMON = dict(deadline=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("ci", derandomize=True, max_examples=100, **_COMMON)
settings.register_profile("dev", max_examples=100, **_COMMON)
settings.register_profile("fuzz", max_examples=int(os.environ.get("NOWMESH_FUZZ_EXAMPLES", "5000")), **_COMMON)
PROFILE = os.environ.get("NOWMESH_HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "dev")
settings.load_profile(PROFILE)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    # One seed for the whole run, set before hypothesis's plugin reads it:
    # derandomised profiles use 0, others a fresh one; an explicit seed wins.
    if getattr(config.option, "hypothesis_seed", None) is None:
        seed = 0 if settings.default.derandomize else random.randrange(1 << 32)
        config.option.hypothesis_seed = str(seed)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    # printed at the end even under -q, where the header is not
    seed = config.option.hypothesis_seed
    terminalreporter.write_line("hypothesis: profile %s, seed %s (replay with --hypothesis-seed=%s)"
                                % (settings.get_current_profile_name(), seed, seed))
