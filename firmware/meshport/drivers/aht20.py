# AHT20 temperature/humidity sensor on I2C (datasheet: ASAIR AHT20, v1.0).
# Takes an I2C bus object: the board decides the pins, tests pass a fake bus.
import time
from micropython import const

ADDRESS = const(0x38)
_CMD_INIT = b"\xbe\x08\x00"
_CMD_MEASURE = b"\xac\x33\x00"
_STATUS_BUSY = const(0x80)
_STATUS_CALIBRATED = const(0x08)


class AHT20:
    def __init__(self, i2c, address=ADDRESS):
        self.i2c = i2c
        self.address = address
        status = self.i2c.readfrom(self.address, 1)[0]
        if not status & _STATUS_CALIBRATED:
            self.i2c.writeto(self.address, _CMD_INIT)
            time.sleep_ms(10)

    def read(self):
        """-> [(name, value, unit)]; raises OSError if the sensor does not answer."""
        self.i2c.writeto(self.address, _CMD_MEASURE)
        for _ in range(10):
            time.sleep_ms(20)
            data = self.i2c.readfrom(self.address, 6)
            if not data[0] & _STATUS_BUSY:
                break
        else:
            raise OSError("AHT20 busy")
        raw_rh = (data[1] << 12) | (data[2] << 4) | (data[3] >> 4)
        raw_t = ((data[3] & 0x0F) << 16) | (data[4] << 8) | data[5]
        rh = raw_rh * 100.0 / 1048576
        temp = raw_t * 200.0 / 1048576 - 50
        return [("temp", round(temp, 2), "C"), ("rh", round(rh, 1), "%")]
