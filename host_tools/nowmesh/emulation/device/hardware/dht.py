# Emulation-only `dht` module: a DHT22 that measures the simulated room.
import _simsensors


class DHT22:
    def __init__(self, pin):
        self.pin = pin
        self._t = self._h = None

    def measure(self):
        self._t = round(_simsensors.temperature_c(), 1)
        self._h = round(_simsensors.humidity_pct(), 1)

    def temperature(self):
        return self._t

    def humidity(self):
        return self._h


DHT11 = DHT22
