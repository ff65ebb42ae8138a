# The emulated ESP-NOW driver state behind espnow.ESPNow (emulation only).
#
# What the ESP-IDF and modespnow.c hold for the one ESPNow singleton: the
# receive ring buffer and its arithmetic, counters, peers, the irq callback,
# and the waits that read the medium (via _nowmesh_link) until something
# arrives. espnow.py is the public API on top.
import hashlib
import time

from micropython import const

import _nowmesh_link

# 250 (ESP-NOW v1), or 1470 for a firmware built with ESP-IDF >= 5.4 (v2)
MAX_DATA_LEN = _nowmesh_link.max_data_len()
ADDR_LEN = const(6)
KEY_LEN = const(16)
MAX_TOTAL_PEER_NUM = const(20)
MAX_ENCRYPT_PEER_NUM = const(6)
# espnow.RATE_*: ESP-IDF's wifi_phy_rate_t values, as modespnow.c exports them
# (1, 2, 5.5, 11 Mbps long-preamble DSSS/CCK; 6..54 Mbps OFDM; Espressif LR).
RATE_1M = const(0x00)
RATE_2M = const(0x01)
RATE_5M = const(0x02)
RATE_11M = const(0x03)
RATE_6M = const(0x0B)
RATE_12M = const(0x0A)
RATE_24M = const(0x09)
RATE_54M = const(0x0C)
RATE_LORA_250K = const(0x29)
RATE_LORA_500K = const(0x2A)
# the rates the emulated air models (nowmesh/radio/model.py RATES): long-preamble DSSS/CCK,
# OFDM 6..54 Mbps and LR; short-preamble and 802.11n MCS rates are not emulated
_RATES = (0x00, 0x01, 0x02, 0x03, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F, 0x29, 0x2A)
# A fixed default primary master key: ESP-IDF uses one when set_pmk() is never
# called; its value is not documented, so two unconfigured ends simply agree.
_DEFAULT_PMK = b"pmk1234567890123"

# espnow_pkt_t: magic, msg_len, time_ms, rssi, peer[6]; msg_len is 2 bytes in
# v2-capable builds. Default rxbuf: two full packets, 526 (v1), 2972 (v2) as
# espnow.rst documents ("default=528 or 2972" for v2-capable builds).
_PACKET_OVERHEAD = 14 if MAX_DATA_LEN > 250 else 13
_DEFAULT_RXBUF = 2972 if MAX_DATA_LEN > 250 else 2 * (_PACKET_OVERHEAD + MAX_DATA_LEN)
_DEFAULT_TIMEOUT_MS = const(300000)
_ESPNOW_BASE = const(0x3064)          # ESP_ERR_WIFI_BASE + 100
_ERRORS = ("NOT_INIT", "ARG", "NO_MEM", "FULL", "NOT_FOUND", "INTERNAL", "EXIST", "IF", "CHAN")
_NO_KEY = bytes(KEY_LEN)


def _esp_error(name):
    # check_esp_err(): OSError(-code, esp_err_to_name(code))
    code = _ESPNOW_BASE + 1 + _ERRORS.index(name)
    return OSError(-code, "ESP_ERR_ESPNOW_" + name)


def _mac(value):
    value = bytes(value)
    if len(value) != ADDR_LEN:
        raise ValueError("invalid buffer length")
    return value


def _is_group(mac):
    return mac[0] & 0x01     # broadcast and multicast addresses


def key_id(pmk, lmk):
    """What stands for the ciphertext on the emulated air: which keys sealed a
    frame. A receiver whose PMK and LMK for the sender give another id cannot
    decrypt it (CCMP fails), so the frame never reaches its application."""
    return hashlib.sha256(bytes(pmk) + bytes(lmk)).digest()[:8]


class _Driver:
    """What the ESP-IDF and modespnow.c hold for the one ESPNow singleton."""

    def __init__(self):
        self.active = False
        self.rxbuf = _DEFAULT_RXBUF
        self.timeout_ms = _DEFAULT_TIMEOUT_MS
        self.ring = []                # [(mac, msg, rssi, time_ms)]
        self.ring_size = 0
        self.ring_used = 0
        self.peers = {}               # mac -> [lmk, channel, ifidx, encrypt]
        self.pmk = _DEFAULT_PMK
        self.peer_order = []
        self.peers_table = {}
        self.peer_keys = {}           # mac -> the bytes object used as peers_table key
        self.tx_packets = self.tx_responses = self.tx_failures = 0
        self.rx_packets = self.rx_dropped = 0
        self.irq = None
        self.irq_arg = None
        self.irq_pending = 0
        self.in_irq = False
        self.depth = 0                # espnow calls in progress on the main thread

    # -- callbacks from the link ------------------------------------------------
    def on_rx(self, src, rssi, msg, sealed_with=None):
        if not self.active:
            return
        if sealed_with is not None and not self.can_open(src, sealed_with):
            return                    # CCMP decryption fails in the Wi-Fi driver: never seen
        cost = _PACKET_OVERHEAD + len(msg)
        if cost >= self.ring_size - 1 - self.ring_used:
            self.rx_dropped += 1
            return
        self.ring.append((src, msg, rssi, time.ticks_ms()))
        self.ring_used += cost
        self.rx_packets += 1
        if self.irq is not None:
            self.irq_pending += 1

    def can_open(self, src, sealed_with):
        peer = self.peers.get(bytes(src))
        return peer is not None and peer[3] and key_id(self.pmk, peer[0]) == sealed_with

    def on_txdone(self, token, ok):
        if not self.active:
            return
        self.tx_responses += 1
        if not ok:
            self.tx_failures += 1

    # -- reading the medium -----------------------------------------------------
    def pump(self, timeout_ms=0):
        link = _nowmesh_link.link()
        if link.connected():
            link.pump(timeout_ms)
        elif timeout_ms:
            time.sleep_ms(timeout_ms if timeout_ms > 0 else 1000)
        self.run_irq()

    def wait(self, done, timeout_ms):
        # irq callbacks run while waiting, as MICROPY_EVENT_POLL_HOOK runs them
        # on a board; one may take what we wait for, so wait on till timeout.
        link = _nowmesh_link.link()
        start = time.ticks_ms()
        while True:
            left = timeout_ms
            if timeout_ms > 0:
                left = max(0, timeout_ms - time.ticks_diff(time.ticks_ms(), start))
            if link.connected():
                got = link.pump_until(done, left)
            else:
                if left:
                    time.sleep_ms(left if left > 0 else 1000)
                got = done()
            self.run_irq()
            if done():
                return True
            if timeout_ms >= 0 and (not got or left == 0):
                return False

    def run_irq(self):
        # Callbacks run after the link has dispatched, never inside it, as
        # mp_sched_schedule() defers them on a board.
        if self.in_irq:
            return
        self.in_irq = True
        try:
            while self.irq_pending and self.irq is not None:
                self.irq_pending -= 1
                self.irq(self.irq_arg)
        finally:
            self.in_irq = False
            if self.irq is None:
                self.irq_pending = 0

    def pop(self):
        mac, msg, rssi, stamp = self.ring.pop(0)
        self.ring_used -= _PACKET_OVERHEAD + len(msg)
        key = self.peer_keys.get(mac)
        if key is None:
            key = self.peer_keys[mac] = mac
        entry = self.peers_table.get(key)
        if entry is None:
            entry = self.peers_table[key] = [0, 0]
        entry[0] = rssi
        entry[1] = stamp
        return key, msg, rssi, stamp


_driver = _Driver()


def _wifi_task(_):
    # Scheduled by the link's watcher thread: read the medium, run irq callbacks.
    # Inside an espnow call (or a pump) it does nothing: that call reads the
    # medium itself, and callbacks must not run in the middle of it.
    link = _nowmesh_link.link()
    link.task_ran()
    if not _driver.depth and not link.busy:
        _driver.pump(0)


def _start_watch():
    if _driver.irq is not None and _driver.active:
        _nowmesh_link.link().watch(lambda: _driver.irq is not None, _wifi_task)


def _api(method):
    # Marks an espnow call in progress, so _wifi_task never interleaves with it.
    def call(*args, **kwargs):
        _driver.depth += 1
        try:
            return method(*args, **kwargs)
        finally:
            _driver.depth -= 1
    return call


def _initialised():
    if not _driver.active:
        raise _esp_error("NOT_INIT")
    return _driver
