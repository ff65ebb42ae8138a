import os

from hypothesis import HealthCheck, settings

import nowmesh.corepath  # noqa: F401  (puts firmware/ and the host shims on sys.path)

# tests/port exercises the ESP32 port with MicroPython-only APIs
# (time.ticks_ms, sys.print_exception): `make test-upy` runs it under micropython.
collect_ignore = ["port"]

# Hypothesis profiles. "ci" (the default, `make test`): derandomized, so a
# run is the same every time and a failure reproduces; "fuzz" (`make fuzz`):
# NOWMESH_FUZZ_EXAMPLES examples per property, random, the seed printed
# (pytest --hypothesis-seed=N repeats a run).
_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
               print_blob=True)
settings.register_profile("ci", derandomize=True, max_examples=100, **_COMMON)
settings.register_profile("fuzz", max_examples=int(os.environ.get("NOWMESH_FUZZ_EXAMPLES", "8000")),
                          database=None, **_COMMON)
settings.load_profile(os.environ.get("NOWMESH_HYPOTHESIS_PROFILE", "ci"))
