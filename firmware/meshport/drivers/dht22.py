# DHT22 (AM2302) on one GPIO, through MicroPython's built-in `dht` module.
# Takes the Pin object; the module is imported lazily so boards without it
# report a sensor error instead of failing to boot.


class DHT22:
    def __init__(self, pin):
        import dht
        self.sensor = dht.DHT22(pin)

    def read(self):
        self.sensor.measure()           # raises OSError on timeout/checksum error
        return [("temp", self.sensor.temperature(), "C"), ("rh", self.sensor.humidity(), "%")]
