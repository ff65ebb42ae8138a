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

from nowmesh.sim.topology import unit_disk_adjacency

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


def airtime_us(payload_len):
    """Time on air of one ESP-NOW frame carrying `payload_len` bytes at 1 Mbps."""
    return PREAMBLE_US + US_PER_BYTE * (MAC_OVERHEAD_BYTES + payload_len)


def ack_airtime_us():
    return PREAMBLE_US + US_PER_BYTE * ACK_BYTES


def frame_bits(payload_len):
    return 8 * (MAC_OVERHEAD_BYTES + payload_len)


def dbm_to_mw(dbm):
    return 10.0 ** (dbm / 10.0)


def mw_to_dbm(mw):
    return 10.0 * math.log10(mw) if mw > 0 else -999.0


NOISE_MW = dbm_to_mw(NOISE_DBM)


def path_loss_db(distance_m, exponent):
    return PL_D0_DB + 10.0 * exponent * math.log10(max(distance_m, 1.0))


def packet_error_rate(sinr_db, bits):
    """PER of a frame of `bits` bits at the given SINR (1 Mbps DBPSK)."""
    sinr = 10.0 ** (sinr_db / 10.0)
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
# received power is SAFE_SIGMAS shadowing deviations below DETECT_DBM is never
# evaluated. Such a link would need a shadowing draw of more than 5 sigma in
# its favour to be detected (probability 2.9e-7 per pair);
# tests/sim/test_radio_cut.py checks against all pairs that the cut drops no
# detectable link at the seeds and sizes the test suite and benchmarks use.
SAFE_SIGMAS = 5.0


class RadioModel:
    """Received power of every ordered link, from positions or a link table.

    Only links whose received power is at least DETECT_DBM are kept: weaker
    signals are neither decoded nor counted as interference (alone each raises
    the noise floor by under 1 dB), which keeps large meshes tractable.
    Shadowing is drawn per ordered link from its own seeded stream, so it does
    not depend on the order links are computed in, and survives moves.
    Only pairs within the safe cut-off distance (SAFE_SIGMAS) are evaluated.
    """

    def __init__(self, topology, seed, exponent=3.0, shadowing_db=4.0, tx_dbm=TX_POWER_DBM):
        self.topology = topology
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
        return range_for_rx_dbm(DETECT_DBM - SAFE_SIGMAS * self.shadowing_db, self.exponent, self.tx_dbm)

    def _from_positions(self, reach_m=None):
        reach = self.max_reach_m() if reach_m is None else reach_m
        # The topology's grid hash finds the pairs within reach: the cost grows
        # with N times the nodes per reach area, not with N^2.
        for i, js in enumerate(unit_disk_adjacency(self.positions, reach)):
            row, heard = self.link_dbm[i], self.heard_by[i]
            for j in sorted(js):
                rx_dbm = self._rx_from_distance(i, j)
                if rx_dbm >= DETECT_DBM:
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
        if rx_dbm >= DETECT_DBM:
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
            self._set_link(i, j, self._rx_from_distance(i, j) if near else DETECT_DBM - 1)
            self._set_link(j, i, self._rx_from_distance(j, i) if near else DETECT_DBM - 1)

    def usable(self, i, j, payload_len=100, max_per=0.5):
        """True if i -> j delivers a `payload_len` frame with PER below max_per in silence."""
        rx = self.link_dbm[i].get(j)
        if rx is None:
            return False
        return packet_error_rate(rx - NOISE_DBM, frame_bits(payload_len)) < max_per

    def links(self):
        """Each undirected usable link once: (i, j, rssi_ij, rssi_ji)."""
        out = []
        for i, row in enumerate(self.link_dbm):
            for j in sorted(row):
                if i < j and self.usable(i, j) and self.usable(j, i):
                    out.append((i, j, row[j], self.link_dbm[j][i]))
        return out
