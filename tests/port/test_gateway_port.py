# The gateway's Wi-Fi and channel logic (meshport.gateway) on the port, under
# micropython with board fakes: a station whose access point a test moves, as
# a router's auto channel does. The gateway takes the mesh along before its
# first join, and again when the AP moves, whether its station just lost the
# AP or MicroPython's driver already rejoined it on the new channel (the
# radio then off the mesh's channel). The emulation covers the first way
# live (tests/mqtt/test_gateway_ap_moves_live.py); this covers both.
import os
import sys
import time

import portfakes

portfakes.install()

from meshport import console as console_mod  # noqa: E402
from meshport import gateway as gateway_mod  # noqa: E402
# what gateway.start() imports, imported here: the tests chdir into fake
# flash dirs and MICROPYPATH is relative (as test_port.py says)
from meshport import gateway_commands, gateway_link, gateway_outbox, mqtt_schema  # noqa: E402,F401
from meshport import radio, store  # noqa: E402
from meshport.app import App  # noqa: E402
from test_port import BASE, KEY, _fresh_dir, _messages  # noqa: E402


class StationWLAN(portfakes.FakeWLAN):
    """FakeWLAN with a station: one AP (`AP`), joined at once on connect()."""
    AP = {"ssid": "home", "channel": 6}

    def __init__(self, interface):
        super().__init__(interface)
        self.joined = None          # the channel joined on
        self.disconnects = 0

    def isconnected(self):
        return self.joined is not None

    def scan(self):
        return [(self.AP["ssid"].encode(), b"\x02" * 6, self.AP["channel"], -50, 3, False)]

    def connect(self, ssid, password):
        self.joined = None
        super().config(channel=self.AP["channel"])      # the station takes the radio to its AP
        self.joined = self.AP["channel"]

    def disconnect(self):
        self.joined = None
        self.disconnects += 1

    def config(self, *args, **kw):
        if "channel" in kw and self.joined is not None:
            raise OSError("Wifi Invalid State")         # ESP-IDF: a joined station holds the radio
        return super().config(*args, **kw)


def _app(index, gateway=None):
    d = _fresh_dir("gw%d" % index)
    os.chdir(d)
    config = {"name": "node%d" % index, "key": KEY, "channel": 1, "interval_s": 60}
    if gateway:
        config.update({"wifi": {"ssid": "home", "password": "x"}, "mqtt": "mqtt://127.0.0.1:1",
                       "mqtt_commands": True})
    store.write_json("nowmesh.json", config)
    portfakes.ETHER.next_mac = bytes((2, 0, 0, 0, 9, index))
    inp, out = portfakes.ScriptedInput(), portfakes.Output()
    app = App(console_mod.Console(inp, out, portfakes.Poller(inp)), gateway=gateway)
    app.out = out
    if app.gateway is not None:     # its flash outbox in the fake flash, not where the test runs
        app.gateway.link.outbox = gateway_outbox.Outbox(d + "/gateway-outbox.jsonl")
    os.chdir(BASE)
    return app


def _until(apps, done, ms=4000):
    start = time.ticks_ms()
    while time.ticks_diff(time.ticks_ms(), start) < ms:
        for app in apps:
            app.step()
        if done():
            return True
        time.sleep_ms(5)
    return False


def _joined(app, channel):
    # joined on `channel`, and the gateway has seen it (its radio held: channels.pinned)
    return app.radio.wlan.joined == channel and app.channels.pinned


def _events(app, kind):
    return [m for m in _messages(app) if m.get("ev") == kind]


def test_the_gateway_takes_the_mesh_along_whenever_its_access_point_moves():
    network = radio.network         # the module the port's Radio made its WLAN with
    saved = network.WLAN, getattr(network, "STAT_GOT_IP", None)
    network.WLAN, network.STAT_GOT_IP = StationWLAN, 1010
    sys.modules["network"].STAT_GOT_IP = 1010       # what gateway.start() imports
    StationWLAN.AP["channel"] = 6
    try:
        gw, other = _app(1, gateway_mod), _app(2)
        wlan = gw.radio.wlan
        for app in (gw, other):
            app.next_publish = 0
        # first join: the mesh is on 1, the AP on 6; no node was told 6
        assert _until([gw, other], lambda: _joined(gw, 6) and other.channels.channel == 6)
        assert _events(gw, "gateway_channel")[0]["ap_channel"] == 6
        assert _events(other, "channel")[-1] == {"ev": "channel", "channel": 6, "why": "move"}

        # the AP moves to 11 and the driver rejoins it there by itself: the
        # radio is on 11, the mesh on 6
        StationWLAN.AP["channel"] = 11
        disconnects = wlan.disconnects
        wlan.joined = None
        wlan.connect("home", "x")
        assert wlan.config("channel") == 11 and other.channels.channel == 6
        assert _until([gw, other], lambda: _joined(gw, 11) and other.channels.channel == 11)
        assert wlan.disconnects == disconnects + 1   # the driver's rejoin stopped, the mesh told first
        assert _events(gw, "gateway_wifi")[-1]["state"] == "lost"
        assert _events(gw, "gateway_channel")[-1] == {"ev": "gateway_channel", "ap_channel": 11,
                                                      "mesh_channel": 6}
        assert _events(other, "channel")[-1]["why"] == "move"

        # the AP moves to 3 and the station just loses it (beacon timeout, no rejoin yet)
        StationWLAN.AP["channel"] = 3
        wlan.joined = None
        assert _until([gw, other], lambda: _joined(gw, 3) and other.channels.channel == 3)
        assert len(_events(gw, "gateway_wifi")) == 2 and _events(other, "channel")[-1]["why"] == "move"
    finally:
        network.WLAN, network.STAT_GOT_IP = saved
