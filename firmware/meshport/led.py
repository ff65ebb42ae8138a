# The status LED from the board profile: a plain GPIO or an addressable RGB
# (WS2812) LED, or none. It blinks on each published reading and stays lit
# while the node has at least one neighbour.


class Led:
    def __init__(self, spec):
        self._set = self._nothing
        if not spec:
            return
        try:
            self._set = _DRIVERS[spec.get("kind", "gpio")](spec)
        except Exception:
            self._set = self._nothing     # a missing LED never stops the node

    @staticmethod
    def _nothing(on):
        pass

    def show(self, on):
        try:
            self._set(bool(on))
        except Exception:
            pass


def _gpio(spec):
    import machine
    pin = machine.Pin(spec["pin"], machine.Pin.OUT)
    low = spec.get("active_low", False)
    return lambda on: pin.value((not on) if low else on)


def _ws2812(spec):
    import machine
    import neopixel
    strip = neopixel.NeoPixel(machine.Pin(spec["pin"]), 1)

    def show(on):
        strip[0] = (0, 16, 0) if on else (0, 0, 0)
        strip.write()
    return show


_DRIVERS = {"gpio": _gpio, "ws2812": _ws2812}
