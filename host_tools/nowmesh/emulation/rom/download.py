"""A node of a running emulated mesh held in ROM download mode, the way a
board is flashed in the field: its board powers off, an emulated ROM
bootloader (nowmesh.emulation.rom) serves its serial port with its flash file
behind it, and when esptool ends with its soft reset (FLASH_END "run user
code", what `nowmesh flash` does on a pty) the board boots from what was
written and rejoins the mesh, as nowmesh.emulation.rom.flashboot describes.

    with DownloadMode(emulation, "n3", "/tmp/n3.flash") as dl:
        subprocess.run(["nowmesh", "flash", dl.port, "--image", "images/barn.bin"])
        node = dl.wait_booted(30)       # n3 runs again, named by its image's config
"""
import threading

from nowmesh.errors import ToolError
from nowmesh.emulation.rom import BootloaderPort

from nowmesh.image.layout import parse_flash_size


class DownloadMode:
    def __init__(self, emulation, name, flash_path, flash_size=None):
        self.emulation = emulation
        self.node = emulation.node(name)
        self.flash_path = flash_path
        self.flash_size = parse_flash_size(flash_size or emulation.board_profile["flash_size"])
        self.rom = None
        self.error = None
        self._booted = threading.Event()

    @property
    def port(self):
        """The serial port esptool opens while the node is in download mode."""
        return self.rom.port if self.rom else None

    def start(self):
        self.emulation.kill(self.node.name)          # power off, then hold BOOT and power on
        self.rom = BootloaderPort(self.emulation.board_profile["chip"], self.flash_path, self.flash_size,
                                  on_run=self._on_run).start()
        return self

    def stop(self):
        if self.rom is not None:
            self.rom.stop()
            self.rom = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def wait_booted(self, timeout=30):
        """The node once it booted from its flash; ToolError if it did not."""
        if not self._booted.wait(timeout):
            raise ToolError("%s: no soft reset from esptool within %gs" % (self.node.name, timeout))
        if self.error is not None:
            raise self.error
        return self.node

    def _on_run(self, reason):
        # called on the ROM's serving thread: leave it before stopping it
        threading.Thread(target=self._boot, name="boot %s" % self.node.name, daemon=True).start()

    def _boot(self):
        try:
            self.stop()
            self.emulation.flash_images[self.node.name] = self.flash_path
            self.emulation.restart(self.node.name)
        except Exception as e:          # noqa: BLE001 -- reported by wait_booted
            self.error = e
        finally:
            self._booted.set()
