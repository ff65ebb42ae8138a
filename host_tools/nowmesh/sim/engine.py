"""`nowmesh sim`: many protocol nodes on one virtual clock, one radio model.

The engine plays the part the ESP32 port plays on a board: it feeds each
node's protocol object (the sans-I/O core, or a baseline with the same
interface) with received frames, readings and the time, hands what it returns
to the radio, and calls it again at its next deadline. Every protocol runs
through this same code path, so the metrics compare like with like.
"""
import random
import time
from collections import deque

from nowmesh.radio import model as radio
from nowmesh.radio.events import EventQueue
from nowmesh.radio.identity import TEST_KEY, node_mac
from nowmesh.radio.medium import MacParams, Medium
from nowmesh.sim.metrics import Metrics
from nowmesh.sim.protocols import PROTOCOLS
from nowmesh.sim.sensors import SimulatedSensors

BROADCAST = b"\xff" * 6
DEFAULT_KEY = TEST_KEY
INITIAL_BOOT_US = 1_000_000      # every node powers on within the first second


class SimParams:
    """Everything that shapes a run besides topology and scenario."""

    def __init__(self, protocol="nowmesh", seed=1, duration_s=120.0, reading_interval_s=30.0,
                 deadline_s=10.0, loss=0.0, requests=0, environment="indoor",
                 shadowing_db=4.0, proc_ms=1.0, rxbuf=528, key=DEFAULT_KEY, retry_limit=5,
                 protocol_options=None, phy_rate="1M"):
        if protocol not in PROTOCOLS:
            raise ValueError("unknown protocol %r" % protocol)
        self.protocol = protocol
        self.seed = seed
        self.duration_s = duration_s
        self.reading_interval_s = reading_interval_s
        self.deadline_s = deadline_s
        self.loss = loss
        self.requests = requests
        self.exponent = radio.ENVIRONMENTS[environment]
        self.environment = environment
        self.shadowing_db = shadowing_db
        self.proc_us = int(proc_ms * 1000)
        self.rxbuf = rxbuf
        self.key = key
        self.retry_limit = retry_limit
        self.protocol_options = protocol_options or {}
        # every node's espnow rate (radio.RATES); an LR rate also sets every
        # node's WLAN protocol to include LR, as both ends of an LR link must
        self.phy = radio.rate_by_name(phy_rate)


class SimNode:
    """What the port does for one node: power, boot counter, rx buffer, CPU."""

    __slots__ = ("index", "mac", "name", "proto", "alive", "boot", "epoch", "timer_token",
                 "timer_at_ms", "rxq", "rx_bytes", "cpu_busy", "group", "channel")

    def __init__(self, index, name, channel):
        self.index = index
        self.mac = node_mac(index)
        self.name = name
        self.proto = None
        self.alive = False
        self.boot = 0
        self.epoch = 0
        self.timer_token = 0
        self.timer_at_ms = None
        self.rxq = deque()
        self.rx_bytes = 0
        self.cpu_busy = False
        self.group = 0
        self.channel = channel


class Simulation:
    def __init__(self, topology, params, scenario=None):
        self.topology = topology
        self.params = params
        self.scenario = scenario
        self.rng = random.Random("nowmesh-sim/%s" % params.seed)
        self.q = EventQueue()
        self.radio = radio.RadioModel(topology, params.seed, params.exponent, params.shadowing_db,
                                      detect_dbm=radio.lowest_detect_dbm([params.phy.code]))
        self.medium = Medium(self.q, self.radio, self.rng, self,
                             MacParams(retry_limit=params.retry_limit), params.loss)
        for i in range(len(topology.names)):
            self.medium.set_rate(i, params.phy)
            if params.phy.family == radio.LR:
                self.medium.set_protocol(i, radio.PROTOCOL_DEFAULT | radio.PROTOCOL_BITS[radio.LR])
        self.protocol = PROTOCOLS[params.protocol]
        self.keys = self.protocol.make_keys(params.key)
        self.nodes = [SimNode(i, name, topology.channels[i]) for i, name in enumerate(topology.names)]
        self.by_mac = {node.mac: node.index for node in self.nodes}
        self.sensors = SimulatedSensors(params.seed)
        self.metrics = Metrics(self, params)
        self.counters = {"rxbuf_overflow": 0}
        self._listeners = {}

    # -- the radio's callbacks -------------------------------------------------
    def reachable(self, i, j):
        a, b = self.nodes[i], self.nodes[j]
        return b.alive and a.group == b.group and a.channel == b.channel

    def listeners(self, i):
        """Who can hear node i right now, cached until power or partitions change."""
        cached = self._listeners.get(i)
        if cached is None:
            reachable = self.reachable
            cached = [(j, mw) for j, _dbm, mw in self.radio.heard_by[i] if reachable(i, j)]
            self._listeners[i] = cached
        return cached

    def reachability_changed(self):
        self._listeners.clear()

    def on_transmit(self, i, tx, airtime_us):
        self.metrics.on_transmit(i, tx, airtime_us)

    def deliver(self, j, frame, sender, rssi):
        node = self.nodes[j]
        cost = len(frame) + 8          # espnow's ring buffer stores a small header too
        if node.rx_bytes + cost > self.params.rxbuf:
            self.counters["rxbuf_overflow"] += 1
            return
        node.rxq.append((frame, self.nodes[sender].mac, rssi, cost))
        node.rx_bytes += cost
        if not node.cpu_busy:
            node.cpu_busy = True
            self.q.after(self.params.proc_us, self._process_one, j, node.epoch)

    def send_done(self, i, dst, ok):
        node = self.nodes[i]
        if node.alive:
            self._feed(node, node.proto.send_done(self.nodes[dst].mac, ok, self.q.now_ms))

    # -- feeding the protocol -------------------------------------------------
    def _process_one(self, j, epoch):
        node = self.nodes[j]
        if node.epoch != epoch or not node.rxq:
            return
        frame, src_mac, rssi, cost = node.rxq.popleft()
        node.rx_bytes -= cost
        self._feed(node, node.proto.receive(frame, src_mac, rssi, self.q.now_ms))
        if node.rxq:
            self.q.after(self.params.proc_us, self._process_one, j, epoch)
        else:
            node.cpu_busy = False

    def _feed(self, node, outgoing):
        for dst_mac, frame in outgoing:
            dst = None if dst_mac == BROADCAST else self.by_mac.get(dst_mac)
            if dst_mac != BROADCAST and dst is None:
                continue                # no such peer: espnow would refuse the send
            self.medium.enqueue(node.index, dst, frame)
        events = node.proto.pop_events()
        if events:
            self.metrics.on_events(node.index, events, self.q.now_us)
        self._reschedule_timer(node)

    def _reschedule_timer(self, node):
        deadline = node.proto.next_deadline()
        if deadline is None or deadline == node.timer_at_ms:
            return
        node.timer_token += 1
        node.timer_at_ms = deadline
        self.q.at(deadline * 1000, self._on_timer, node.index, node.timer_token)

    def _on_timer(self, i, token):
        node = self.nodes[i]
        if not node.alive or token != node.timer_token:
            return
        node.timer_at_ms = None
        self._feed(node, node.proto.tick(self.q.now_ms))

    # -- power, readings, requests ---------------------------------------------
    def power_on(self, i):
        node = self.nodes[i]
        node.alive = True
        self.reachability_changed()
        node.boot += 1
        node.epoch += 1
        node.rxq, node.rx_bytes, node.cpu_busy = deque(), 0, False
        node.timer_at_ms = None
        seed = self.rng.getrandbits(64).to_bytes(8, "little")
        node.proto = self.protocol.make_node(node.mac, node.name, self.keys, node.boot, seed,
                                             self.q.now_ms, self.params.protocol_options)
        self.metrics.on_boot(i, self.q.now_us)
        self._reschedule_timer(node)
        self.q.after(self._first_reading_delay_us(), self._publish, i, node.epoch)

    def _first_reading_delay_us(self):
        """When a freshly booted node publishes its first reading.

        At the start of a run every node boots within the first second and then
        publishes at a random phase of the interval, as unsynchronised boards
        would. A node that boots later (revive, reboot) publishes within half a
        second, so the mesh learns at once that it is back.
        """
        if self.q.now_us < INITIAL_BOOT_US:
            interval = int(self.params.reading_interval_s * 1e6)
            return INITIAL_BOOT_US - self.q.now_us + self.rng.randint(0, interval)
        return self.rng.randint(0, 500_000)

    def power_off(self, i):
        node = self.nodes[i]
        if not node.alive:
            return
        node.alive = False
        self.reachability_changed()
        node.epoch += 1
        self.metrics.on_power_off(i, self.q.now_us, node.proto.stats)
        node.proto = None
        node.rxq, node.rx_bytes, node.cpu_busy = deque(), 0, False
        self.medium.power_off(i)

    def _publish(self, i, epoch):
        node = self.nodes[i]
        if node.epoch != epoch:
            return
        values = self.sensors.read(i, self.q.now_us)
        outgoing = node.proto.publish(values, self.q.now_ms)
        own = node.proto.readings.get(node.mac)
        if own is not None:
            self.metrics.on_publish(i, (own.boot & 0xFFFF, own.seq), self.q.now_us)
        self._feed(node, outgoing)
        interval = int(self.params.reading_interval_s * 1e6)
        self.q.after(interval, self._publish, i, epoch)

    def _request(self, number):
        alive = [n.index for n in self.nodes if n.alive]
        if len(alive) >= 2:
            src, dst = self.rng.sample(alive, 2)
            node = self.nodes[src]
            req_id, outgoing = node.proto.request(self.nodes[dst].mac, b"ping", self.q.now_ms)
            self.metrics.on_request(src, dst, req_id, self.q.now_us)
            self._feed(node, outgoing)

    def _schedule_requests(self):
        count = self.params.requests
        if count <= 0:
            return
        # Spread over the run after a settling time, leaving a deadline at the end.
        start = min(30.0, self.params.duration_s / 4)
        end = self.params.duration_s - self.params.deadline_s
        for k in range(count):
            t = start + (end - start) * (k + self.rng.random()) / count
            self.q.at(int(t * 1e6), self._request, k)

    # -- scenario ---------------------------------------------------------------
    def _schedule_scenario(self):
        if self.scenario is None:
            return
        from nowmesh.sim.scenario_runner import apply_event
        for event in self.scenario.events:
            self.q.at(event.t_ms * 1000, apply_event, self, event)

    # -- running ------------------------------------------------------------------
    def run(self, progress=None):
        started = time.perf_counter()
        for i in range(len(self.nodes)):
            self.q.at(self.rng.randint(0, INITIAL_BOOT_US - 1), self.power_on, i)
        self._schedule_requests()
        self._schedule_scenario()
        end_us = int(self.params.duration_s * 1e6)
        step = 10_000_000 if progress else end_us
        t = 0
        while t < end_us:
            t = min(end_us, t + step)
            self.q.run_until(t)
            if progress:
                progress(self)
        result = self.metrics.result()
        result["wall_s"] = round(time.perf_counter() - started, 3)
        return result
