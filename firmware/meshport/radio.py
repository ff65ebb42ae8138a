# ESP-NOW and Wi-Fi set-up, and sending with peer management.
# ESP-NOW only sends to registered peers (broadcast included) and keeps at
# most 20, so unicast peers are registered on demand and the least recently
# used one is dropped when the table is full.
import espnow
import network
from micropython import const

BROADCAST = b"\xff\xff\xff\xff\xff\xff"
_MAX_UNICAST_PEERS = const(16)       # leave headroom under ESP-NOW's 20
_RX_PACKET_OVERHEAD = const(16)      # espnow's per-packet header in its rx ring, rounded up


class Radio:
    def __init__(self, rxbuf=1024):
        # 250 (ESP-NOW v1), or 1470 on firmware built with ESP-IDF >= 5.4 (v2):
        # the mesh core advertises it and sends larger frames only where both
        # ends take them. The rx ring must hold at least one frame that large.
        self.max_data_len = getattr(espnow, "MAX_DATA_LEN", 250)
        rxbuf = max(rxbuf, 2 * (self.max_data_len + _RX_PACKET_OVERHEAD))
        self.wlan = network.WLAN(network.STA_IF)
        self.wlan.active(True)
        try:
            self.wlan.disconnect()
        except OSError:
            pass
        self.mac = bytes(self.wlan.config("mac"))
        self.esp = espnow.ESPNow()
        self.esp.config(rxbuf=rxbuf)    # takes effect at active(True), so set it first
        self.esp.active(True)
        self._add(BROADCAST)
        self._lru = []                # unicast peers, least recently used first

    def set_channel(self, channel):
        # All nodes share one channel; power saving off, as a dozing radio
        # misses ESP-NOW frames.
        self.wlan.config(channel=channel)
        try:
            self.wlan.config(pm=self.wlan.PM_NONE)
        except (AttributeError, ValueError, OSError):
            pass                        # older firmware: no power-management setting

    def _add(self, mac):
        try:
            self.esp.get_peer(mac)      # already registered (e.g. after a soft reset)
        except OSError:
            self.esp.add_peer(mac)

    def _ensure_peer(self, mac):
        if mac in self._lru:
            self._lru.remove(mac)
        else:
            if len(self._lru) >= _MAX_UNICAST_PEERS:
                old = self._lru.pop(0)
                try:
                    self.esp.del_peer(old)
                except OSError:
                    pass
            self._add(mac)
        self._lru.append(mac)

    def send(self, mac, frame):
        """Send one frame -> True/False (MAC ACK for unicast; True for broadcast)."""
        if mac != BROADCAST:
            self._ensure_peer(mac)
        try:
            return bool(self.esp.send(mac, frame, mac != BROADCAST))
        except OSError:
            return False

    def recv(self, timeout_ms):
        """-> (mac bytes, frame bytes, rssi) or None. Copies: irecv reuses buffers."""
        mac, msg = self.esp.irecv(timeout_ms)
        if mac is None:
            return None
        mac = bytes(mac)
        entry = self.esp.peers_table.get(mac)
        rssi = entry[0] if entry else -127
        return mac, bytes(msg), rssi

    def stats(self):
        return self.esp.stats()
