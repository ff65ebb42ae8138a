# In-process stand-ins for the board modules the port uses (espnow, network,
# machine, esp32), for testing the port under the micropython interpreter
# without the emulator. Every fake ESPNow on the same Ether and channel hears
# every other one. Installed into sys.modules before the port is imported.
import io
import sys

BROADCAST = b"\xff" * 6


class Module:
    pass


class Ether:
    def __init__(self):
        self.stations = []
        self.next_mac = None


ETHER = Ether()


class FakeESPNow:
    MAX_DATA_LEN = 250

    def __init__(self):
        self.mac = ETHER.next_mac
        self.channel = 1
        self.queue = []
        self.peers = {}
        self.peers_table = {}
        self.on = False
        ETHER.stations.append(self)

    def active(self, flag=None):
        if flag is not None:
            self.on = flag
        return self.on

    def config(self, **kw):
        pass

    def add_peer(self, mac, *args, **kw):
        if mac in self.peers:
            raise OSError(-12395, "ESP_ERR_ESPNOW_EXIST")
        if len(self.peers) >= 20:
            raise OSError(-12392, "ESP_ERR_ESPNOW_FULL")
        self.peers[mac] = True

    def get_peer(self, mac):
        if mac not in self.peers:
            raise OSError(-12393, "ESP_ERR_ESPNOW_NOT_FOUND")
        return (mac, None, 0, 0, False)

    def del_peer(self, mac):
        if mac not in self.peers:
            raise OSError(-12393, "ESP_ERR_ESPNOW_NOT_FOUND")
        del self.peers[mac]

    def send(self, mac, msg, sync=True):
        if mac not in self.peers:
            raise OSError(-12393, "ESP_ERR_ESPNOW_NOT_FOUND")
        if len(msg) > self.MAX_DATA_LEN:
            raise ValueError("msg too long")
        hit = False
        for other in ETHER.stations:
            if other is self or not other.on or other.channel != self.channel:
                continue
            if mac == BROADCAST or mac == other.mac:
                other.queue.append((self.mac, bytes(msg)))
                other.peers_table[self.mac] = [-50, 0]
                hit = True
        return True if mac == BROADCAST else hit

    def irecv(self, timeout_ms=None):
        if not self.queue:
            return (None, None)
        return self.queue.pop(0)

    def stats(self):
        return (0, 0, 0, 0, 0)


class FakeWLAN:
    PM_NONE = 0

    def __init__(self, interface):
        self.mac = ETHER.next_mac
        self._channel = 1

    def active(self, flag=None):
        return True

    def disconnect(self):
        pass

    def config(self, *args, **kw):
        if args:
            return {"mac": self.mac, "channel": self._channel}[args[0]]
        if "channel" in kw:
            self._channel = kw["channel"]
            for st in ETHER.stations:
                if st.mac == self.mac:
                    st.channel = kw["channel"]


class Reset(Exception):
    pass


class FakeWDT:
    def __init__(self, timeout=0):
        self.fed = 0

    def feed(self):
        self.fed += 1


def _reset():
    raise Reset()


def install():
    espnow = Module()
    espnow.ESPNow = FakeESPNow
    network = Module()
    network.WLAN = FakeWLAN
    network.STA_IF = 0
    machine = Module()
    machine.WDT = FakeWDT
    machine.reset = _reset
    esp32 = Module()
    esp32.mcu_temperature = lambda: 41
    sys.modules["espnow"] = espnow
    sys.modules["network"] = network
    sys.modules["machine"] = machine
    sys.modules["esp32"] = esp32


class Poller:
    """Stands in for select.poll on a scripted console input."""

    def __init__(self, stream):
        self.stream = stream

    def poll(self, timeout):
        return self.stream.pending()


class ScriptedInput:
    def __init__(self):
        self.data = ""

    def type(self, text):
        self.data += text

    def pending(self):
        return len(self.data) > 0

    def read(self, n):
        out, self.data = self.data[:n], self.data[n:]
        return out


class Output(io.IOBase):
    """The console's output. A stream (io.IOBase) as sys.stdout is, so that
    micropython's json.dump can write to it: it hands over bytearrays."""
    def __init__(self):
        self.lines = []
        self._partial = ""

    def write(self, text):
        written = len(text)
        if not isinstance(text, str):
            text = bytes(text).decode()
        text = self._partial + text
        parts = text.split("\n")
        self._partial = parts[-1]
        self.lines.extend(parts[:-1])
        return written

    def ioctl(self, request, arg):      # micropython's stream protocol asks (flush): nothing to do
        return 0
