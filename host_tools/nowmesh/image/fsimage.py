"""LittleFS images as MicroPython's VfsLfs2 writes and reads them.

MicroPython (extmod/vfs_lfsx.c) formats with the block device's block size
(4096 on ESP32), read/prog size 32, lookahead 32, block_cycles 100. Its
littlefs is v2.5 up to v1.22, which reads only on-disk version 2.0; v1.23
moved to littlefs v2.8 (PR #12731), which writes 2.1 but reads 2.0 as well.
So images are written as disk version 2.0: every v2 MicroPython mounts them.
"""
import littlefs

from .layout import BLOCK_SIZE

DISK_VERSION = 0x00020000
LFS_OPTIONS = {"block_size": BLOCK_SIZE, "read_size": 32, "prog_size": 32, "lookahead_size": 32,
               "block_cycles": 100, "cache_size": 128, "name_max": 255}


class FsError(ValueError):
    """The files do not fit, or the bytes are not a mountable LittleFS."""


def build(files, size):
    """{path: bytes} -> a LittleFS image of exactly `size` bytes (erased = 0xFF)."""
    fs = littlefs.LittleFS(block_count=size // BLOCK_SIZE, disk_version=DISK_VERSION, **LFS_OPTIONS)
    try:
        for path in sorted(files):
            parent = path.rpartition("/")[0]
            if parent:
                fs.makedirs(parent, exist_ok=True)
            with fs.open(path, "wb") as out:
                out.write(files[path])
        fs.unmount()
    except littlefs.LittleFSError as e:
        if e.code == littlefs.LittleFSError.Error.LFS_ERR_NOSPC:
            raise FsError("the files (%d bytes in %d files) do not fit in a %d KB filesystem"
                          % (sum(len(v) for v in files.values()), len(files), size // 1024)) from None
        raise
    return bytes(fs.context.buffer)


def mount(data):
    """A mounted littlefs.LittleFS over a copy of `data`; FsError if it will not mount."""
    context = littlefs.UserContext(buffer=bytearray(data))
    # mount=False: littlefs-python's constructor formats a region it cannot
    # mount, which would silently "repair" a corrupt filesystem
    fs = littlefs.LittleFS(context=context, block_count=len(data) // BLOCK_SIZE, mount=False, **LFS_OPTIONS)
    try:
        fs.mount()
        return fs
    except littlefs.LittleFSError as e:
        raise FsError("LittleFS mount failed: %s" % e) from None


def read(data):
    """A LittleFS image -> {path: bytes} of every file in it; FsError if not mountable."""
    fs = mount(data)
    files = {}
    try:
        for root, _dirs, names in fs.walk("/"):
            for name in names:
                path = (root.rstrip("/") + "/" + name).lstrip("/")
                with fs.open(path, "rb") as f:
                    files[path] = f.read()
    except littlefs.LittleFSError as e:
        raise FsError("LittleFS read failed: %s" % e) from None
    return files


def disk_version(data):
    """The on-disk version the image's superblock records (0x00020000 = 2.0)."""
    return mount(data).fs_stat().disk_version


def is_erased(data):
    """MicroPython's inisetup.check_bootsec(): an all-0xFF first block means a
    blank region to format, anything else a corrupted filesystem."""
    return bytes(data[:BLOCK_SIZE]) == b"\xff" * min(BLOCK_SIZE, len(data))
