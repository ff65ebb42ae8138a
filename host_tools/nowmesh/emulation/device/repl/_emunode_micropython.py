# What `import micropython` gives user code on an emulated board: the unix
# port's module, except kbd_intr(). On the unix port kbd_intr(-1) would restore
# the default SIGINT action (a Ctrl-C from the host would kill the node); here
# the interpreter keeps its handler and the supervisor is told which byte, if
# any, is the interrupt character until this program ends (as pyexec.c
# restores Ctrl-C after each program).
from micropython import *   # noqa: F401,F403  (the hook gives this module the real one)

_notify = None              # set by the shim


def kbd_intr(chr):
    if _notify is not None:
        _notify(chr)
