# Emulated `network` for nowmesh's emulated nodes (emulation only, never on a board).
#
# Just what ESP-NOW programs and a Wi-Fi gateway use: WLAN(STA_IF / AP_IF)
# with active(), config(), and a station that joins the emulated access point
# of NOWMESH_AP (_nowmesh_wifi). An active interface turns the node's radio on at the medium;
# config(channel=) moves the node to that Wi-Fi channel there (nodes hear
# only nodes on their channel). The STA MAC comes from NOWMESH_MAC; as on an
# ESP32, the AP MAC is the STA MAC + 1.
import os

from micropython import const

import _nowmesh_link
import _nowmesh_wifi

STA_IF = const(0)
AP_IF = const(1)
STAT_IDLE = const(1000)
STAT_CONNECTING = const(1001)
STAT_GOT_IP = const(1010)
STAT_NO_AP_FOUND = const(201)
STAT_WRONG_PASSWORD = const(202)
STAT_BEACON_TIMEOUT = const(200)
STAT_ASSOC_FAIL = const(203)
STAT_HANDSHAKE_TIMEOUT = const(204)
AUTH_OPEN = const(0)
AUTH_WEP = const(1)
AUTH_WPA_PSK = const(2)
AUTH_WPA2_PSK = const(3)
AUTH_WPA_WPA2_PSK = const(4)
MODE_11B = const(1)
MODE_11G = const(2)
MODE_11N = const(4)
MODE_LR = const(8)
_PROTOCOL_11AX = const(0x40)   # WIFI_PROTOCOL_11AX (ESP-IDF >= 5.4 numbering)

# network_wlan.c: WIFI_PROTOCOL_DEFAULT is 11b|11g|11n, plus 11ax on chips
# with Wi-Fi 6 (CONFIG_SOC_WIFI_HE_SUPPORT: the C6 of our boards).
_HE_CHIPS = ("esp32c6",)
_CHIP = os.getenv("NOWMESH_CHIP") or "esp32"
_PROTOCOL_DEFAULT = (MODE_11B | MODE_11G | MODE_11N
                     | (_PROTOCOL_11AX if _CHIP in _HE_CHIPS else 0))

_hostname = "nowmesh"


def hostname(name=None):
    global _hostname
    if name is None:
        return _hostname
    _hostname = name


class _Interface:
    def __init__(self, ifidx):
        self.ifidx = ifidx
        self.mac = None
        self.settings = {"pm": 1 if ifidx == STA_IF else 0, "txpower": 19.5, "reconnects": -1,
                         "protocol": _PROTOCOL_DEFAULT, "bandwidth": 2, "ssid": "",
                         "hidden": False, "security": AUTH_OPEN, "key": "", "max_clients": 10}


_interfaces = (_Interface(STA_IF), _Interface(AP_IF))
_ALIASES = {"essid": "ssid", "authmode": "security", "password": "key", "dhcp_hostname": "hostname"}


class WLAN:
    # The class constants of ports/esp32/network_wlan.c (wlan_if_locals_dict),
    # with ESP-IDF's values (esp_wifi_types_generic.h, IDF >= 5.4.3).
    IF_STA = STA_IF
    IF_AP = AP_IF
    PM_NONE = const(0)
    PM_PERFORMANCE = const(1)
    PM_POWERSAVE = const(2)
    SEC_OPEN = const(0)
    SEC_WEP = const(1)
    SEC_WPA = const(2)
    SEC_WPA2 = const(3)
    SEC_WPA_WPA2 = const(4)
    SEC_WPA2_ENT = const(5)
    SEC_WPA3 = const(6)
    SEC_WPA2_WPA3 = const(7)
    SEC_WAPI = const(8)
    SEC_OWE = const(9)
    SEC_WPA3_ENT_192 = const(10)
    SEC_WPA3_EXT_PSK = const(11)
    SEC_WPA3_EXT_PSK_MIXED_MODE = const(12)
    SEC_DPP = const(13)
    SEC_WPA3_ENT = const(14)
    SEC_WPA2_WPA3_ENT = const(15)
    SEC_WPA_ENT = const(16)
    PROTOCOL_DEFAULT = _PROTOCOL_DEFAULT
    PROTOCOL_LR = const(8)
    BANDWIDTH_20 = const(1)
    BANDWIDTH_40 = const(2)
    BANDWIDTH_80 = const(3)
    BANDWIDTH_160 = const(4)
    BANDWIDTH_80_80 = const(5)

    def __init__(self, interface_id=STA_IF):
        if interface_id not in (STA_IF, AP_IF):
            raise ValueError("invalid WLAN interface identifier")
        self._if = _interfaces[interface_id]

    def active(self, is_active=None):
        link = _nowmesh_link.link()
        if is_active is not None:
            if not is_active and self._if.ifidx == STA_IF:
                _nowmesh_wifi.station().disconnect()
            link.set_interface(self._if.ifidx, bool(is_active))
        return link.interface_active(self._if.ifidx)

    def connect(self, ssid=None, key=None, *, bssid=None):
        _nowmesh_wifi.station().connect(_nowmesh_link.link(), ssid or self._if.settings["ssid"], key)
        self._if.settings["ssid"] = _nowmesh_wifi.station().ssid

    def disconnect(self):
        _nowmesh_wifi.station().disconnect()

    def isconnected(self):
        return self._if.ifidx == STA_IF and _nowmesh_wifi.station().isconnected()

    def status(self, param=None):
        if param is None:
            return _nowmesh_wifi.station().status() if self._if.ifidx == STA_IF else STAT_IDLE
        if param == "stations":
            return []
        if param == "rssi":
            if not self.isconnected():
                raise OSError("Wifi Not Connected")
            return _nowmesh_wifi.scan_rssi()
        raise ValueError("unknown status param")

    def scan(self):
        return _nowmesh_wifi.station().scan(_nowmesh_link.link())

    def ifconfig(self, config=None):
        if config is None:
            return _nowmesh_wifi.station().ifconfig()

    def config(self, *args, **kwargs):
        if args and kwargs:
            raise TypeError("either pos or kw args are allowed")
        for name, value in kwargs.items():
            self._set(_ALIASES.get(name, name), value)
        if len(args) > 1:
            raise TypeError("can query only one param")
        if args:
            return self._get(_ALIASES.get(args[0], args[0]))

    def _mac(self):
        if self._if.mac is not None:
            return self._if.mac
        link = _nowmesh_link.link()
        if link.mac is None:
            link.mac = _nowmesh_link.env_mac()
        if self._if.ifidx == STA_IF:
            return link.mac
        return link.mac[:5] + bytes(((link.mac[5] + 1) & 0xFF,))

    def _get(self, name):
        if name == "mac":
            return self._mac()
        if name == "channel":
            return _nowmesh_link.link().channel
        if name == "hostname":
            return _hostname
        if name in self._if.settings:
            return self._if.settings[name]
        raise ValueError("unknown config param")

    def _set(self, name, value):
        link = _nowmesh_link.link()
        if name == "mac":
            mac = bytes(value)
            if len(mac) != 6:
                raise ValueError("invalid buffer length")
            if self._if.ifidx == STA_IF:
                link.set_mac(mac)
            else:
                self._if.mac = mac
        elif name == "channel":
            if not 1 <= int(value) <= 14:
                raise ValueError("channel must be from 1 to 14")
            if _nowmesh_wifi.station().status() in (_nowmesh_wifi.STAT_CONNECTING, _nowmesh_wifi.STAT_GOT_IP):
                # a joined (or joining) station holds the radio on the AP's
                # channel: ESP-IDF refuses esp_wifi_set_channel then
                raise OSError("Wifi Invalid State")
            link.set_channel(int(value))
        elif name == "hostname":
            hostname(value)
        elif name == "protocol":
            link.set_protocol(int(value))
            self._if.settings[name] = int(value)
        elif name in self._if.settings:
            self._if.settings[name] = value
        else:
            raise ValueError("unknown config param")
