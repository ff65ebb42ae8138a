"""CPython stand-in for MicroPython's `micropython` module (host only, never deployed).

The core writes `_X = const(3)` for the MicroPython compiler; on CPython `const`
is the identity.
"""


def const(value):
    return value
