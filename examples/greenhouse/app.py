# Greenhouse: the fan node switches its fan on when any node of the mesh
# reports more than 30 °C, and off again once every node is below 27 °C.
# Every node runs this app; only the one named in FAN_NODES drives a fan.
#
#   nowmesh deploy PORT --app examples/greenhouse      (every board)
#   nowmesh command PORT --node fan fan on             (by hand, with the operator key)
import machine

FAN_NODES = ("n1", "fan")     # the node(s) with a fan on FAN_PIN
FAN_PIN = 4
ON_ABOVE_C = 30.0
OFF_BELOW_C = 27.0


def hottest(latest):
    """The highest "temp" any node reports, or None."""
    temps = [r["values"]["temp"] for r in latest.values() if "temp" in r["values"]]
    return max(temps) if temps else None


def decide(fan_on, temp):
    """The fan's next state: hysteresis between OFF_BELOW_C and ON_ABOVE_C."""
    if temp is None:
        return fan_on
    if temp > ON_ABOVE_C:
        return True
    if temp < OFF_BELOW_C:
        return False
    return fan_on


async def main(mesh):
    if mesh.me.name not in FAN_NODES:
        return                    # a sensor node: its configured sensors publish "temp"
    fan = machine.Pin(FAN_PIN, machine.Pin.OUT, value=0)
    manual = {"mode": None}       # None: automatic; True/False: forced by `fan on/off/auto`

    def command(args):
        word = args[0] if args else ""
        if word not in ("on", "off", "auto"):
            raise ValueError("fan on|off|auto")
        manual["mode"] = None if word == "auto" else word == "on"
        if manual["mode"] is not None:
            fan.value(manual["mode"])
        return {"fan": fan.value(), "mode": word}

    mesh.on_command("fan", command)
    async for _reading in mesh.readings():
        if manual["mode"] is None:
            fan.value(decide(bool(fan.value()), hottest(mesh.latest())))
