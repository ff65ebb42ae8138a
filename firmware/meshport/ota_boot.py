# What boot.py runs before main.py: finish or undo an OTA install that a
# power cut interrupted, count the boots of a bundle on trial, and roll back
# one that did not confirm itself within MAX_BOOTS boots (docs/ota.md,
# "Install and rollback"). Small and self-contained (os, json only): it runs
# on every boot, before the firmware proper is imported.
#
#   ota/install.json  the journal: {"state": "switch" | "trial" | "rollback",
#                     "version", "bundle", "prev": {"version", "bundle"},
#                     "boots", "confirm_s", "reason"}
#   ota/files.txt     the bundle's files, one "path had_old" line each (1: an
#                     old copy is in ota/prev/path; 0: the file is new)
#   ota/prev/...      copies of the files the install replaced
#   ota/running.json  {"version", "bundle"}: what runs
#   ota/rolled_back.json  {"version", "bundle", "reason"}: the last rollback
#
# Each state is written atomically (a temp file, then a rename), and every
# step below can run again after a cut: a switch is rolled forward, a
# rollback resumed, so the board boots the old files or the new ones, never
# a mix.
import json
import os

ROOT = "ota"
JOURNAL = ROOT + "/install.json"
FILES = ROOT + "/files.txt"
PREV = ROOT + "/prev"
RUNNING = ROOT + "/running.json"
ROLLED_BACK = ROOT + "/rolled_back.json"
STAGED = ".nmnew"               # the suffix deploy stages with (host_tools/nowmesh/deploy/plan.py)
MAX_BOOTS = 3


def exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def remove(path):
    try:
        os.remove(path)
    except OSError:
        pass


def replace(src, dst):
    """Rename src over dst: atomic on LittleFS (and on the emulated board's
    host file system); FAT cannot rename over a file, so remove it first."""
    try:
        os.rename(src, dst)
    except OSError:
        remove(dst)
        os.rename(src, dst)


def write_json(path, data, cut=None):
    if cut is not None:
        cut("write " + path)
    with open(path + ".tmp", "w") as f:
        f.write(json.dumps(data))
    replace(path + ".tmp", path)


def read_json(path):
    try:
        with open(path) as f:
            return json.loads(f.read())
    except (OSError, ValueError):
        return None


def bundle_files():
    """-> [(path, had an old copy)] of the install in the journal."""
    out = []
    try:
        with open(FILES) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    out.append((parts[0], parts[1] == "1"))
    except OSError:
        pass
    return out


def switch(journal, cut=None):
    """Rename every staged file into place (main.py is last in the list),
    then the new bundle runs, on trial. Runs again harmlessly after a cut."""
    for path, _had in bundle_files():
        if exists(path + STAGED):
            if cut is not None:
                cut("rename " + path)
            replace(path + STAGED, path)
    write_json(RUNNING, {"version": journal["version"], "bundle": journal["bundle"]}, cut)
    journal["state"], journal["boots"] = "trial", 0
    write_json(JOURNAL, journal, cut)


def rollback(journal, cut=None):
    """Put the old files back (main.py last again), remove the files the
    bundle added, and report it. Runs again harmlessly after a cut."""
    for path, had in bundle_files():
        if had:
            if exists(PREV + "/" + path):
                if cut is not None:
                    cut("restore " + path)
                replace(PREV + "/" + path, path)
        elif exists(path):
            if cut is not None:
                cut("remove " + path)
            remove(path)
    write_json(RUNNING, journal.get("prev") or {"version": 0, "bundle": None}, cut)
    write_json(ROLLED_BACK, {"version": journal["version"], "bundle": journal["bundle"],
                             "reason": journal.get("reason") or "rolled back"}, cut)
    if cut is not None:
        cut("remove " + JOURNAL)
    remove(JOURNAL)


def cut_hook():
    """The emulated board's power switch (`_nowmesh_powercut`, emulation
    only: the tests cut the power before a chosen change to the flash,
    docs/ota.md); None on a board, where no such module exists."""
    try:
        from _nowmesh_powercut import cut
        return cut
    except ImportError:
        return None


def run(cut=None):
    """One boot: -> the journal's state after it ("trial", or None)."""
    journal = read_json(JOURNAL)
    if not isinstance(journal, dict):
        return None
    state = journal.get("state")
    if state == "switch":
        switch(journal, cut)
        state = "trial"
    if state == "trial":
        journal["boots"] = journal.get("boots", 0) + 1
        if journal["boots"] > MAX_BOOTS:
            journal["state"] = state = "rollback"
            journal["reason"] = "not confirmed in %d boots" % MAX_BOOTS
        write_json(JOURNAL, journal, cut)
    if state == "rollback":
        rollback(journal, cut)
        return None
    return state
