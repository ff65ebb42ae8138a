"""The adversarial suite's summary line: cases run, escapes, profile, seed.

An escape is a property that failed: an exception out of the code under
test, or an invariant (bounds, unchanged state) that did not hold; hypothesis
prints the smallest input that shows it. Under the "fuzz" profile (`make
fuzz`) fewer than FUZZ_MIN cases is a failure too."""
import os
import sys

from hypothesis import settings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fuzzcount import CASES  # noqa: E402

FUZZ_MIN = 100000
_escapes = []


def pytest_runtest_logreport(report):
    if report.failed and report.when == "call" and "tests/security/" in report.nodeid.replace("\\", "/"):
        _escapes.append(report.nodeid)


def _line(config):
    seed = config.getoption("hypothesis_seed", None)
    profile = settings.get_current_profile_name()
    how = "derandomized" if settings.default.derandomize else "seed %s" % (seed if seed is not None else "random")
    return ("adversarial suite: %d cases over %d properties, %d escaped, hypothesis profile %r (%s)"
            % (sum(CASES.values()), len(CASES), len(_escapes), profile, how))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not CASES:
        return
    terminalreporter.write_line(_line(config))
    for nodeid in _escapes:
        terminalreporter.write_line("  escaped: %s" % nodeid)
    if settings.get_current_profile_name() == "fuzz" and sum(CASES.values()) < FUZZ_MIN:
        terminalreporter.write_line("  fewer than %d cases: raise NOWMESH_FUZZ_EXAMPLES" % FUZZ_MIN)


def pytest_sessionfinish(session, exitstatus):
    if settings.get_current_profile_name() == "fuzz" and CASES and sum(CASES.values()) < FUZZ_MIN and exitstatus == 0:
        session.exitstatus = 1
