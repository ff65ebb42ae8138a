"""The radio model shared by `nowmesh sim` and the live emulator's medium.

Numbers and formulas (see docs/simulator.md for sources):
- log-distance path loss PL(d) = 40.2 dB + 10 n log10(d / 1 m) + X, with X drawn
  once per *ordered* link from N(0, sigma), so links are asymmetric;
- TX power 19.5 dBm, noise floor -93.6 dBm, frames below -101 dBm undetected;
- 1 Mbps DBPSK bit error rate 0.5 exp(-22 SINR) (SINR linear), so
  PER = 1 - (1 - BER)^bits, which puts a full 250-byte frame's sensitivity
  near -97 dBm;
- airtime at 1 Mbps = 192 us preamble+PLCP + 8 us per byte of
  (43 bytes of MAC/vendor-action overhead + payload).
"""
import math
import random

from nowmesh.radio.topology import unit_disk_adjacency

TX_POWER_DBM = 19.5
PL_D0_DB = 40.2
NOISE_DBM = -93.6
DETECT_DBM = -101.0
SENSITIVITY_DBM = -97.0
# Carrier sense: a node defers while the energy of frames it can detect is at
# least this strong. Below it a transmission is hidden (the hidden-terminal case).
CARRIER_SENSE_DBM = -95.0
PREAMBLE_US = 192
US_PER_BYTE = 8
MAC_OVERHEAD_BYTES = 43
ACK_BYTES = 14
RSSI_MIN, RSSI_MAX = -127, 0

ENVIRONMENTS = {  # path-loss exponent n by environment
    "open": 2.0,
    "indoor": 3.0,
    "dense": 3.5,
}


# -- PHY rates (espnow.config(rate=...)) ----------------------------------------
# One row per rate: ESP-IDF's wifi_phy_rate_t code (what espnow.RATE_* hold),
# the modulation family, the data rate, and the ESP32's receiver sensitivity
# at that rate (ESP32 Series Datasheet, "Wi-Fi Radio" receiver sensitivity
# table; LR: Espressif's ESP32 Wi-Fi specification post, -105 dBm for LR).
# A rate's error rate is the 1 Mbps DBPSK curve shifted by its sensitivity
# difference (a frame at S dBm fails as often at that rate as one at -97 dBm
# does at 1 Mbps), and so is its detection floor.
DSSS, OFDM, LR = "dsss", "ofdm", "lr"
# which WLAN protocol bit (config(protocol=)) a receiver needs to decode a family
PROTOCOL_BITS = {DSSS: 0x1, OFDM: 0x2, LR: 0x8}     # 11b, 11g, LR
PROTOCOL_DEFAULT = 0x7                                # 11b | 11g | 11n
OFDM_PREAMBLE_US = 20     # L-STF + L-LTF + SIGNAL
OFDM_SYMBOL_US = 4
OFDM_EXTENSION_US = 6     # 2.4 GHz signal extension
OFDM_SERVICE_TAIL_BITS = 22


class Rate:
    """One PHY rate: code (wifi_phy_rate_t), family, Mbps, sensitivity dBm."""

    def __init__(self, code, name, family, mbps, sensitivity_dbm):
        self.code = code
        self.name = name
        self.family = family
        self.mbps = mbps
        self.sensitivity_dbm = sensitivity_dbm
        self.offset_db = sensitivity_dbm - SENSITIVITY_DBM    # 0 at 1 Mbps
        self.detect_dbm = DETECT_DBM + self.offset_db
        self.detect_mw = 10.0 ** (self.detect_dbm / 10.0)
        self.protocol_bit = PROTOCOL_BITS[family]

    def airtime_us(self, nbytes):
        bits = 8 * nbytes
        if self.family == OFDM:
            symbols = -(-(bits + OFDM_SERVICE_TAIL_BITS) // int(4 * self.mbps))
            return OFDM_PREAMBLE_US + OFDM_SYMBOL_US * symbols + OFDM_EXTENSION_US
        # DSSS/CCK long preamble; LR's PPDU is not published: the same 192 us
        # preamble and PLCP header, then the payload at the LR rate (an estimate)
        return PREAMBLE_US + int(-(-bits // self.mbps))

    def ack_rate(self):
        """ACKs go at the basic rate of the data frame's family."""
        return RATES[RATE_1M if self.family == DSSS else (RATE_6M if self.family == OFDM else self.code)]


RATE_1M, RATE_6M = 0x00, 0x0B
RATES = {r.code: r for r in (
    Rate(0x00, "1M", DSSS, 1.0, -97.0),
    Rate(0x01, "2M", DSSS, 2.0, -94.0),
    Rate(0x02, "5.5M", DSSS, 5.5, -92.0),
    Rate(0x03, "11M", DSSS, 11.0, -88.0),
    Rate(0x0B, "6M", OFDM, 6.0, -93.0),
    Rate(0x0F, "9M", OFDM, 9.0, -91.0),
    Rate(0x0A, "12M", OFDM, 12.0, -89.0),
    Rate(0x0E, "18M", OFDM, 18.0, -87.0),
    Rate(0x09, "24M", OFDM, 24.0, -84.0),
    Rate(0x0D, "36M", OFDM, 36.0, -80.0),
    Rate(0x08, "48M", OFDM, 48.0, -77.0),
    Rate(0x0C, "54M", OFDM, 54.0, -75.0),
    Rate(0x29, "LR250K", LR, 0.25, -105.0),
    Rate(0x2A, "LR500K", LR, 0.5, -102.0),
)}
DEFAULT_RATE = RATES[RATE_1M]


def lowest_detect_dbm(codes):
    """The detection floor a RadioModel needs so the given rates' frames are kept."""
    return min([DETECT_DBM] + [rate(code).detect_dbm for code in codes])


def rate(code):
    """The Rate for a wifi_phy_rate_t code; ValueError for one the ESP32 has not."""
    found = RATES.get(code)
    if found is None:
        raise ValueError("no PHY rate %r (known: %s)" % (code, ", ".join(
            "%s=%d" % (r.name, r.code) for r in RATES.values())))
    return found


def rate_by_name(name):
    for r in RATES.values():
        if r.name.lower() == str(name).lower():
            return r
    raise ValueError("no PHY rate %r (known: %s)" % (name, ", ".join(r.name for r in RATES.values())))


def airtime_us(payload_len, phy=DEFAULT_RATE):
    """Time on air of one ESP-NOW frame carrying `payload_len` bytes: at 1 Mbps
    192 us + 8 us per byte of (43 bytes of overhead + payload)."""
    return phy.airtime_us(MAC_OVERHEAD_BYTES + payload_len)


def ack_airtime_us(phy=DEFAULT_RATE):
    return phy.ack_rate().airtime_us(ACK_BYTES)


def frame_bits(payload_len):
    return 8 * (MAC_OVERHEAD_BYTES + payload_len)


def dbm_to_mw(dbm):
    return 10.0 ** (dbm / 10.0)


def mw_to_dbm(mw):
    return 10.0 * math.log10(mw) if mw > 0 else -999.0


NOISE_MW = dbm_to_mw(NOISE_DBM)


def path_loss_db(distance_m, exponent):
    return PL_D0_DB + 10.0 * exponent * math.log10(max(distance_m, 1.0))


def packet_error_rate(sinr_db, bits, phy=DEFAULT_RATE):
    """PER of a frame of `bits` bits at the given SINR (1 Mbps DBPSK, shifted
    by the rate's sensitivity difference)."""
    sinr = 10.0 ** ((sinr_db - phy.offset_db) / 10.0)
    ber = 0.5 * math.exp(-22.0 * sinr)
    if ber < 1e-15:
        return 0.0
    return 1.0 - (1.0 - ber) ** bits


def clip_rssi(dbm):
    return max(RSSI_MIN, min(RSSI_MAX, int(round(dbm))))


def range_for_rx_dbm(rx_dbm, exponent, tx_dbm=TX_POWER_DBM):
    """Distance at which the median received power equals `rx_dbm`."""
    return 10.0 ** ((tx_dbm - PL_D0_DB - rx_dbm) / (10.0 * exponent))


# The safe cut-off: a pair farther apart than the distance at which the median
# received power is SAFE_SIGMAS shadowing deviations below the detection floor
# is never evaluated. Such a link would need a shadowing draw of more than
# 5 sigma in its favour to be detected (probability 2.9e-7 per pair);
# tests/radio/test_radio_cut.py checks against all pairs that the cut drops no
# detectable link at the seeds and layouts the test suite and benchmarks use.
SAFE_SIGMAS = 5.0


class RadioModel:
    """Received power of every ordered link, from positions or a link table.

    Only links whose received power is at least DETECT_DBM are kept: weaker
    signals are neither decoded nor counted as interference (alone each raises
    the noise floor by under 1 dB), which keeps large meshes tractable.
    Shadowing is drawn per ordered link from its own seeded stream, so it does
    not depend on the order links are computed in, and survives moves.
    Only pairs within the safe cut-off distance (max_reach_m) are evaluated.
    """

    def __init__(self, topology, seed, exponent=3.0, shadowing_db=4.0, tx_dbm=TX_POWER_DBM,
                 detect_dbm=DETECT_DBM):
        self.topology = topology
        self.detect_dbm = detect_dbm      # lower for LR rates: see lowest_detect_dbm()
        self.seed = seed
        self.exponent = exponent
        self.shadowing_db = shadowing_db
        self.tx_dbm = tx_dbm
        n = len(topology.names)
        self.positions = list(topology.positions) if topology.positions else None
        # heard_by[i] = list of (j, rx_dbm, rx_mw), sorted by j: who hears i's transmissions
        self.heard_by = [[] for _ in range(n)]
        self.link_dbm = [dict() for _ in range(n)]
        if self.positions is None:
            self._from_link_table(topology.links)
        else:
            self._from_positions()

    # -- construction -------------------------------------------------------
    def max_reach_m(self):
        """The safe cut-off distance: beyond it no link is evaluated."""
        return range_for_rx_dbm(self.detect_dbm - SAFE_SIGMAS * self.shadowing_db, self.exponent,
                                self.tx_dbm)

    def _from_positions(self):
        # The topology's grid hash finds the pairs within reach: the cost grows
        # with N times the nodes per reach area, not with N^2.
        detect = self.detect_dbm
        for i, js in enumerate(unit_disk_adjacency(self.positions, self.max_reach_m())):
            row, heard = self.link_dbm[i], self.heard_by[i]
            for j in sorted(js):
                rx_dbm = self._rx_from_distance(i, j)
                if rx_dbm >= detect:
                    row[j] = rx_dbm
                    heard.append((j, rx_dbm, dbm_to_mw(rx_dbm)))

    def _from_link_table(self, links):
        for (i, j), rx_dbm in sorted(links.items()):
            self._set_link(i, j, rx_dbm)

    def _shadowing(self, i, j):
        # Deterministic in (seed, i, j): recomputed rather than cached, so a
        # 10,000-node layout does not keep millions of draws in memory.
        if self.shadowing_db <= 0:
            return 0.0
        return random.Random("%s/shadow/%d/%d" % (self.seed, i, j)).gauss(0.0, self.shadowing_db)

    def _rx_from_distance(self, i, j):
        (xi, yi), (xj, yj) = self.positions[i], self.positions[j]
        distance = math.hypot(xi - xj, yi - yj)
        return self.tx_dbm - path_loss_db(distance, self.exponent) - self._shadowing(i, j)

    def _set_link(self, i, j, rx_dbm):
        old = self.link_dbm[i].pop(j, None)
        if old is not None:
            self.heard_by[i] = [e for e in self.heard_by[i] if e[0] != j]
        if rx_dbm >= self.detect_dbm:
            self.link_dbm[i][j] = rx_dbm
            self.heard_by[i].append((j, rx_dbm, dbm_to_mw(rx_dbm)))
            self.heard_by[i].sort()

    # -- queries and changes ---------------------------------------------------
    def rx_dbm(self, i, j):
        """Received power at j of i's transmission, or None if undetectable."""
        return self.link_dbm[i].get(j)

    def move(self, i, x, y):
        """Move node i (positions topologies only) and recompute its links."""
        if self.positions is None:
            raise ValueError("move needs a topology with positions")
        self.positions[i] = (float(x), float(y))
        reach = self.max_reach_m()
        for j in range(len(self.positions)):
            if j == i:
                continue
            (xj, yj) = self.positions[j]
            near = math.hypot(x - xj, y - yj) <= reach
            self._set_link(i, j, self._rx_from_distance(i, j) if near else self.detect_dbm - 1)
            self._set_link(j, i, self._rx_from_distance(j, i) if near else self.detect_dbm - 1)

    def usable(self, i, j, payload_len=100, max_per=0.5, phy=DEFAULT_RATE):
        """True if i -> j delivers a `payload_len` frame with PER below max_per in silence."""
        rx = self.link_dbm[i].get(j)
        if rx is None or rx < phy.detect_dbm:
            return False
        return packet_error_rate(rx - NOISE_DBM, frame_bits(payload_len), phy) < max_per

    def links(self):
        """Each undirected usable link once: (i, j, rssi_ij, rssi_ji)."""
        out = []
        for i, row in enumerate(self.link_dbm):
            for j in sorted(row):
                if i < j and self.usable(i, j) and self.usable(j, i):
                    out.append((i, j, row[j], self.link_dbm[j][i]))
        return out
