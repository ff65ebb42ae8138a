# What `import os` gives user code on an emulated board: the unix port's os
# with what an ESP32's adds. ilistdir() entries carry the file size as a 4th
# item (FAT and littlefs do; VfsPosix does not), and uname() exists.
from os import *   # noqa: F401,F403  (the hook gives this module the real os)
import os as _os
import sys as _sys


def ilistdir(path=""):
    base = path if not path or path.endswith("/") else path + "/"
    for entry in _os.ilistdir(path):
        if len(entry) == 3:
            size = 0
            if entry[1] == 0x8000:
                try:
                    size = _os.stat(base + entry[0])[6]
                except OSError:
                    pass
            entry = (entry[0], entry[1], entry[2], size)
        yield entry


def uname():
    v = "%d.%d.%d" % _sys.implementation.version[:3]
    return ("esp32", "esp32", v, "v%s (nowmesh emulated node)" % v,
            "nowmesh emulated node with ESP32")
