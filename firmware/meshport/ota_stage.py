# Installing the OTA bundle this board holds (docs/ota.md, "Install and
# rollback"). Imported only to install (meshport/ota_install.Installer),
# after a collect: the board resets right after, so the heap it leaves
# behind does not matter, and the running node does not carry this code.
# The boot side (finish a switch, count trial boots, roll back) is
# meshport/ota_boot.py.
#
# install(): 1. stage every file of the bundle as <path>.nmnew from the
# verified pages on flash; 2. read the staged files back and check every
# page of them against the signed manifest's page hashes (every byte of
# every file); 3. copy the files it replaces to ota/prev/ (the rollback);
# 4. write the journal "switch" -- the commit point: before it the old
# firmware is untouched, after it boot.py rolls the switch forward;
# 5. rename the staged files into place, main.py last (ota_boot.switch);
# 6. reset. The new firmware is on trial: it confirms itself once it hears
# a neighbour within confirm_s; a trial that does not confirm resets, and
# after MAX_BOOTS unconfirmed boots boot.py rolls back.
#
# `cut` (tests only): called before every change to the flash with its
# name; the tests raise there to cut the power at every step. Without one,
# the emulated board's power switch (ota_boot.cut_hook) is asked instead.
import gc
import os

from . import ota_boot
from .ota_boot import FILES, JOURNAL, PREV, STAGED, exists, write_json

# never written by an update: the user's app, libraries and settings
PROTECTED = ("nowmesh.json", "board.json", "app.py", "app.mpy", "app/", "ota/")
COPY = 512


class InstallError(Exception):
    pass


def _mkdirs(path):
    parts = path.split("/")[:-1]
    for i in range(len(parts)):
        try:
            os.mkdir("/".join(parts[:i + 1]))
        except OSError:
            pass                    # already there


def _protected(path):
    for p in PROTECTED:
        if path == p or (p[-1] == "/" and path.startswith(p)):
            return True
    return False


def _pages(store, manifest):
    """The bundle's bytes in order, a piece at a time, from the held pages."""
    for index in range(manifest.pages):
        size = manifest.page_len(index)
        for offset in range(0, size, COPY):
            yield store.read(index, offset, min(COPY, size - offset))


def _stage(store, manifest, files, cut):
    pieces, rest = _pages(store, manifest), b""
    for path, size in files:
        _mkdirs(path)
        cut("stage " + path)
        with open(path + STAGED, "wb") as f:
            while size:
                if not rest:
                    rest = next(pieces)
                n = min(size, len(rest))
                f.write(rest[:n])
                rest, size = rest[n:], size - n


def _staged_bytes(files):
    for path, _size in files:
        with open(path + STAGED, "rb") as f:
            while True:
                piece = f.read(COPY)
                if not piece:
                    break
                yield piece


def _verify(manifest, files, buf):
    """Every page rebuilt from the staged files matches the signed manifest."""
    index, fill = 0, 0
    for piece in _staged_bytes(files):
        while piece:
            want = manifest.page_len(index) - fill
            n = min(want, len(piece))
            buf[fill:fill + n] = piece[:n]
            fill, piece = fill + n, piece[n:]
            if fill == manifest.page_len(index):
                if not manifest.page_ok(index, memoryview(buf)[:fill]):
                    raise InstallError("staged page %d does not match the manifest" % index)
                index, fill = index + 1, 0
    if index != manifest.pages or fill:
        raise InstallError("staged files are short")


def _copy(src, dst, cut):
    _mkdirs(dst)
    cut("keep " + src)
    with open(src, "rb") as f, open(dst, "wb") as g:
        while True:
            piece = f.read(COPY)
            if not piece:
                break
            g.write(piece)


def _keep_old(files, cut):
    """Copy the files the bundle replaces to ota/prev/, list every file."""
    lines = []
    for path, _size in files:
        had = exists(path)
        if had:
            _copy(path, PREV + "/" + path, cut)
        lines.append("%s %d\n" % (path, 1 if had else 0))
    cut("write " + FILES)
    with open(FILES, "w") as f:
        f.write("".join(lines))


def install(store, manifest, running, buf, confirm_s=60, cut=None):
    """Stage, verify, keep the old, commit, switch. -> None; InstallError
    (nothing switched: the old firmware runs on) naming what is wrong."""
    cut = cut or ota_boot.cut_hook() or (lambda step: None)
    files = list(manifest.files())
    for path, _size in files:
        if _protected(path):
            raise InstallError("the bundle would overwrite %s" % path)
    gc.collect()
    _stage(store, manifest, files, cut)
    _verify(manifest, files, buf)
    _keep_old(files, cut)
    journal = {"state": "switch", "version": manifest.version, "bundle": manifest.bundle,
               "prev": running, "boots": 0, "confirm_s": confirm_s}
    write_json(JOURNAL, journal, cut)           # the commit point
    ota_boot.switch(journal, cut)
