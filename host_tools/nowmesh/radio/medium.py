"""The shared radio channel: PHY reception with SINR, and an 802.11-style MAC.

PHY: a receiver locks onto the first detectable frame that starts while it is
idle, or onto a later one at least 10 dB stronger (capture); every other
signal overlapping it is interference. The frame's error
rate comes from the *worst* SINR seen while it was on air (the usual
"minimum SINR" approximation). A node cannot receive while it transmits.

MAC (a simplified DCF, documented in docs/simulator.md): carrier sense with a
random backoff of DIFS + k slots, k uniform in [0, CW]; when the channel is
busy at the end of the backoff the node waits for it to clear and draws again.
Unicast frames are acknowledged after SIFS; a missing ACK doubles CW and
retries up to `retry_limit` times. Broadcasts are sent once, never
acknowledged (ESP-NOW reports success for them regardless). Receivers drop
MAC retransmissions they already delivered, as the Wi-Fi MAC does.
"""
from collections import deque

from nowmesh.radio import model as radio

SLOT_US = 20
SIFS_US = 10
DIFS_US = 50
CW_MIN = 31
CW_MAX = 1023
# Message-in-message capture: a frame this much stronger than the one being
# received makes the receiver drop it and resynchronise on the newcomer.
CAPTURE_RATIO = radio.dbm_to_mw(10.0)
KIND_DATA = 0
KIND_ACK = 1
# Per rate, the linear SINR above which packet_error_rate is exactly 0
# (BER 0.5 exp(-22 x 2) < 1e-15 on the rate-shifted 1 Mbps curve).
CLEAN_SINR = {r.code: 2.0 * radio.dbm_to_mw(r.offset_db) for r in radio.RATES.values()}


class MacParams:
    def __init__(self, retry_limit=5, cw_min=CW_MIN, cw_max=CW_MAX,
                 carrier_sense_dbm=radio.CARRIER_SENSE_DBM):
        self.retry_limit = retry_limit
        self.cw_min = cw_min
        self.cw_max = cw_max
        self.carrier_sense_mw = radio.dbm_to_mw(carrier_sense_dbm)


class Transmission:
    __slots__ = ("sender", "dst", "frame", "kind", "end_us", "bits", "receivers",
                 "mac_seq", "acked", "for_tx", "epoch", "attempt", "phy")

    def __init__(self, sender, dst, frame, kind, end_us, bits, mac_seq, phy):
        self.phy = phy            # radio.Rate it is sent at
        self.sender = sender
        self.dst = dst            # receiver index, or None for broadcast
        self.frame = frame
        self.kind = kind
        self.end_us = end_us
        self.bits = bits
        self.receivers = []
        self.mac_seq = mac_seq
        self.acked = False
        self.for_tx = None        # for an ACK: the data transmission it answers
        self.epoch = 0            # sender's power epoch when it went on air
        self.attempt = 0          # 0 for the first try, then MAC retry number


class Station:
    """Per-node PHY and MAC state."""

    __slots__ = ("signals", "locked", "locked_mw", "locked_min_sinr", "transmitting",
                 "queue", "busy", "cw", "retries", "mac_seq", "current", "last_seq_from",
                 "epoch", "phy", "protocol")

    def __init__(self, cw_min):
        self.phy = radio.DEFAULT_RATE     # the rate it sends data at (espnow rate)
        self.protocol = radio.PROTOCOL_DEFAULT  # what it decodes (WLAN protocol bits)
        self.signals = {}         # Transmission -> received power (mW) at this node
        self.locked = None
        self.locked_mw = 0.0
        self.locked_min_sinr = 0.0
        self.transmitting = False
        self.queue = deque()      # (dst index or None, frame)
        self.busy = False
        self.cw = cw_min
        self.retries = 0
        self.mac_seq = 0
        self.current = None       # Transmission awaiting its ACK
        self.last_seq_from = {}   # sender -> mac_seq last delivered (duplicate filter)
        self.epoch = 0            # bumped on power-off: stale callbacks are ignored


class Medium:
    """Carries frames between stations through a RadioModel.

    `host` receives callbacks: deliver(j, frame, sender, rssi) for a frame j
    decoded and addressed to it, send_done(i, dst, ok) for a finished unicast,
    and on_transmit(i, tx, airtime_us) for every frame put on the air.
    `listeners(i)` gives [(j, rx_mw)]: who can hear i now (the host drops dead
    nodes, other partitions and other channels from radio.heard_by[i]).
    """

    def __init__(self, queue, radio_model, rng, host, mac=None, extra_loss=0.0):
        self.q = queue
        self.radio = radio_model
        self.rng = rng
        self.host = host
        self.mac = mac or MacParams()
        self.extra_loss = extra_loss
        n = len(radio_model.heard_by)
        self.stations = [Station(self.mac.cw_min) for _ in range(n)]
        self.counters = {"phy_errors": 0, "extra_loss": 0, "half_duplex": 0,
                         "mac_retries": 0, "mac_failures": 0, "mac_duplicates": 0,
                         "captures": 0}

    # -- MAC: queueing and channel access ------------------------------------
    def enqueue(self, i, dst, frame):
        st = self.stations[i]
        st.queue.append((dst, frame))
        if not st.busy:
            self._start_access(i)

    def set_rate(self, i, phy):
        """Node i sends its data frames at `phy` (a radio.Rate) from now on."""
        self.stations[i].phy = phy

    def set_protocol(self, i, bits):
        """Node i's WLAN protocol bitmap (11b 1, 11g 2, 11n 4, LR 8): which frames it decodes."""
        self.stations[i].protocol = bits

    def power_off(self, i):
        """Forget queued frames and abort reception; frames already on air finish."""
        st = self.stations[i]
        st.epoch += 1
        st.queue.clear()
        st.busy = False
        st.current = None
        st.locked = None
        st.cw = self.mac.cw_min
        st.retries = 0

    def _backoff_us(self, st):
        return DIFS_US + self.rng.randint(0, st.cw) * SLOT_US

    def _start_access(self, i):
        st = self.stations[i]
        st.busy = True
        self.q.after(self._backoff_us(st), self._try_send, i, st.epoch)

    def _try_send(self, i, epoch):
        st = self.stations[i]
        if st.epoch != epoch or not st.queue:
            return
        if st.transmitting or self._sensed_mw(st) >= self.mac.carrier_sense_mw:
            clear_at = max([tx.end_us for tx in st.signals] + [self.q.now_us])
            self.q.at(clear_at + self._backoff_us(st), self._try_send, i, epoch)
            return
        dst, frame = st.queue[0]
        if st.retries == 0:
            st.mac_seq = (st.mac_seq + 1) & 0xFFF
        self._transmit(i, dst, frame, KIND_DATA, st.mac_seq)

    @staticmethod
    def _sensed_mw(st):
        total = 0.0
        for mw in st.signals.values():
            total += mw
        return total

    # -- PHY: putting a frame on the air and receiving it ---------------------
    def _transmit(self, i, dst, frame, kind, mac_seq, phy=None):
        st = self.stations[i]
        payload_len = len(frame)
        if kind == KIND_ACK:
            phy = phy.ack_rate()
            duration = phy.airtime_us(radio.ACK_BYTES)
            bits = 8 * radio.ACK_BYTES
        else:
            phy = st.phy
            duration = radio.airtime_us(payload_len, phy)
            bits = radio.frame_bits(payload_len)
        tx = Transmission(i, dst, frame, kind, self.q.now_us + duration, bits, mac_seq, phy)
        # a receiver locks onto the frame only if its protocol decodes the
        # rate's family and the frame is above that rate's detection floor
        needs, floor = phy.protocol_bit, phy.detect_mw
        st.transmitting = True
        if st.locked is not None:        # half duplex: our own send kills a reception
            self.counters["half_duplex"] += 1
            st.locked = None
        # Once per (transmission, listener): the simulator's innermost loop. The
        # SINR sum is inlined (same terms, same order as _sinr(), so the same
        # floating-point result).
        stations = self.stations
        receivers = tx.receivers
        noise = radio.NOISE_MW
        captures = 0
        for j, mw in self.host.listeners(i):
            rx = stations[j]
            receivers.append(j)
            signals = rx.signals
            signals[tx] = mw
            if rx.transmitting:
                continue
            locked = rx.locked
            if (rx.protocol & needs and mw >= floor
                    and (locked is None or mw >= rx.locked_mw * CAPTURE_RATIO)):
                if locked is not None:
                    captures += 1
                rx.locked = tx
                rx.locked_mw = mw
                interference = noise - mw
                for other in signals.values():
                    interference += other
                rx.locked_min_sinr = mw / interference
            elif locked is not None:
                wanted = rx.locked_mw
                interference = noise - wanted
                for other in signals.values():
                    interference += other
                sinr = wanted / interference
                if sinr < rx.locked_min_sinr:
                    rx.locked_min_sinr = sinr
        if captures:
            self.counters["captures"] += captures
        tx.epoch = st.epoch
        tx.attempt = st.retries if kind == KIND_DATA else 0
        self.host.on_transmit(i, tx, duration)
        self.q.at(tx.end_us, self._end_transmission, tx)
        return tx

    @staticmethod
    def _sinr(rx, signal_mw):
        interference = radio.NOISE_MW - signal_mw
        for mw in rx.signals.values():
            interference += mw
        return signal_mw / interference

    def _end_transmission(self, tx):
        stations = self.stations
        stations[tx.sender].transmitting = False
        for j in tx.receivers:
            rx = stations[j]
            rx.signals.pop(tx, None)
            if rx.locked is tx:
                rx.locked = None
                if self._decoded(tx, rx.locked_min_sinr):
                    self._received(j, tx)
        if tx.kind == KIND_DATA:
            self._after_data_sent(tx)

    def _decoded(self, tx, min_sinr):
        # Above the rate's clean SINR the bit error rate is below 1e-19, which
        # packet_error_rate rounds to a PER of exactly 0: skip the arithmetic
        # (the random draw is still taken, so every later draw is the same).
        if min_sinr > CLEAN_SINR[tx.phy.code]:
            per = 0.0
        else:
            per = radio.packet_error_rate(radio.mw_to_dbm(min_sinr), tx.bits, tx.phy)
        if self.rng.random() < per:
            self.counters["phy_errors"] += 1
            return False
        if self.extra_loss and self.rng.random() < self.extra_loss:
            self.counters["extra_loss"] += 1
            return False
        return True

    def _received(self, j, tx):
        if tx.kind == KIND_ACK:
            if tx.dst == j and tx.for_tx is not None:
                tx.for_tx.acked = True
            return
        if tx.dst is not None and tx.dst != j:
            return                      # unicast for someone else: MAC address filter
        if tx.dst is not None:
            self.q.after(SIFS_US, self._send_ack, j, tx)
            st = self.stations[j]
            if st.last_seq_from.get(tx.sender) == tx.mac_seq:
                self.counters["mac_duplicates"] += 1
                return
            st.last_seq_from[tx.sender] = tx.mac_seq
        rssi = radio.clip_rssi(self.radio.rx_dbm(tx.sender, j))
        self.host.deliver(j, tx.frame, tx.sender, rssi)

    def _send_ack(self, j, data_tx):
        if self.stations[j].transmitting:
            return
        ack_tx = self._transmit(j, data_tx.sender, b"", KIND_ACK, data_tx.mac_seq, data_tx.phy)
        ack_tx.for_tx = data_tx

    # -- MAC: completion ------------------------------------------------------
    def _after_data_sent(self, tx):
        st = self.stations[tx.sender]
        if st.epoch != tx.epoch:
            return                      # sender lost power while this was on air
        if tx.dst is None:
            self._finish_head(tx.sender, None)
            return
        wait = SIFS_US + radio.ack_airtime_us(tx.phy) + SLOT_US
        self.q.after(wait, self._ack_deadline, tx, st.epoch)

    def _ack_deadline(self, tx, epoch):
        i = tx.sender
        st = self.stations[i]
        if st.epoch != epoch:
            return
        if tx.acked:
            self._finish_head(i, True)
            return
        st.retries += 1
        if st.retries > self.mac.retry_limit:
            self.counters["mac_failures"] += 1
            self._finish_head(i, False)
            return
        self.counters["mac_retries"] += 1
        st.cw = min(2 * st.cw + 1, self.mac.cw_max)
        self._start_access(i)

    def _finish_head(self, i, ok):
        st = self.stations[i]
        dst, _frame = st.queue.popleft()
        st.retries = 0
        st.cw = self.mac.cw_min
        st.busy = False
        if ok is not None:
            self.host.send_done(i, dst, ok)
        if st.queue and not st.busy:
            self._start_access(i)
