"""The ESP ROM loader's command protocol as a state machine, no I/O.

`RomLoader.handle(packet)` takes one un-framed request and returns the
un-framed responses; the server (server.py) does SLIP and the port. Commands
are a table (opcode -> method); every method returns (value, data) or raises
RomError with the ROM's error code. Reference: esptool's "Serial Protocol"
documentation and `loader.py`, which is the client this must satisfy.
"""
import struct

from . import transfers
from .chips import BANNER, CHIP_DETECT_MAGIC_REG, CHIPS, mac_registers
from .codes import ERR_FAILED, ERR_INVALID_MESSAGE, RomError, words as _words

SYNC_PAYLOAD = b"\x07\x07\x12\x20" + b"\x55" * 32
SYNC_VALUE = 0x20120707          # any non-zero value: "a ROM answered", not the stub (0)
SPI_CMD_USR = 1 << 18
SPI_USR_ADDR, SPI_USR_MISO = 1 << 30, 1 << 28
SPI_READS = {0x9F: "jedec", 0x5A: "sfdp", 0x05: "status", 0x35: "status", 0x15: "status"}


class RomLoader:
    def __init__(self, chip, flash, mac, on_run=None):
        self.chip = CHIPS[chip]
        self.flash = flash
        self.registers = dict(self.chip["registers"])
        self.registers.update(mac_registers(self.chip, mac))
        if self.chip["magic"] is not None:
            self.registers[CHIP_DETECT_MAGIC_REG] = self.chip["magic"]
        self.synced = False
        self.baud = 115200
        self.transfer = None
        self.ram = {}
        self.on_run = on_run
        self.app_running = False
        self.after_send = []        # actions that take effect once the answer is out
        self.events = []            # (what, detail...) for logs and tests
        self.console = bytearray(BANNER)   # plain text the chip prints (not SLIP)

    def reset(self):
        """EN pressed with BOOT held: the ROM starts again in download mode."""
        self.synced, self.baud, self.transfer, self.app_running = False, 115200, None, False
        self.console += BANNER
        self.events.append(("reset",))

    def leave(self, reason):
        """FLASH_END asked to run the app. With an on_run hook (an emulated board that
        boots from the flash file) the ROM goes quiet; without one the chip comes back
        in download mode, as a board whose BOOT button is still held does."""
        self.events.append(("leave", reason))
        if self.on_run is None:
            self.reset()
            return
        self.app_running = True
        self.on_run(reason)

    # --- framing of requests and responses ----------------------------------
    def handle(self, packet, host_baud=None):
        """Responses to one request. `host_baud` is the rate the host's UART runs at
        (None: unknown, not checked)."""
        if self.app_running or len(packet) < 8 or packet[0] != 0x00:
            return []                                   # not a request: noise
        op, size, chk = struct.unpack_from("<BHI", packet, 1)
        data = packet[8:]
        if op == 0x08:
            # A SYNC is always heard: it stands in for the reset into download mode that
            # esptool does with DTR/RTS on a real board, and the ROM re-learns the rate.
            return self._sync(data, host_baud)
        if not self.synced or (host_baud and host_baud != self.baud):
            return []                                   # garbage to a UART at another rate
        handler = COMMANDS.get(op)
        try:
            if handler is None or size != len(data):
                raise RomError(ERR_INVALID_MESSAGE)
            value, body = handler(self, data, chk)
        except RomError as e:
            return [self._response(op, 0, b"", e.code)]
        return [self._response(op, value, body, 0)]

    def answered(self):
        """Call once the responses are out: what the command changed takes effect
        (a new baud rate, leaving the loader)."""
        actions, self.after_send = self.after_send, []
        for action in actions:
            action()

    def _response(self, op, value, body, error):
        status = bytes((1 if error else 0, error)) + bytes(self.chip["status_len"] - 2)
        payload = body + status
        return struct.pack("<BBHI", 0x01, op, len(payload), value) + payload

    def _sync(self, data, host_baud):
        if data != SYNC_PAYLOAD:
            return []
        self.synced = True
        if host_baud:
            self.baud = host_baud                       # the ROM auto-detects the rate from SYNC
        return [self._response(0x08, SYNC_VALUE, b"", 0)] * 8

    # --- registers and the SPI flash controller ------------------------------
    def read_reg(self, addr):
        if addr == self.chip["uart_clkdiv"]:
            return 40_000_000 // self.baud              # UART clock divider at a 40 MHz crystal
        return self.registers.get(addr, 0)

    def _read_reg(self, data, chk):
        return self.read_reg(_words(data, 1)[0]), b""

    def _write_reg(self, data, chk):
        if not data or len(data) % 16:
            raise RomError(ERR_INVALID_MESSAGE)
        for addr, value, mask, _delay_us in struct.iter_unpack("<IIII", data):
            old = self.registers.get(addr, 0)
            self.registers[addr] = (old & ~mask) | (value & mask)
            if addr == self.chip["spi"][0] and value & mask & SPI_CMD_USR:
                self._run_spi_command()
        return 0, b""

    def _run_spi_command(self):
        base, usr, usr1, usr2, _mosi, miso, w0 = self.chip["spi"]
        reg = lambda off: self.registers.get(base + off, 0)
        flags = reg(usr)
        read_bits = reg(miso) + 1 if flags & SPI_USR_MISO else 0
        addr = reg(4)
        if flags & SPI_USR_ADDR:
            addr_len = ((reg(usr1) >> 26) & 0x3F) + 1
            if self.chip["addr_msb"]:
                addr >>= 32 - addr_len
        kind = SPI_READS.get(reg(usr2) & 0xFF)
        if read_bits and kind is not None:
            value = {"jedec": lambda: self.flash.jedec_id,
                     "sfdp": lambda: self.flash.sfdp(addr, (read_bits + 7) // 8),
                     "status": lambda: 0}[kind]()
            self.registers[base + w0] = value & ((1 << read_bits) - 1)
        self.registers[base] = reg(0) & ~SPI_CMD_USR       # done at once

    def _spi_attach(self, data, chk):
        _words(data, 2)
        return 0, b""

    def _spi_set_params(self, data, chk):
        _fl_id, total, _block, _sector, _page, _mask = _words(data, 6)
        if total > self.flash.size:
            raise RomError(ERR_FAILED)
        return 0, b""

    def _set_baud(self, baud):
        self.baud = baud
        self.events.append(("baud", baud))

    def _security_info(self, data, chk):
        kind = self.chip["security_info"]
        if kind is None:
            raise RomError(ERR_INVALID_MESSAGE)         # the ESP32 ROM has no such command
        info = struct.pack("<IB7B", 0, 0, *bytes(7))
        if kind == "long":
            info += struct.pack("<II", self.chip["image_chip_id"], 0)
        return 0, info

    def _change_baud(self, data, chk):
        new, _old = _words(data, 2)
        if not new:
            raise RomError(ERR_INVALID_MESSAGE)
        self.after_send.append(lambda: self._set_baud(new))
        return 0, b""


# opcode -> handler(rom, data, checksum_field) -> (value, data)
COMMANDS = {
    0x02: transfers.flash_begin, 0x03: transfers.flash_data, 0x04: transfers.flash_end,
    0x05: transfers.mem_begin, 0x06: transfers.mem_end, 0x07: transfers.mem_data,
    0x09: RomLoader._write_reg, 0x0A: RomLoader._read_reg,
    0x0B: RomLoader._spi_set_params, 0x0D: RomLoader._spi_attach,
    0x0E: transfers.read_flash_slow, 0x0F: RomLoader._change_baud,
    0x10: transfers.flash_defl_begin, 0x11: transfers.flash_defl_data, 0x12: transfers.flash_end,
    0x13: transfers.flash_md5, 0x14: RomLoader._security_info,
}
