# What `import _nowmesh_powercut` gives the firmware on an emulated board
# (never on a board: there the import fails and nothing is cut). The OTA
# install and boot call cut(step) before every change to the flash
# (meshport/ota_stage.py, ota_boot.py); when the supervisor started this
# process with NOWMESH_POWERCUT naming that step, the power goes there: the
# supervisor is told ("P" on the control pipe) and SIGKILLs the interpreter,
# which waits for it, so nothing more reaches the flash. One cut per
# process; the supervisor starts the next one with the rest of the list.
import os
import time

_ctl = None                 # the control pipe's write, set by the shim


def cut(step):
    planned = os.getenv("NOWMESH_POWERCUT")
    if not planned or _ctl is None or planned.split(",")[0] != step:
        return
    _ctl(b"P")
    while True:             # the supervisor's SIGKILL ends this
        time.sleep(1)
