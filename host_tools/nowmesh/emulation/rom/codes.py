"""Wire-level pieces shared by the command handlers: the ROM's error codes
(the second status byte), its data checksum and argument unpacking."""
import struct

# ROM error codes, as esptool's FatalError.WithResult names them (0x1XX)
ERR_INVALID_MESSAGE, ERR_FAILED, ERR_CHECKSUM = 0x05, 0x06, 0x07
ERR_FLASH_WRITE, ERR_FLASH_READ, ERR_READ_LENGTH, ERR_DEFLATE = 0x08, 0x09, 0x0A, 0x0B
CHECKSUM_SEED = 0xEF


class RomError(Exception):
    """A command failed; the ROM answers with status 1 and this code."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


def checksum(data):
    """XOR of the data bytes, seeded with 0xEF (FLASH_DATA/MEM_DATA check field)."""
    state = CHECKSUM_SEED
    for b in data:
        state ^= b
    return state


def words(data, count):
    """`count` little-endian 32-bit arguments, or ERR_INVALID_MESSAGE for another length."""
    if len(data) != 4 * count:
        raise RomError(ERR_INVALID_MESSAGE)
    return struct.unpack("<%dI" % count, data)
