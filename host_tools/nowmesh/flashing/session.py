"""Flash one board through esptool's Python API (esptool.cmds), never its logs.

The serial seam is `open_serial(path)`: it returns an open pyserial port that
is handed to esptool (its ESPLoader accepts a port object), so tests replace
it with an in-memory ROM loader and every path below runs for real.
"""
import errno
import os
import stat
import sys
import time

import serial
from esptool import cmds
from esptool.targets import CHIP_DEFS
from esptool.util import FatalError

from nowmesh.errors import ToolError

ROM_BAUD = 115200
CHIP_BY_ROM_NAME = {cls.CHIP_NAME: name for name, cls in CHIP_DEFS.items()}
PTY_MAJORS = range(136, 144)      # Linux Unix98 pty slaves (/dev/pts/N)

PERMISSION_FIX = {
    "linux": "add yourself to the dialout group (sudo usermod -aG dialout $USER; "
             "on Arch/Fedora the group is uucp), then log out and in again",
    "darwin": "check that no other app holds the port and that the USB-serial driver is allowed "
              "in System Settings > Privacy & Security",
    "win32": "close the program that holds the COM port, or run the terminal as the user who owns it",
}
NOT_IN_BOOTLOADER = ("no answer from the ROM bootloader on %s: the board is not in download mode; "
                     "hold BOOT (GPIO0), press and release EN/RST, release BOOT, then try again")


class Connection:
    """How to reach a chip's loader on a kind of port (variation by table)."""

    def __init__(self, before, after, stub, attempts):
        self.before, self.after, self.stub, self.attempts = before, after, stub, attempts


CONNECTIONS = {
    # A USB-serial bridge: esptool pulses DTR/RTS into download mode, runs its stub
    # (fast, compressed, can erase) and pulses EN at the end.
    "usb": Connection(before="default-reset", after="hard-reset", stub=True, attempts=4),
    # A pty (the emulated ROM): no DTR/RTS lines, so the chip must already be in
    # download mode; the stub cannot run there; the soft reset (FLASH_END "run
    # user code") is how the app is started.
    "pty": Connection(before="no-reset", after="soft-reset", stub=False, attempts=2),
}


def port_kind(path):
    try:
        st = os.stat(path)
    except OSError:
        return "usb"
    return "pty" if stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) in PTY_MAJORS else "usb"


def open_serial(path):
    """Open `path` exclusively at the ROM's baud rate; one clear ToolError if it cannot be."""
    try:
        # exclusive: a second program on the same board would corrupt the transfer
        # (URL handlers such as rfc2217:// do not take the option)
        options = {} if "://" in path else {"exclusive": True}
        port = serial.serial_for_url(path, do_not_open=True, **options)
        port.baudrate = ROM_BAUD
        port.open()
        return port
    except (serial.SerialException, OSError, ValueError) as e:
        raise port_error(path, e) from None


def port_error(path, exc):
    code = getattr(exc, "errno", None)
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return ToolError("no such port %s (is the board plugged in? list ports with: nowmesh ports)" % path)
    if code in (errno.EACCES, errno.EPERM):
        fix = PERMISSION_FIX.get(sys.platform, PERMISSION_FIX["linux"])
        return ToolError("permission denied on %s: %s" % (path, fix))
    if code in (errno.EBUSY, errno.EAGAIN):
        return ToolError("port %s is busy: close the program using it (a serial monitor, "
                         "mpremote, nowmesh monitor) and try again" % path)
    return ToolError("cannot open port %s: %s" % (path, exc))


class FlashJob:
    """One board: where, what (bytes at an offset), and how."""

    def __init__(self, port, board, data, offset, source, node=None, erase=False, baud=460800,
                 connection=None):
        self.port, self.board, self.data, self.offset = port, board, data, offset
        self.source, self.node, self.erase, self.baud = source, node, erase, baud
        self.connection = connection or CONNECTIONS[port_kind(port)]


def flash(job, report=lambda phase, done, total: None, opener=None):
    """Write job.data at job.offset, verified by esptool's MD5 check; return a result dict."""
    started = time.monotonic()
    port = (opener or open_serial)(job.port)
    try:
        esp = _connect(port, job)
        chip = CHIP_BY_ROM_NAME.get(esp.CHIP_NAME, esp.CHIP_NAME)
        if chip != job.board["chip"]:
            raise ToolError("%s has an %s, but board %s is an %s: pick the matching --board"
                            % (job.port, chip, job.board["name"], job.board["chip"]))
        mac = _esptool(job, _write, esp, job, report)
    finally:
        port.close()
    return {"port": job.port, "node": job.node, "board": job.board["name"], "chip": chip, "mac": mac,
            "offset": job.offset, "bytes": len(job.data), "erased": job.erase, "verified": True,
            "seconds": round(time.monotonic() - started, 2)}


def _connect(port, job):
    try:
        return cmds.detect_chip(port, baud=ROM_BAUD, connect_mode=job.connection.before,
                                connect_attempts=job.connection.attempts)
    except FatalError:
        raise ToolError(NOT_IN_BOOTLOADER % job.port) from None


def _write(esp, job, report):
    mac = ":".join("%02x" % b for b in esp.read_mac())
    if job.connection.stub:
        esp = cmds.run_stub(esp)
    if job.baud > ROM_BAUD:
        esp.change_baud(job.baud)
    cmds.attach_flash(esp)
    if job.erase:
        report("erase", 0, 1)
        _erase(esp)
    report("write", 0, len(job.data))
    cmds.write_flash(esp, [(job.offset, job.data)], compress=True)
    cmds.reset_chip(esp, job.connection.after)
    return mac


def _erase(esp):
    if esp.IS_STUB:
        cmds.erase_flash(esp)
        return
    # The ROM has no chip erase; FLASH_DEFL_BEGIN erases the region it is given, so
    # writing the whole flash as 0xFF (a few KB compressed) erases it.
    size = cmds.flash_size_bytes(cmds.detect_flash_size(esp) or "4MB")
    cmds.write_flash(esp, [(0, b"\xff" * size)], compress=True, no_progress=True)


def _esptool(job, func, *args):
    try:
        return func(*args)
    except FatalError as e:
        message = str(e).strip().splitlines()[0]
        if "MD5" in message or "Write failed" in message:
            raise ToolError("verify failed on %s: the flash does not hold what was written (%s)"
                            % (job.port, message)) from None
        raise ToolError("flashing %s failed: %s" % (job.port, message)) from None




def detected_ports(comports=None):
    """Device paths of serial ports whose USB VID:PID belongs to an ESP32 board, sorted."""
    from nowmesh.ports import esp_usb_ports
    return esp_usb_ports(comports)
