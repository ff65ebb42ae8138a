# The emulated access point and the station side of `network.WLAN(STA_IF)`
# (emulation only, never on a board).
#
# `nowmesh emulate --ap SSID:PASSWORD:CHANNEL` gives every node one access
# point through NOWMESH_AP. A station joins it as an ESP32 does: connect()
# returns at once, status() is STAT_CONNECTING for a moment, then
# STAT_GOT_IP, or STAT_WRONG_PASSWORD / STAT_NO_AP_FOUND (never a hang).
# Joining moves the radio to the access point's channel, as ESP-IDF does
# for ESP-NOW beside a station: the node then hears only nodes on that
# channel. The "IP" is the host's loopback: the node's sockets are the
# interpreter's real sockets, so a broker on 127.0.0.1 sees a real client.
# docs/emulation.md "Faithful, and not" lists what differs from a board.
import os
import time

from micropython import const

STAT_IDLE = const(1000)
STAT_CONNECTING = const(1001)
STAT_GOT_IP = const(1010)
STAT_NO_AP_FOUND = const(201)
STAT_WRONG_PASSWORD = const(202)
AUTH_OPEN = const(0)
AUTH_WPA2_PSK = const(3)
_JOIN_MS = const(300)          # association + DHCP (a board takes 1-3 s)
_BEACON_TIMEOUT_MS = const(6000)   # ESP-IDF's default: a station that hears no beacon this long has lost its AP
_AP_FILE_EVERY_MS = const(200)     # how often a station looks at the AP's file (its channel may change)
_AP_RSSI = const(-55)
_LOOPBACK = ("127.0.0.1", "255.0.0.0", "127.0.0.1", "127.0.0.1")


_ap_read = [None, None]     # [ticks_ms of the last read of the AP's file, what it said]


def _ap_text():
    # The AP as the emulation says it is now (Emulation.set_ap_channel writes
    # NOWMESH_AP_FILE), else as it started (NOWMESH_AP); the file is read at
    # most every _AP_FILE_EVERY_MS.
    path = os.getenv("NOWMESH_AP_FILE")
    now = time.ticks_ms()
    if path and (_ap_read[0] is None or time.ticks_diff(now, _ap_read[0]) >= _AP_FILE_EVERY_MS):
        _ap_read[0] = now
        _ap_read[1] = _read_on_host(path)
    return _ap_read[1] or os.getenv("NOWMESH_AP") or ""


def _read_on_host(path):
    # The board's "/" is its flash folder: the host folder of the file is
    # mounted for the moment of the read (as _simsensors does).
    folder, name = path.rsplit("/", 1)
    point = "/.nowmesh-ap"
    try:
        os.mount(os.VfsPosix(folder), point)
    except OSError:
        return None
    try:
        with open(point + "/" + name) as f:
            return f.read().strip()
    except OSError:                 # not written: the AP is where it started
        return None
    finally:
        os.umount(point)


def access_point():
    """(ssid, password, channel) of the emulated access point, or None."""
    text = _ap_text()
    parts = text.rsplit(":", 1)
    if len(parts) != 2 or ":" not in parts[0]:
        return None
    ssid, password = parts[0].split(":", 1)
    try:
        channel = int(parts[1])
    except ValueError:
        return None
    if not ssid or not 1 <= channel <= 14:
        return None
    return ssid, password, channel


def scan_rssi():
    """The access point's signal as the station hears it."""
    return _AP_RSSI


def ap_bssid():
    """The access point's MAC: locally administered, fixed per emulation."""
    return bytes((0x02, 0x4E, 0x4D, 0xA9, 0x00, 0x01))


class Station:
    """One station's join state. `link` is the node's medium link (channel).

    When the access point moves to another channel, a joined station hears
    its beacons no more: after ESP-IDF's beacon timeout it has lost it, and
    MicroPython's driver (reconnects unlimited, its default) joins again by
    itself, which finds the AP on its new channel and moves the radio there:
    status() is STAT_GOT_IP until the timeout, STAT_CONNECTING while it
    joins again, then STAT_GOT_IP on the new channel."""

    def __init__(self):
        self.ssid = ""
        self.outcome = STAT_IDLE      # what the join ends in
        self.started = None           # ticks_ms of connect(), None when idle
        self.link = None
        self.channel = None           # the channel joined on
        self.lost = None              # ticks_ms the AP left self.channel, while joined

    def connect(self, link, ssid, key):
        if not link.interface_active(0):
            raise OSError("Wifi Not Started")
        self.ssid = ssid if isinstance(ssid, str) else bytes(ssid).decode()
        key = key if isinstance(key, str) else bytes(key or b"").decode()
        ap = access_point()
        if ap is None or ap[0] != self.ssid:
            self.outcome = STAT_NO_AP_FOUND
        elif ap[1] and ap[1] != key:
            self.outcome = STAT_WRONG_PASSWORD
        else:
            self.outcome = STAT_GOT_IP
            link.set_channel(ap[2])   # the station follows the AP's channel
            self.link, self.channel = link, ap[2]
        self.started = time.ticks_ms()
        self.lost = None

    def disconnect(self):
        self.started = None
        self.outcome = STAT_IDLE
        self.lost = None

    def status(self):
        if self.started is None:
            return STAT_IDLE
        now = time.ticks_ms()
        if time.ticks_diff(now, self.started) < _JOIN_MS:
            return STAT_CONNECTING
        if self.outcome == STAT_GOT_IP:
            return self._joined(now)
        return self.outcome

    def _joined(self, now):
        ap = access_point()
        if self.lost is None:
            if ap is None or ap[2] == self.channel:
                return STAT_GOT_IP
            self.lost = now           # the AP moved: its beacons stop here
        waited = time.ticks_diff(now, self.lost)
        if waited < _BEACON_TIMEOUT_MS:
            return STAT_GOT_IP        # not noticed yet
        if waited < _BEACON_TIMEOUT_MS + _JOIN_MS or ap is None:
            return STAT_CONNECTING    # the driver joins again by itself
        self.lost = None
        self.channel = ap[2]
        self.link.set_channel(ap[2])
        return STAT_GOT_IP

    def isconnected(self):
        return self.status() == STAT_GOT_IP

    def ifconfig(self):
        return _LOOPBACK if self.isconnected() else ("0.0.0.0",) * 4

    def scan(self, link):
        if not link.interface_active(0):
            raise OSError("Wifi Not Started")
        ap = access_point()
        if ap is None:
            return []
        security = AUTH_WPA2_PSK if ap[1] else AUTH_OPEN
        return [(ap[0].encode(), ap_bssid(), ap[2], _AP_RSSI, security, False)]


_station = Station()


def station():
    """The process's one station (one radio per board)."""
    return _station
