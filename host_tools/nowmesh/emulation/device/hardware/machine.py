# Emulation-only `machine` for emulated boards (never deployed): enough of the
# ESP32 API for the nowmesh port and typical sensor code. Resets end the
# interpreter with the exit codes the emulated board's supervisor understands
# (host_tools/nowmesh/emulation/board): it restarts the node like the reset circuit.
import time

import _simsensors

_EXIT_SOFT = 71
_EXIT_HARD = 73
_AHT20_ADDRESS = 0x38


def reset():
    raise SystemExit(_EXIT_HARD)


def soft_reset():
    raise SystemExit(_EXIT_SOFT)


def unique_id():
    return _simsensors.mac_bytes()


def freq(hz=None):
    return 240000000


def idle():
    time.sleep_ms(1)


def reset_cause():
    return 1                      # PWRON_RESET


PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
SOFT_RESET = 5


class WDT:
    """Accepts feed(); the emulator does not reset a node that stops feeding."""

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout

    def feed(self):
        pass


class Pin:
    """A GPIO: an output's changes go to the test's log (_simsensors.log_pin,
    EmulatedMesh.actuator_log); an input reads what was last written (no
    outside world drives it), no irq()."""
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 2
    PULL_DOWN = 1

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self._out = mode in (Pin.OUT, Pin.OPEN_DRAIN)
        self._value = None
        self.value(0 if value is None else value)

    def init(self, mode=-1, pull=-1, value=None):
        if mode != -1:
            self._out = mode in (Pin.OUT, Pin.OPEN_DRAIN)
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            return self._value
        v = int(bool(v))
        if self._out and v != self._value:
            _simsensors.log_pin(self.id, v)
        self._value = v

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def __call__(self, v=None):
        return self.value(v)


class ADC:
    ATTN_11DB = 3

    def __init__(self, pin, atten=None):
        self.pin = pin.id if isinstance(pin, Pin) else pin

    def read_u16(self):
        return _simsensors.adc_u16(self.pin)

    def read(self):
        return self.read_u16() >> 4

    def atten(self, value):
        pass


class _SimAHT20:
    """An AHT20 on the bus, answering as the datasheet describes."""

    def __init__(self):
        self.pending = False

    def write(self, data):
        if data[:1] == b"\xac":
            self.pending = True

    def read(self, n):
        if not self.pending:
            return bytes([0x18] + [0] * (n - 1))[:n]
        rh = int(_simsensors.humidity_pct() * 1048576 / 100)
        t = int((_simsensors.temperature_c() + 50) * 1048576 / 200)
        raw = bytes([0x18, rh >> 12 & 0xFF, rh >> 4 & 0xFF, (rh & 0xF) << 4 | (t >> 16 & 0xF),
                     t >> 8 & 0xFF, t & 0xFF, 0])
        return raw[:n]


class I2C:
    def __init__(self, id=0, scl=None, sda=None, freq=400000):
        self.devices = {_AHT20_ADDRESS: _SimAHT20()}

    def scan(self):
        return sorted(self.devices)

    def _device(self, addr):
        dev = self.devices.get(addr)
        if dev is None:
            raise OSError(19)         # ENODEV, as on a board with nothing at addr
        return dev

    def writeto(self, addr, buf, stop=True):
        self._device(addr).write(bytes(buf))
        return len(buf)

    def readfrom(self, addr, nbytes, stop=True):
        return self._device(addr).read(nbytes)


SoftI2C = I2C
