# Small files on the flash filesystem, written so a power cut never leaves a
# half-written file: write a temporary file, then rename it over the old one
# (rename is atomic on LittleFS and FAT within one directory).
import json
import os


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def write_atomic(path, data):
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    try:
        os.rename(tmp, path)
    except OSError:
        # FAT cannot rename over an existing file: remove, then rename.
        _remove(path)
        os.rename(tmp, path)


def read_json(path):
    """Parsed JSON, or None if the file does not exist. Raises ValueError if corrupt."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return None
    return json.loads(text)


def write_json(path, obj):
    write_atomic(path, json.dumps(obj).encode())


def _read_int(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def next_boot_counter(path="boot.cnt"):
    """Increment and persist the boot counter the core's replay window needs.

    Kept in two files written one after the other, so a power cut or a corrupt
    sector loses at most one: the counter continues from the larger readable
    copy. If both exist but neither reads, jump far ahead rather than restart
    at 0, where old frames could be replayed as new.
    """
    backup = path + ".bak"
    values = [v for v in (_read_int(path), _read_int(backup)) if v is not None]
    if values:
        value = max(values)
    elif _exists(path) or _exists(backup):
        value = 1 << 24
    else:
        value = 0
    value = (value + 1) & 0xFFFFFFFF
    data = str(value).encode()
    write_atomic(path, data)
    write_atomic(backup, data)
    return value
