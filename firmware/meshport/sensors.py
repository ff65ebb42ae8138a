# Sensors from the board profile (or the config's override), by kind. A
# missing or failing sensor is reported once per change of state and the
# others keep publishing; a node with no working sensor still publishes its
# uptime, so it is visible in the mesh.
import gc


def _internal_temp(spec, hw):
    import esp32
    if hasattr(esp32, "mcu_temperature"):
        return lambda: [("temp_mcu", esp32.mcu_temperature(), "C")]
    # Original ESP32: raw_temperature() is in Fahrenheit.
    return lambda: [("temp_mcu", round((esp32.raw_temperature() - 32) / 1.8, 1), "C")]


def _adc(spec, hw):
    import machine
    adc = machine.ADC(machine.Pin(spec["pin"]))
    scale = spec.get("scale", 100.0 / 65535)
    name, unit = spec.get("name", "adc%d" % spec["pin"]), spec.get("unit", "%")
    return lambda: [(name, round(adc.read_u16() * scale, 2), unit)]


def _aht20(spec, hw):
    from .drivers.aht20 import AHT20
    return AHT20(hw.i2c(), spec.get("address", 0x38)).read


def _dht22(spec, hw):
    import machine
    from .drivers.dht22 import DHT22
    return DHT22(machine.Pin(spec["pin"])).read


def _app(spec, hw):
    # a sensor the user's app registers (mesh.add_sensor(read, name=...)):
    # its latest values; an app that registered none by that name makes a
    # LookupError, reported like a missing sensor
    name = spec["name"]
    return lambda: hw.app_values(name)


KINDS = {
    "app": _app,
    "internal_temp": _internal_temp,
    "adc": _adc,
    "aht20": _aht20,
    "dht22": _dht22,
}


class Hardware:
    """Buses shared by sensors, created on first use from the board profile."""

    def __init__(self, board, app_values):
        self.board = board or {}
        self.app_values = app_values  # name -> the app's sensor values (App.app_sensor_values)
        self._i2c = None

    def i2c(self):
        if self._i2c is None:
            import machine
            pins = self.board.get("i2c") or {}
            self._i2c = machine.I2C(0, sda=machine.Pin(pins["sda"]), scl=machine.Pin(pins["scl"]))
        return self._i2c


class Sensors:
    def __init__(self, specs, board, report, app_values=None):
        self.report = report          # report(kind, error or None) on a change of state
        self.readers = []             # [kind, read function or None, spec, last error]
        hw = Hardware(board, app_values)
        for spec in specs or ():
            self.readers.append(self._open(spec, hw))

    def _open(self, spec, hw):
        kind = spec.get("kind")
        factory = KINDS.get(kind)
        try:
            if factory is None:
                raise ValueError("unknown sensor kind")
            return [kind, factory(spec, hw), spec, None]
        except Exception as e:        # a missing sensor must not stop the node
            self.report(kind, repr(e))
            return [kind, None, spec, repr(e)]

    def read(self, uptime_s):
        values = []
        for entry in self.readers:
            kind, reader = entry[0], entry[1]
            if reader is None:
                continue
            try:
                values.extend(reader())
                error = None
            except Exception as e:
                error = repr(e)
            if error != entry[3]:
                entry[3] = error
                self.report(kind, error)
        values.append(("uptime", uptime_s, "s"))
        values.append(("heap", gc.mem_free(), "B"))
        return values
