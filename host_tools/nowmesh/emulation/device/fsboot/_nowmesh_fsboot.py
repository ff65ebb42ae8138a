# An emulated board's frozen _boot.py stage when its filesystem came from a
# flash file that did not mount (nowmesh/emulation/rom/flashboot.py). It says what
# MicroPython's ports/esp32/modules/_boot.py + inisetup.py say in that case:
# "Performing initial setup" after formatting an erased region, or, for a
# corrupted one, inisetup.fs_corrupted()'s message every 3 s until Ctrl-C.
import os

_state = os.getenv("NOWMESH_FS_STATE")


def fs_corrupted():
    import time
    import micropython

    # Allow this loop to be stopped via Ctrl-C.
    micropython.kbd_intr(3)

    while 1:
        print(
            """\
The filesystem appears to be corrupted. If you had important data there, you
may want to make a flash snapshot to try to recover it. Otherwise, perform
factory reprogramming of MicroPython firmware (completely erase flash, followed
by firmware programming).
"""
        )
        time.sleep(3)


if _state == "setup" and os.getenv("NOWMESH_EMU_BOOT") == "power":
    print("Performing initial setup")
elif _state == "corrupt":
    fs_corrupted()
