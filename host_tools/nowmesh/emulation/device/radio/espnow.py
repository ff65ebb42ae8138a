# Emulated `espnow` for nowmesh's emulated nodes (emulation only, never on a board).
#
# Implements MicroPython's espnow.ESPNow API (docs/library/espnow.rst,
# ports/esp32/modespnow.c, ports/esp32/modules/espnow.py) over the nowmesh
# medium: frames go to the medium process, which applies the simulator's
# radio model and MAC, and come back as RX / TXDONE messages.
#
# Faithful on purpose: errors are OSError(-code, "ESP_ERR_ESPNOW_...") as
# check_esp_err() raises them; the receive ring buffer accepts a packet only
# if 13 + len < free bytes (modespnow.c's recv_cb), else counts rx_dropped;
# irecv() returns the same list and bytearray every time (copy what you keep);
# peers_table is updated when the program reads a message.
# Received frames are read from the medium by whichever espnow call runs or
# waits; while an irq() callback is set, a watcher thread (the Wi-Fi task's
# part) also schedules that reading on the main thread, so callbacks run while
# the program sleeps. See docs/emulation.md.
import errno

from micropython import const

import _nowmesh_link
from _nowmesh_espnow import (ADDR_LEN, KEY_LEN, MAX_DATA_LEN, MAX_ENCRYPT_PEER_NUM,  # noqa: F401
                             MAX_TOTAL_PEER_NUM, RATE_1M, RATE_2M, RATE_5M, RATE_6M, RATE_11M,
                             RATE_12M, RATE_24M, RATE_54M, RATE_LORA_250K, RATE_LORA_500K,
                             _NO_KEY, _RATES, _api, _driver,
                             _esp_error, _initialised, _is_group, _mac, _start_watch, key_id)

_RESPONSE_TIMEOUT_MS = const(1000)    # board: 100 ms; host scheduling needs more slack


class ESPNow:
    """The ESPNow singleton: every instance shares one driver state."""

    _data = [None, bytearray(MAX_DATA_LEN)]
    _none_tuple = (None, None)

    def __init__(self):
        link = _nowmesh_link.link()
        link.on_rx = _driver.on_rx
        link.on_txdone = _driver.on_txdone

    # -- configuration ------------------------------------------------------------
    @_api
    def active(self, flag=None):
        d = _driver
        if flag is not None:
            if flag and not d.active:
                _nowmesh_link.link().open()
                d.ring, d.ring_used, d.ring_size = [], 0, d.rxbuf
                d.active = True
                _start_watch()
            elif not flag and d.active:
                d.active = False
                d.ring, d.ring_used = [], 0
                d.peers, d.peer_order = {}, []
                d.tx_packets = d.tx_responses
        return d.active

    def config(self, *args, rxbuf=None, timeout_ms=None, rate=None, pm=None):
        d = _driver
        if len(args) > 1:
            raise TypeError("config takes one positional argument")
        if rxbuf is not None:
            if rxbuf < 0:
                raise ValueError("rxbuf must be positive")
            d.rxbuf = int(rxbuf)      # takes effect at the next active(True)
        if timeout_ms is not None:
            d.timeout_ms = int(timeout_ms)
        if rate is not None:
            if int(rate) not in _RATES:
                raise ValueError("rate %r is not emulated" % (rate,))
            _nowmesh_link.link().set_rate(int(rate))
        if pm is not None and (not isinstance(pm, tuple) or not 1 <= len(pm) <= 2):
            raise TypeError("pm should be set to tuple of length 2")
        if not args:
            return None
        if args[0] == "rxbuf":
            return d.rxbuf
        if args[0] == "timeout_ms":
            return d.timeout_ms
        raise ValueError("unknown config param")

    def irq(self, callback):
        if callback is not None and not callable(callback):
            raise ValueError("invalid handler")
        _driver.irq = callback
        _driver.irq_arg = self
        _start_watch()

    def stats(self):
        d = _driver
        return (d.tx_packets, d.tx_responses, d.tx_failures, d.rx_packets, d.rx_dropped)

    @property
    def peers_table(self):
        return _driver.peers_table

    # -- receiving ----------------------------------------------------------------
    @_api
    def recvinto(self, data, timeout_ms=None):
        d = _initialised()
        if timeout_ms is None:
            timeout_ms = d.timeout_ms
        if not isinstance(data, list) or len(data) < 2:
            raise ValueError("ESPNow.recvinto(): Invalid argument")
        if not d.ring and not d.wait(lambda: d.ring, timeout_ms):
            return 0
        mac, msg, rssi, stamp = d.pop()
        buffer = data[1]
        if isinstance(buffer, bytearray):
            buffer[:] = msg           # same object, resized to the message
        else:
            buffer[:len(msg)] = msg
        data[0] = mac
        if len(data) >= 4:
            data[2] = rssi
            data[3] = stamp
        return len(msg)

    def irecv(self, timeout_ms=None):
        n = self.recvinto(self._data, timeout_ms)
        return self._data if n else self._none_tuple

    def recv(self, timeout_ms=None):
        n = self.recvinto(self._data, timeout_ms)
        return [bytes(x) for x in self._data] if n else self._none_tuple

    @_api
    def any(self):
        d = _initialised()
        d.pump(0)
        return bool(d.ring)

    def __iter__(self):
        return self

    def __next__(self):
        return self.irecv()

    # -- sending ------------------------------------------------------------------
    @_api
    def send(self, mac, msg=None, sync=None):
        d = _initialised()
        if msg is None:
            mac, msg = None, mac       # send(msg): every registered unicast peer
        peer = _mac(mac) if mac else None
        sync = sync is None or bool(sync)
        if isinstance(msg, str):
            msg = msg.encode()
        msg = bytes(msg)
        if sync:
            self._wait_responses()
        saved_failures = d.tx_failures
        targets = self._targets(peer, msg)
        link = _nowmesh_link.link()
        for dst in targets:
            lmk, _channel, _ifidx, encrypt = d.peers[dst]
            link.transmit(dst, msg, sync, key_id(d.pmk, lmk) if encrypt else None)
        d.tx_packets += len(targets)
        if sync:
            self._wait_responses()
        d.pump(0)
        return not (sync and d.tx_failures != saved_failures)

    def _targets(self, peer, msg):
        # esp_now_send()'s checks, in this order.
        d = _driver
        if not 0 < len(msg) <= MAX_DATA_LEN:
            raise _esp_error("ARG")
        if peer is None:
            targets = [mac for mac in d.peer_order if not _is_group(mac)]
            if not targets:
                raise _esp_error("NOT_FOUND")
        elif peer in d.peers:
            targets = [peer]
        else:
            raise _esp_error("NOT_FOUND")
        link = _nowmesh_link.link()
        for mac in targets:
            _lmk, channel, ifidx, _encrypt = d.peers[mac]
            if not link.interface_active(ifidx):
                raise _esp_error("IF")
            if channel and channel != link.channel:
                raise _esp_error("CHAN")
        return targets

    def _wait_responses(self):
        d = _driver
        if not d.wait(lambda: d.tx_responses >= d.tx_packets, _RESPONSE_TIMEOUT_MS):
            raise OSError(errno.ETIMEDOUT)

    # -- peers --------------------------------------------------------------------
    def set_pmk(self, pmk):
        pmk = bytes(pmk.encode() if isinstance(pmk, str) else pmk)
        if len(pmk) != KEY_LEN:
            raise ValueError("invalid buffer length")
        _initialised().pmk = pmk

    @_api
    def add_peer(self, mac, lmk=None, channel=None, ifidx=None, encrypt=None):
        mac = _mac(mac)
        info = [_NO_KEY, 0, 0, False]
        _update_peer_info(info, lmk, channel, ifidx, encrypt)
        d = _initialised()
        _check_peer_info(mac, info)
        if mac in d.peers:
            raise _esp_error("EXIST")
        if len(d.peers) >= MAX_TOTAL_PEER_NUM:
            raise _esp_error("FULL")
        if info[3] and _encrypted_count() >= MAX_ENCRYPT_PEER_NUM:
            raise _esp_error("FULL")
        d.peers[mac] = info
        d.peer_order.append(mac)

    @_api
    def mod_peer(self, mac, lmk=None, channel=None, ifidx=None, encrypt=None):
        mac = _mac(mac)
        d = _initialised()
        old = d.peers.get(mac)
        if old is None:
            raise _esp_error("NOT_FOUND")
        info = list(old)
        _update_peer_info(info, lmk, channel, ifidx, encrypt)
        _check_peer_info(mac, info)
        if info[3] and not old[3] and _encrypted_count() >= MAX_ENCRYPT_PEER_NUM:
            raise _esp_error("FULL")
        d.peers[mac] = info

    @_api
    def del_peer(self, mac):
        mac = _mac(mac)
        d = _initialised()
        if mac not in d.peers:
            raise _esp_error("NOT_FOUND")
        del d.peers[mac]
        d.peer_order.remove(mac)

    def get_peer(self, mac):
        mac = _mac(mac)
        d = _initialised()
        if mac not in d.peers:
            raise _esp_error("NOT_FOUND")
        return _peer_tuple(mac, d.peers[mac])

    def get_peers(self):
        # esp_now_fetch_peer() skips broadcast and multicast peers.
        d = _initialised()
        return tuple(_peer_tuple(mac, d.peers[mac]) for mac in d.peer_order if not _is_group(mac))

    def peer_count(self):
        d = _initialised()
        return (len(d.peers), _encrypted_count())


def _update_peer_info(info, lmk, channel, ifidx, encrypt):
    # modespnow.c _update_peer_info(): None leaves a field as it is.
    if lmk is not None:
        info[3] = bool(lmk)
        if info[3]:
            key = bytes(lmk.encode() if isinstance(lmk, str) else lmk)
            if len(key) != KEY_LEN:
                raise ValueError("invalid buffer length")
            info[0] = key
    if channel is not None:
        info[1] = int(channel)
    if ifidx is not None:
        info[2] = int(ifidx)
    if encrypt is not None:
        info[3] = bool(encrypt)


def _check_peer_info(mac, info):
    if not 0 <= info[1] <= 14 or info[2] not in (0, 1) or (info[3] and _is_group(mac)):
        raise _esp_error("ARG")


def _encrypted_count():
    return sum(1 for info in _driver.peers.values() if info[3])


def _peer_tuple(mac, info):
    return (mac, info[0], info[1], info[2], info[3])
