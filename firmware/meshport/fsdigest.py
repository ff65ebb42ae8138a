# One digest of a set of files on the flash, for `nowmesh deploy`: the host
# compares it with the digest of the tree it would deploy and, when they are
# equal, leaves the running node alone (no Ctrl-C, no reset, no lost
# neighbours). Format (docs/deploy.md): sha256 over the sorted lines
# "<path>\n<sha256 hex of the file>\n" of every file under the given paths.
import hashlib
import os
import sys
from binascii import hexlify

_DIR = 0x4000


def _walk(path, out):
    try:
        entries = list(os.ilistdir(path))
    except OSError:
        try:
            if not os.stat(path)[0] & _DIR:
                out.append(path)
        except OSError:
            pass
        return
    for e in entries:
        p = path + "/" + e[0]
        if e[1] & _DIR:
            _walk(p, out)
        else:
            out.append(p)


def _file_hash(path, buf):
    h = hashlib.sha256()
    view = memoryview(buf)
    with open(path, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h.update(view[:n])
    return hexlify(h.digest())


def digest(paths):
    files = []
    for p in paths:
        _walk(p, files)
    files.sort()
    total = hashlib.sha256()
    buf = bytearray(512)
    for p in files:
        total.update(p.encode() + b"\n" + _file_hash(p, buf) + b"\n")
    return {"digest": hexlify(total.digest()).decode(), "files": len(files),
            "mpy": getattr(sys.implementation, "_mpy", 0)}
