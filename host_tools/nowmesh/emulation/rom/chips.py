"""What each emulated chip's ROM looks like from the serial port: one table
row per chip, in esptool's terms (chip names as `--chip` takes them).

Sources: the chips' technical reference manuals and esptool's `targets/`
modules, which read these same addresses. Registers not listed read as 0,
which is what an unprogrammed eFuse block and an idle peripheral return.
"""

ESP32_EFUSE = 0x3FF5A000


def _chip(name, **facts):
    facts["name"] = name
    return facts


# spi: base address and the offsets of USR, USR1, USR2, MOSI_DLEN, MISO_DLEN, W0
# (CMD is at +0, ADDR at +4 on every chip); addr_msb: whether the address
# register is left-aligned (ESP32) or right-aligned (later chips).
CHIPS = {
    "esp32": _chip(
        "ESP32", image_chip_id=0, status_len=4, begin_words=4, security_info=None,
        magic=0x00F01D83, spi=(0x3FF42000, 0x1C, 0x20, 0x24, 0x28, 0x2C, 0x80), addr_msb=True,
        mac_layout="esp32", mac_reg=ESP32_EFUSE + 4, uart_clkdiv=0x3FF40014,
        registers={
            # ESP32-D0WD-V3, revision v3.0: package 1 (word 3 bits 9-11), revision
            # bits in eFuse word 3 bit 15, word 5 bit 20 and APB_CTL_DATE bit 31
            ESP32_EFUSE + 0x0C: (1 << 15) | (1 << 9),
            ESP32_EFUSE + 0x14: 1 << 20,
            0x3FF6607C: 1 << 31,
            # RTC calibration x 8 MHz clock eFuse: the ROM's own estimate of a 40 MHz
            # crystal, which esptool uses to correct the CHANGE_BAUDRATE value
            ESP32_EFUSE + 0x10: 100,
            0x3FF5F06C: 1024 << 7,
        }),
    "esp32s2": _chip(
        "ESP32-S2", image_chip_id=2, status_len=2, begin_words=5, security_info="short",
        magic=0x000007C6, spi=(0x3F402000, 0x18, 0x1C, 0x20, 0x24, 0x28, 0x58), addr_msb=False,
        mac_layout="efuse_block1", mac_reg=0x3F41A044, uart_clkdiv=0x3F400014, registers={}),
    "esp32s3": _chip(
        "ESP32-S3", image_chip_id=9, status_len=2, begin_words=5, security_info="long",
        magic=None, spi=(0x60002000, 0x18, 0x1C, 0x20, 0x24, 0x28, 0x58), addr_msb=False,
        mac_layout="efuse_block1", mac_reg=0x60007044, uart_clkdiv=0x60000014, registers={}),
    "esp32c3": _chip(
        "ESP32-C3", image_chip_id=5, status_len=2, begin_words=5, security_info="long",
        magic=None, spi=(0x60002000, 0x18, 0x1C, 0x20, 0x24, 0x28, 0x58), addr_msb=False,
        mac_layout="efuse_block1", mac_reg=0x60008844, uart_clkdiv=0x60000014, registers={}),
    "esp32c6": _chip(
        "ESP32-C6", image_chip_id=13, status_len=2, begin_words=5, security_info="long",
        magic=None, spi=(0x60003000, 0x18, 0x1C, 0x20, 0x24, 0x28, 0x58), addr_msb=False,
        mac_layout="efuse_block1_eui64", mac_reg=0x600B0844, uart_clkdiv=0x60000014, registers={}),
}

# The address every chip's ROM is probed at first (esptool CHIP_DETECT_MAGIC_REG_ADDR).
CHIP_DETECT_MAGIC_REG = 0x40001000

# Boot banner the ROM prints when it starts in download mode (GPIO0 held low).
BANNER = (b"ets Jul 29 2019 12:21:46\r\n\r\n"
          b"rst:0x1 (POWERON_RESET),boot:0x3 (DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\n"
          b"waiting for download\r\n")


def mac_registers(chip, mac):
    """The eFuse words holding `mac` (6 bytes), laid out as this chip stores them."""
    hi, lo = (mac[0] << 8) | mac[1], int.from_bytes(mac[2:], "big")
    base = chip["mac_reg"]
    # what sits in the upper half of the second word
    upper = {"esp32": _crc8(mac[::-1]),          # ESP32: CRC8 of the MAC
             "efuse_block1": 0,
             "efuse_block1_eui64": 0xFFFE,        # C6: the EUI-64 filler ff:fe
             }[chip["mac_layout"]]
    return {base: lo, base + 4: (upper << 16) | hi}


def _crc8(data):
    # the CRC the ESP32 stores next to its MAC (Dallas/Maxim, reflected 0x8C)
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
    return crc
