"""The medium's view of the emulated nodes: the host side of sim.medium.Medium.

`Air` owns the simulator's radio model, MAC and event queue, and plays the
part `sim.engine.Simulation` plays in a simulation: it says who can hear whom
(`listeners`/`reachable`), and turns the Medium's callbacks into messages
for the node processes (RX, TXDONE). It knows nothing about sockets: each
node is bound to a `send(message_bytes)` callable by the server.
"""
import random
from collections import deque

from nowmesh.emulation.medium import protocol
from nowmesh.radio import model as radio
from nowmesh.radio.identity import node_mac
from nowmesh.radio.events import EventQueue
from nowmesh.radio.medium import KIND_DATA, MacParams, Medium

UNKNOWN_DST = -1     # a unicast MAC no node owns: sent, never ACKed, retried, failed


class RealTimeQueue(EventQueue):
    """The simulator's event queue, plus a peek at the next event's time."""

    def next_us(self):
        heap = self._heap
        return heap[0][0] if heap else None


class Station:
    """One node slot of the topology, and the connection bound to it (if any)."""

    def __init__(self, index, name, channel):
        self.index = index
        self.name = name
        self.mac = node_mac(index)
        self.channel = channel        # from the topology until the node sends CHANNEL
        self.send = None              # callable(bytes) while a process is connected
        self.radio_on = False         # a WLAN interface of the node is active
        self.cut = False              # control: off the air (KILL/CUT)
        self.group = 0                # control: PARTITION group; only equal groups hear each other
        self.pending = deque()        # tokens of unicast frames in the MAC queue, in order
        self.max_data_len = protocol.V1_MAX_DATA_LEN   # the process's espnow.MAX_DATA_LEN
        self.dropped_oversize = 0     # frames longer than max_data_len it was sent (ESP-NOW v1)

    @property
    def on_air(self):
        return self.send is not None and self.radio_on and not self.cut


class SealedFrame(bytes):
    """A frame sent encrypted for a peer: the bytes, and the id of the key
    (PMK + LMK) it was encrypted with, which the receiver's keys must match."""

    def __new__(cls, frame, key_id):
        sealed = super().__new__(cls, frame)
        sealed.key_id = bytes(key_id)
        return sealed


class Air:
    def __init__(self, topology, seed=1, exponent=3.0, shadowing_db=4.0, loss=0.0,
                 retry_limit=5):
        self.topology = topology
        self.q = RealTimeQueue()
        # links down to the lowest rate's floor are kept: a program may pick an LR rate
        self.radio = radio.RadioModel(topology, seed, exponent, shadowing_db,
                                      detect_dbm=radio.lowest_detect_dbm(radio.RATES))
        self.rng = random.Random("nowmesh-emulate/%s" % seed)
        self.medium = Medium(self.q, self.radio, self.rng, self,
                             MacParams(retry_limit=retry_limit), loss)
        self.nodes = [Station(i, name, topology.channels[i])
                      for i, name in enumerate(topology.names)]
        self.by_mac = {node.mac: node for node in self.nodes}
        self.counters = {"tx": 0, "rx": 0, "tx_ok": 0, "tx_failed": 0, "airtime_us": 0}
        self.capture = None           # a nowmesh.emulation.capture.FrameCapture, if recording

    # -- binding node processes ----------------------------------------------
    def bind(self, mac, send, max_data_len=protocol.V1_MAX_DATA_LEN):
        """Attach a connected process to the node owning `mac`; None if no such node."""
        node = self.by_mac.get(bytes(mac))
        if node is None:
            return None
        if node.send is not None:
            self.unbind(node)
        node.send = send
        node.radio_on = False
        node.max_data_len = max_data_len
        # a new interpreter's radio: espnow at 1 Mbps, WLAN protocol default
        self.medium.set_rate(node.index, radio.DEFAULT_RATE)
        self.medium.set_protocol(node.index, radio.PROTOCOL_DEFAULT)
        send(protocol.welcome(node.index, node.channel))
        return node

    def unbind(self, node):
        """The process went away: its radio stops, its queued frames are lost."""
        node.send = None
        node.radio_on = False
        # The next process starts its radio on the default channel; one that
        # resumes after a soft reset sends its channel (CHANNEL) itself.
        node.channel = self.topology.channels[node.index]
        self._power_off(node)

    # -- messages from a node --------------------------------------------------
    def set_channel(self, node, number):
        if 1 <= number <= 14:
            node.channel = number

    def set_radio(self, node, on):
        node.radio_on = bool(on)

    def set_rate(self, node, code):
        """espnow.config(rate=code); ValueError for a code the ESP32 has not."""
        self.medium.set_rate(node.index, radio.rate(code))

    def set_protocol(self, node, bits):
        self.medium.set_protocol(node.index, bits)

    def transmit(self, node, token, dst_mac, frame, key_id=None):
        """Queue a frame at the node's MAC; broadcast reports success at once."""
        self.counters["tx"] += 1
        if key_id is not None:
            frame = SealedFrame(frame, key_id)
        if dst_mac[0] & 0x01:                       # broadcast or multicast
            self.medium.enqueue(node.index, None, frame)
            node.send(protocol.txdone(token, True))
            return
        target = self.by_mac.get(bytes(dst_mac))
        node.pending.append(token)
        self.medium.enqueue(node.index, target.index if target else UNKNOWN_DST, frame)

    # -- control ---------------------------------------------------------------
    def inject(self, src_mac, dst_mac, frame):
        """An attacker's radio beside the node owning src_mac sends frame under
        that MAC (a replay): heard by whoever hears that node now, so only
        while it is on the air. Its node is never told the outcome."""
        node = self._node(src_mac)
        self.counters["injected"] = self.counters.get("injected", 0) + 1
        if dst_mac[0] & 0x01:
            self.medium.enqueue(node.index, None, frame)
            return
        target = self.by_mac.get(bytes(dst_mac))
        node.pending.append(None)                 # keeps the node's own tokens in MAC order
        self.medium.enqueue(node.index, target.index if target else UNKNOWN_DST, frame)

    def cut(self, mac, on):
        node = self._node(mac)
        node.cut = bool(on)

    def kill(self, mac):
        node = self._node(mac)
        node.cut = True
        self._power_off(node)

    def move(self, mac, x_m, y_m):
        """A new position; ValueError for a topology given as a link table."""
        self.radio.move(self._node(mac).index, x_m, y_m)

    def partition(self, groups):
        """{mac: group}; nodes not named are group 0. An empty map heals."""
        for mac in groups:
            self._node(mac)                       # KeyError before anything changes
        for node in self.nodes:
            node.group = groups.get(node.mac, 0)

    def set_loss(self, probability):
        if not 0.0 <= probability <= 1.0:
            raise ValueError("loss must be from 0 to 1, got %r" % probability)
        self.medium.extra_loss = probability

    def status(self):
        return {
            "now_ms": self.q.now_ms,
            "loss": self.medium.extra_loss,
            "counters": dict(self.counters),
            "radio": dict(self.medium.counters),
            "nodes": [{"name": n.name, "mac": n.mac.hex(":"), "channel": n.channel,
                       "connected": n.send is not None, "radio_on": n.radio_on, "cut": n.cut,
                       "group": n.group, "position": self._position(n),
                       "rate": self.medium.stations[n.index].phy.name,
                       "protocol": self.medium.stations[n.index].protocol,
                       "max_data_len": n.max_data_len, "dropped_oversize": n.dropped_oversize}
                      for n in self.nodes],
        }

    def _position(self, node):
        positions = self.radio.positions
        return None if positions is None else [round(c, 2) for c in positions[node.index]]

    def _node(self, mac):
        node = self.by_mac.get(bytes(mac))
        if node is None:
            raise KeyError("no node has MAC %s" % bytes(mac).hex(":"))
        return node

    def _power_off(self, node):
        self.medium.power_off(node.index)
        failed, node.pending = node.pending, deque()
        if node.send is not None:
            for token in failed:
                if token is not None:             # None: an injected frame (inject)
                    node.send(protocol.txdone(token, False))

    # -- the Medium's host callbacks -------------------------------------------
    def reachable(self, i, j):
        a, b = self.nodes[i], self.nodes[j]
        return a.on_air and b.on_air and a.channel == b.channel and a.group == b.group

    def reachability_changed(self):
        pass                          # listeners() is never cached here

    def listeners(self, i):
        # Recomputed per frame: a handful of nodes, and reachability changes
        # whenever a process connects, switches channel or is cut.
        reachable = self.reachable
        return [(j, mw) for j, _dbm, mw in self.radio.heard_by[i] if reachable(i, j)]

    def on_transmit(self, i, tx, airtime_us):
        self.counters["airtime_us"] += airtime_us     # every frame on air, ACKs and retries too
        # Record each frame once as it goes on air (not MAC retries or ACKs).
        if self.capture is not None and tx.kind == KIND_DATA and tx.attempt == 0:
            node = self.nodes[i]
            if tx.dst is None:
                dst = None                              # broadcast
            elif tx.dst == UNKNOWN_DST:
                dst = bytes(6)                          # a MAC no node owns
            else:
                dst = self.nodes[tx.dst].mac
            self.capture.write(self.q.now_us, node.channel, node.mac, dst, tx.frame)

    def deliver(self, j, frame, sender, rssi):
        node = self.nodes[j]
        if node.send is None:
            return
        if len(frame) > node.max_data_len:
            # ESP-NOW v1 receivers "truncate the data to the first 250 bytes or
            # discard the packet entirely" (espnow.rst): here, discard. The MAC
            # already acknowledged it, so a unicast sender still sees success.
            node.dropped_oversize += 1
            return
        self.counters["rx"] += 1
        node.send(protocol.rx(self.nodes[sender].mac, rssi, frame, getattr(frame, "key_id", None)))

    def send_done(self, i, dst, ok):
        node = self.nodes[i]
        if not node.pending:
            return
        token = node.pending.popleft()
        self.counters["tx_ok" if ok else "tx_failed"] += 1
        if node.send is not None and token is not None:
            node.send(protocol.txdone(token, ok))
