# The emulated node's connection to the nowmesh medium (emulation only).
#
# One link per process, shared by `network` and `espnow`. It is opened on
# first use from NOWMESH_MEDIUM ("host:port") and identifies the node by
# NOWMESH_MAC ("02:4e:4d:00:00:01"). Messages are `u16 length | u8 type |
# body` (host_tools/nowmesh/emulation/protocol.py, docs/emulation.md).
# Nothing here runs in the background: incoming messages are read when the
# emulated drivers call pump(), which every espnow method does.
import os
import select
import socket
import struct

from micropython import const

_HELLO = const(0x01)
_CHANNEL = const(0x02)
_TX = const(0x03)
_RADIO = const(0x04)
_RATE = const(0x05)
_PROTOCOL = const(0x06)
_WELCOME = const(0x81)
_RX = const(0x82)
_TXDONE = const(0x83)
_ERROR = const(0x84)
_BUFFER = const(2048)          # > the longest message: 3 + 6 + 1 + 8 + a 1470-byte v2 frame
_RX_SEALED = const(0x85)
_FLAG_ENCRYPTED = const(0x02)
_PROTOCOL_DEFAULT = const(7)
_IPPROTO_TCP = const(6)
_TCP_NODELAY = const(1)
_CONNECT_TIMEOUT_MS = const(5000)


def parse_mac(text):
    digits = text.replace(":", "").replace("-", "")
    if len(digits) != 12:
        raise ValueError("NOWMESH_MAC must be 6 hex bytes, got %r" % text)
    return bytes(int(digits[k:k + 2], 16) for k in range(0, 12, 2))


def max_data_len():
    """espnow.MAX_DATA_LEN of the emulated firmware: 250 (ESP-NOW v1) unless the
    board's firmware is an ESP-IDF >= 5.4 build (NOWMESH_ESPNOW_MAX_DATA_LEN=1470)."""
    return int(os.getenv("NOWMESH_ESPNOW_MAX_DATA_LEN") or 250)


def env_mac():
    text = os.getenv("NOWMESH_MAC")
    if not text:
        raise OSError("emulated node: set NOWMESH_MAC (e.g. 02:4e:4d:00:00:01)")
    return parse_mac(text)


class MediumLink:
    def __init__(self):
        self.mac = None
        self.sock = None
        self.index = None
        self.channel = 1
        self.channel_set = False  # the program chose a channel: it overrides the topology's
        self.radio_on = False
        self.interfaces = [False, False]   # STA_IF, AP_IF active
        self.rate = 0             # espnow.config(rate=): RATE_1M until set
        self.protocol = _PROTOCOL_DEFAULT  # WLAN.config(protocol=)
        self.on_rx = None         # callable(src_mac, rssi, frame, key_id or None)
        self.on_txdone = None     # callable(token, ok)
        self._buffer = None           # what the medium sent: one fixed buffer, allocated once
        self._fill = 0                # bytes of it in use (a partial message at most, between reads)
        self._poll = None
        self._token = 0
        self.busy = False         # inside pump(): a scheduled pump must not nest
        self._watching = [False, False]   # watcher thread running, task scheduled

    def connected(self):
        return self.sock is not None

    def open(self):
        if self.sock is not None:
            return
        if self.mac is None:
            self.mac = env_mac()
        where = os.getenv("NOWMESH_MEDIUM")
        if not where or ":" not in where:
            raise OSError("emulated node: set NOWMESH_MEDIUM to the medium's host:port")
        host, port = where.rsplit(":", 1)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.connect(socket.getaddrinfo(host, int(port))[0][-1])
        try:
            sock.setsockopt(_IPPROTO_TCP, _TCP_NODELAY, 1)
        except OSError:
            pass
        self.sock = sock
        self._poll = select.poll()
        self._poll.register(sock, select.POLLIN)
        self._hello()

    def _hello(self):
        self.index = None
        self.send(_HELLO, self.mac + struct.pack(">H", max_data_len()))
        if not self.pump_until(lambda: self.index is not None, _CONNECT_TIMEOUT_MS):
            raise OSError("emulated node: no WELCOME from the medium")
        if self.channel_set:
            self.send(_CHANNEL, bytes((self.channel,)))
        if self.rate:
            self.send(_RATE, bytes((self.rate,)))
        if self.protocol != _PROTOCOL_DEFAULT:
            self.send(_PROTOCOL, bytes((self.protocol,)))
        if self.radio_on:
            self.send(_RADIO, b"\x01")

    def set_mac(self, mac):
        self.mac = bytes(mac)
        if self.sock is not None:
            self._hello()

    def set_channel(self, number):
        self.channel = number
        self.channel_set = True
        if self.sock is not None:
            self.send(_CHANNEL, bytes((number,)))
        self._save_wifi()

    # -- Wi-Fi state that survives a soft reset -----------------------------------
    # On a board the Wi-Fi driver keeps running through a soft reset (only the
    # Python heap and ESP-NOW are reset): the interfaces stay active, the radio
    # stays on its channel. The emulated board's supervisor gives each
    # interpreter a file for that state (NOWMESH_EMU_RAM) and removes it on a
    # hard reset or power cycle, after which the radio starts on its default
    # channel.
    def _save_wifi(self):
        state = "%d %d %d %d" % (self.interfaces[0], self.interfaces[1],
                                 self.channel, self.channel_set)
        _in_ram("w", lambda f: f.write(state))

    def resume_wifi(self):
        """After a soft reset: take the Wi-Fi state back, and the radio back on air."""
        try:
            sta, ap, channel, chosen = [int(x) for x in _in_ram("r", lambda f: f.read()).split()]
        except (OSError, AttributeError, ValueError):
            return
        self.interfaces = [bool(sta), bool(ap)]
        self.channel, self.channel_set = channel, bool(chosen)
        if (sta or ap) and os.getenv("NOWMESH_MEDIUM"):
            self.radio_on = True
            self.open()               # _hello() re-sends the channel and RADIO on

    def set_rate(self, code):
        self.rate = code
        if self.sock is not None:
            self.send(_RATE, bytes((code,)))

    def set_protocol(self, bits):
        self.protocol = bits
        if self.sock is not None:
            self.send(_PROTOCOL, bytes((bits,)))

    def interface_active(self, ifidx):
        return self.interfaces[ifidx]

    def set_interface(self, ifidx, on):
        """A WLAN interface went up or down; the radio is on while either is up."""
        self.open()
        self.interfaces[ifidx] = bool(on)
        radio_on = self.interfaces[0] or self.interfaces[1]
        if radio_on != self.radio_on:
            self.radio_on = radio_on
            self.send(_RADIO, b"\x01" if radio_on else b"\x00")
        self._save_wifi()

    def transmit(self, dst, frame, sync, key_id=None):
        """Send a frame; key_id (8 bytes): encrypted for the peer with that key."""
        self._token = (self._token + 1) & 0xFFFFFFFF
        flags = (1 if sync else 0) | (_FLAG_ENCRYPTED if key_id else 0)
        self.send(_TX, struct.pack(">IB", self._token, flags) + bytes(dst) + (key_id or b"")
                  + bytes(frame))
        return self._token

    def send(self, kind, body):
        data = struct.pack(">HB", len(body) + 1, kind) + body
        view = memoryview(data)
        while view:
            sent = self.sock.send(view)
            view = view[sent:]

    def pump(self, timeout_ms=0):
        """Read what the medium sent, waiting up to timeout_ms (<0: forever) for it."""
        if self.sock is None or self.busy:
            return
        self.busy = True
        try:
            while self._poll.poll(timeout_ms):
                # Read into one preallocated buffer that never grows: a fresh
                # bytes object per read, or a bytearray that grows under a burst
                # (OTA pages), fragments a board-sized heap until it fails -- on
                # a board the ESP-NOW driver's buffers are not on the Python heap.
                if self._buffer is None:
                    self._buffer = bytearray(_BUFFER)
                # readinto on a blocking stream waits to fill the buffer: read
                # what poll() said is there, without blocking.
                self.sock.setblocking(False)
                try:
                    n = self.sock.readinto(memoryview(self._buffer)[self._fill:])
                finally:
                    self.sock.setblocking(True)
                if n is None:
                    continue
                if not n:
                    self.sock.close()
                    self.sock = None
                    raise OSError("emulated node: the medium closed the connection")
                self._fill += n
                self._dispatch()
                timeout_ms = 0
        finally:
            self.busy = False

    def pump_until(self, done, timeout_ms, step_ms=50):
        """Pump until done() is true or timeout_ms passes (<0: no limit); done() result."""
        import time
        start = time.ticks_ms()
        self.pump(0)              # a zero timeout still takes what has arrived
        while not done():
            left = step_ms
            if timeout_ms >= 0:
                left = min(step_ms, timeout_ms - time.ticks_diff(time.ticks_ms(), start))
                if left <= 0:
                    return done()
            self.pump(left)
        return True

    def _dispatch(self):
        buffer, fill, used = self._buffer, self._fill, 0
        try:
            while fill - used >= 3:
                length = (buffer[used] << 8) | buffer[used + 1]
                if fill - used < 2 + length:
                    break
                kind = buffer[used + 2]
                body = bytes(memoryview(buffer)[used + 3:used + 2 + length])
                used += 2 + length
                self._handle(kind, body)
        finally:
            # even when a handler raised (a MemoryError in the program's irq):
            # what was handled is gone, the partial message moves to the front
            if used:
                rest = bytes(memoryview(buffer)[used:fill])
                buffer[:len(rest)] = rest
                self._fill = len(rest)

    def _handle(self, kind, body):
        if kind == _RX:
            if self.on_rx is not None:
                self.on_rx(body[:6], struct.unpack_from(">b", body, 6)[0], body[7:], None)
        elif kind == _RX_SEALED:
            if self.on_rx is not None:
                self.on_rx(body[:6], struct.unpack_from(">b", body, 6)[0], body[15:], body[7:15])
        elif kind == _TXDONE:
            token, ok = struct.unpack_from(">IB", body)
            if self.on_txdone is not None:
                self.on_txdone(token, bool(ok))
        elif kind == _WELCOME:
            self.index, channel = struct.unpack_from(">HB", body)
            if not self.channel_set:
                self.channel = channel
        elif kind == _ERROR:
            raise OSError("emulated node: medium refused: " + body.decode())


    # -- the Wi-Fi task's part ----------------------------------------------------
    def watch(self, wanted, task):
        """While wanted() is true, schedule task() on the main thread when the
        medium has sent something, so irq() callbacks run while the program
        sleeps, as they do on a board. The thread only polls the socket (it
        never reads it, never allocates); all reading stays on the main thread.
        False if this MicroPython has no threads."""
        try:
            import _thread
        except ImportError:
            return False
        if self._watching[0] or self.sock is None:
            return True
        self._watching[0] = True
        _thread.start_new_thread(self._watch, (self.sock, wanted, task))
        return True

    def task_ran(self):
        self._watching[1] = False

    def _watch(self, sock, wanted, task):
        import micropython
        import time
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        flags = self._watching
        try:
            while wanted() and self.sock is sock:
                if flags[1]:
                    time.sleep_ms(1)        # scheduled, not run yet
                    continue
                for _ in poller.ipoll(20):
                    flags[1] = True
                    try:
                        micropython.schedule(task, None)
                    except RuntimeError:    # schedule queue full: try again
                        flags[1] = False
                    break
        finally:
            flags[0] = False


def _in_ram(mode, action):
    """action(file) on the supervisor's Wi-Fi state file (None without one). The
    board's "/" is its flash folder, so the file's host folder is mounted for
    the moment, as the emulated board mounts its extra module folders."""
    path = os.getenv("NOWMESH_EMU_RAM")
    if not path:
        return None
    folder, name = path.rsplit("/", 1)
    point = "/.nowmesh-ram"
    os.mount(os.VfsPosix(folder), point)
    try:
        with open(point + "/" + name, mode) as f:
            return action(f)
    finally:
        os.umount(point)


_link = None


def link():
    """The process's link (created on first use, opened by open())."""
    global _link
    if _link is None:
        _link = MediumLink()
        _link.resume_wifi()
    return _link
