"""How many cases the adversarial suite ran: every property wrapped in
`counted` adds one per example hypothesis runs (the summary is printed by
tests/security/conftest.py; `make fuzz` fails below FUZZ_MIN)."""
import collections
import functools

CASES = collections.Counter()       # property name -> examples run


def counted(test):
    @functools.wraps(test)          # hypothesis reads the wrapped signature
    def run(*args, **kwargs):
        CASES[test.__name__] += 1
        return test(*args, **kwargs)
    return run
