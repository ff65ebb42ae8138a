# Minimal test runner for the MicroPython interpreter (and CPython).
# Usage: micropython tests/upy_runner.py tests/core
# Imports every tests/core/test_*.py module, runs each `test_*` function, and
# prints pytest-style lines ending in "N passed, N failed". Exit 1 on failure.
import gc
import os
import sys


def _modules(folder):
    names = [n[:-3] for n in os.listdir(folder) if n.startswith("test_") and n.endswith(".py")]
    names.sort()
    return names


def _run_module(name):
    passed = failed = 0
    module = __import__(name)
    for attr in sorted(dir(module)):
        if not attr.startswith("test_"):
            continue
        fn = getattr(module, attr)
        if not callable(fn):
            continue
        try:
            fn()
            passed += 1
        except Exception as exc:  # report and carry on with the next test
            failed += 1
            print("FAILED %s.%s: %r" % (name, attr, exc))
            if hasattr(sys, "print_exception"):
                sys.print_exception(exc)
    return passed, failed


def main(argv):
    folder = argv[1] if len(argv) > 1 else "tests/core"
    if folder not in sys.path:
        sys.path.insert(0, folder)
    total_pass = total_fail = 0
    modules = _modules(folder)
    for name in modules:
        p, f = _run_module(name)
        # MicroPython collects only when an allocation fails: collect between
        # modules, so one module's garbage does not fragment the heap under
        # the next (test_ota_dissemination's lossy line peaks near 1 MB and
        # needs a 20 KB block in one piece)
        gc.collect()
        print("%s: %d passed, %d failed" % (name, p, f))
        total_pass += p
        total_fail += f
    if total_pass + total_fail == 0:
        print("no tests found in %s" % folder)
        sys.exit(5)
    impl = sys.implementation.name
    print("%s: %d passed, %d failed" % (impl, total_pass, total_fail))
    sys.exit(1 if total_fail else 0)


main(sys.argv)
