"""Flash and RAM download commands of the ROM loader: BEGIN erases, DATA
blocks are checked (length, XOR checksum, sequence) then programmed, END
leaves the loader. Each handler is handler(rom, data, checksum_field) ->
(value, data) and raises RomError with the ROM's error code."""
import struct
import zlib

from .codes import (ERR_CHECKSUM, ERR_DEFLATE, ERR_FAILED, ERR_FLASH_READ, ERR_FLASH_WRITE,
                    ERR_INVALID_MESSAGE, ERR_READ_LENGTH, RomError, checksum, words)

READ_SLOW_BLOCK = 64          # the most READ_FLASH_SLOW returns per command


class Transfer:
    """One FLASH_BEGIN / FLASH_DEFL_BEGIN / MEM_BEGIN session and its progress."""

    def __init__(self, kind, offset, size, blocks, block_size):
        self.kind, self.offset, self.size = kind, offset, size
        self.blocks, self.block_size = blocks, block_size
        self.next_seq = 0
        self.written = 0
        self.inflater = zlib.decompressobj() if kind == "deflate" else None


def _begin(rom, data, kind):
    args = words(data, rom.chip["begin_words"])    # ESP32: 4 words; later ROMs add "encrypted"
    size, blocks, block_size, offset = args[:4]
    if len(args) > 4 and args[4]:
        raise RomError(ERR_FAILED)                  # flash encryption is not emulated
    if not rom.flash.contains(offset, size):
        raise RomError(ERR_FAILED)
    rom.flash.erase(offset, size)                  # the ROM erases the whole region up front
    rom.transfer = Transfer(kind, offset, size, blocks, block_size)
    rom.events.append(("erase", offset, size))
    return 0, b""


def flash_begin(rom, data, chk):
    return _begin(rom, data, "flash")


def flash_defl_begin(rom, data, chk):
    return _begin(rom, data, "deflate")


def mem_begin(rom, data, chk):
    size, blocks, block_size, offset = words(data, 4)
    rom.transfer = Transfer("mem", offset, size, blocks, block_size)
    return 0, b""


def _block(rom, data, chk, kind):
    """Check a DATA packet's header and checksum; return (transfer, seq, payload)."""
    if len(data) < 16:
        raise RomError(ERR_INVALID_MESSAGE)
    length, seq, _, _ = struct.unpack_from("<IIII", data)
    payload = data[16:]
    transfer = rom.transfer
    if transfer is None or transfer.kind != kind:
        raise RomError(ERR_FAILED)                  # no BEGIN for this kind of download
    if length != len(payload) or length > transfer.block_size or seq >= transfer.blocks:
        raise RomError(ERR_INVALID_MESSAGE)
    if checksum(payload) != chk & 0xFF:
        raise RomError(ERR_CHECKSUM)
    return transfer, seq, payload


def flash_data(rom, data, chk):
    transfer, seq, payload = _block(rom, data, chk, "flash")
    address = transfer.offset + seq * transfer.block_size
    if not rom.flash.contains(address, len(payload)):
        raise RomError(ERR_FLASH_WRITE)
    rom.flash.program(address, payload)
    transfer.written = max(transfer.written, (seq + 1) * transfer.block_size)
    return 0, b""


def flash_defl_data(rom, data, chk):
    transfer, seq, payload = _block(rom, data, chk, "deflate")
    if seq != transfer.next_seq:
        raise RomError(ERR_INVALID_MESSAGE)         # a deflate stream only goes forwards
    try:
        out = transfer.inflater.decompress(payload)
    except zlib.error:
        raise RomError(ERR_DEFLATE) from None
    address = transfer.offset + transfer.written
    if not rom.flash.contains(address, len(out)):
        raise RomError(ERR_FLASH_WRITE)
    rom.flash.program(address, out)
    transfer.written += len(out)
    transfer.next_seq += 1
    return 0, b""


def mem_data(rom, data, chk):
    transfer, seq, payload = _block(rom, data, chk, "mem")
    rom.ram[transfer.offset + seq * transfer.block_size] = payload
    return 0, b""


def flash_end(rom, data, chk):
    """FLASH_END / FLASH_DEFL_END: 0 = reboot, 1 = run the app in flash; both leave the loader."""
    (stay,) = words(data, 1)
    rom.transfer = None
    rom.after_send.append(lambda: rom.leave("reboot" if stay == 0 else "run"))
    return 0, b""


def mem_end(rom, data, chk):
    no_entry, entry = words(data, 2)
    rom.transfer = None
    if not no_entry:
        # A real chip jumps to `entry` (esptool's flasher stub); RAM code cannot run
        # here, so the loader stays the ROM and the stub never says hello.
        rom.events.append(("ram code not run", entry))
    return 0, b""


def read_flash_slow(rom, data, chk):
    offset, length = words(data, 2)
    if length > READ_SLOW_BLOCK:
        raise RomError(ERR_READ_LENGTH)
    if not rom.flash.contains(offset, length):
        raise RomError(ERR_FLASH_READ)
    return 0, rom.flash.read(offset, READ_SLOW_BLOCK).ljust(READ_SLOW_BLOCK, b"\xff")


def flash_md5(rom, data, chk):
    offset, size, _, _ = words(data, 4)
    if not rom.flash.contains(offset, size):
        raise RomError(ERR_FLASH_READ)
    return 0, rom.flash.md5(offset, size).encode()   # the ROM answers 32 hex digits
