# When this board installs the OTA bundle it holds, the trial of a new
# bundle after the reboot, and what the board reports of both (docs/ota.md,
# "Install and rollback"). Imported at boot with the OTA part; the install
# itself is meshport/ota_stage.py (imported only to install), the boot side
# meshport/ota_boot.py (run by boot.py).
import gc
import json

from .commands import neighbour_entries
from .store import _remove, read_json, write_atomic

JOURNAL = "ota/install.json"           # the names meshport/ota_boot.py uses
RUNNING = "ota/running.json"
ROLLED_BACK = "ota/rolled_back.json"
CONFIRM_S = 60
GO = "ota/go.json"              # {"version"}: install right after this boot (no memory before)
INSTALL_DELAY_MS = 1500         # an activation's answer goes out (and its retries stop) first


class Installer:
    """The board's side of an update after dissemination: when to install
    (the signed manifest says "now", or the operator's `ota_install`), the
    trial of a new bundle, and what the board reports (`fw`, events)."""

    def __init__(self, part, console, now_ms, free_flash):
        # console: where events go (None: nowhere, in tests without one)
        self.part, self.console, self.free_flash = part, console, free_flash
        running = _json(RUNNING)
        self.running = running if isinstance(running, dict) else {"version": 0, "bundle": None}
        self.rolled_back = _json(ROLLED_BACK)
        self.install_at = None
        self.failed = None            # the version an install failed for, and why
        go = _json(GO)
        _remove(GO)
        self.after_boot = isinstance(go, dict)    # restarted to install on a fresh heap
        if self.after_boot and self._installable() is not None \
                and self._installable().version == go.get("version"):
            self.install_at = now_ms
        journal = _json(JOURNAL)
        self.trial_until = None
        if isinstance(journal, dict) and journal.get("state") == "trial":
            self.trial_until = now_ms + 1000 * int(journal.get("confirm_s") or CONFIRM_S)
        rb = self.rolled_back
        if isinstance(rb, dict) and not rb.get("reported"):
            self.event("rolled_back", rb.get("version"), rb.get("bundle"), rb.get("reason"))
            rb["reported"] = True
            write_atomic(ROLLED_BACK, json.dumps(rb).encode())

    def event(self, *args):
        if self.console is not None:
            self.console.event("ota", args=list(args))

    def fw(self):
        """The running bundle id, or None for a tree deployed by cable."""
        return self.running.get("bundle")

    def status(self):
        """What the hello adds to the part's status: the install state."""
        if self.trial_until is not None:
            return "trial"
        if self.install_at is not None:
            return "installing"
        rb = self.rolled_back
        if isinstance(rb, dict):
            return "rolled back %s: %s" % (rb.get("version"), rb.get("reason"))
        if self.failed is not None:
            return "refused %s: %s" % self.failed
        return None

    def _installable(self):
        m = self.part.manifest
        if m is None or not self.part.complete() or m.bundle == self.running.get("bundle"):
            return None
        rb = self.rolled_back
        if isinstance(rb, dict) and rb.get("version") == m.version:
            return None               # it crashed here once: never again
        if self.failed is not None and self.failed[0] == m.version:
            return None
        return m

    def activate(self, version, now_ms):
        """The operator's go (`ota_install`) -> None, or why not."""
        m = self._installable()
        if m is None or m.version != version:
            return "does not hold version %s whole (holds %s)" % (version, self.part.status())
        self.install_at = now_ms + INSTALL_DELAY_MS
        return None

    def step(self, now_ms, node):
        """-> "reset" when the board must restart (into the new bundle, or
        out of a trial that did not confirm), else None."""
        if self.trial_until is not None:
            if neighbour_entries(node):     # it hears the mesh: the new bundle works
                _remove(JOURNAL)            # confirmed: it stays (the old copies stay in ota/prev)
                self.trial_until = None
                self.event("installed", self.running.get("version"), self.running.get("bundle"))
            elif now_ms >= self.trial_until:
                self.event("unconfirmed", self.running.get("version"), "no neighbour heard")
                return "reset"
            return None
        m = self._installable()
        if m is not None and self.install_at is None and m.activate == "now":
            self.install_at = now_ms
        if self.install_at is not None and now_ms >= self.install_at:
            self.install_at = None
            return self._install(m, now_ms)
        return None

    def _install(self, m, now_ms):
        if m is None:
            return None
        free = self.free_flash()
        if free is not None and free < 2 * m.size:    # staged copies + the old ones kept
            self.failed = (m.version, "space")
        else:
            try:
                self.event("installing", m.version, m.bundle)
                gc.collect()
                from . import ota_stage
                ota_stage.install(self.part.store, m, self.running, self.part.page_buffer(m.page_size),
                                  m.confirm_s)
                return "reset"
            except MemoryError:
                # the install's code did not fit the heap as the running mesh
                # left it: restart and install first thing after boot, on a
                # heap not yet fragmented (once: the marker is used up at boot)
                if not self.after_boot:
                    self.event("retrying", m.version, "out of memory: restarting to install")
                    write_atomic(GO, json.dumps({"version": m.version}).encode())
                    return "reset"
                self.failed = (m.version, "out of memory")
            except Exception as e:        # InstallError, OSError: nothing switched, the old runs on
                self.failed = (m.version, str(e))
        self.event("refused", m.version, self.failed[1])
        return None


def _json(path):
    try:
        return read_json(path)
    except ValueError:
        return None
