"""Radio model sanity: the numbers docs/simulator.md gives ("Radio model"), and the medium's physics."""
import random

import pytest

from nowmesh.radio import model as radio
from nowmesh.radio.events import EventQueue
from nowmesh.radio.medium import Medium


class Links:
    """A minimal explicit-link topology for the radio model."""

    def __init__(self, n, links):
        self.names = ["n%d" % (i + 1) for i in range(n)]
        self.positions = None
        self.links = links
        self.channels = [1] * n


class Host:
    def __init__(self):
        self.delivered = []
        self.done = []
        self.sent = []
        self.blocked = set()

    def listeners(self, i):
        return [(j, mw) for j, _dbm, mw in self.model.heard_by[i] if (i, j) not in self.blocked]

    def on_transmit(self, i, tx, airtime_us):
        self.sent.append((i, tx.kind, airtime_us, tx.attempt))

    def deliver(self, j, frame, sender, rssi):
        self.delivered.append((j, frame, sender, rssi))

    def send_done(self, i, dst, ok):
        self.done.append((i, dst, ok))


def make_medium(n, links, seed=1, loss=0.0):
    q = EventQueue()
    host = Host()
    model = radio.RadioModel(Links(n, links), seed, shadowing_db=0.0)
    host.model = model
    return q, host, Medium(q, model, random.Random(seed), host, extra_loss=loss)


def test_airtime_of_full_frame_is_2_54_ms():
    assert radio.airtime_us(250) == 2536
    assert radio.airtime_us(0) == 192 + 8 * 43


def test_full_frame_sensitivity_near_minus_97_dbm():
    bits = radio.frame_bits(250)
    per_at = lambda dbm: radio.packet_error_rate(dbm - radio.NOISE_DBM, bits)  # noqa: E731
    assert 0.01 < per_at(-97.0) < 0.15
    assert per_at(-95.0) < 0.001
    assert per_at(-99.0) > 0.8
    assert per_at(-101.0) > 0.999


def test_per_falls_with_sinr_and_rises_with_length():
    assert radio.packet_error_rate(-2.0, 800) < radio.packet_error_rate(-4.0, 800)
    assert radio.packet_error_rate(-3.0, 400) < radio.packet_error_rate(-3.0, 2400)


def test_path_loss_and_rssi_clip():
    assert radio.path_loss_db(1.0, 3.0) == pytest.approx(40.2)
    assert radio.path_loss_db(100.0, 3.0) == pytest.approx(100.2)
    assert radio.clip_rssi(-140.2) == -127
    assert radio.clip_rssi(3.0) == 0


def test_shadowing_is_per_ordered_link_and_seeded():
    class Line:
        names = ["a", "b"]
        positions = [(0.0, 0.0), (150.0, 0.0)]
        links = None
        channels = [1, 1]
    one = radio.RadioModel(Line(), seed=5, shadowing_db=6.0)
    two = radio.RadioModel(Line(), seed=5, shadowing_db=6.0)
    other = radio.RadioModel(Line(), seed=6, shadowing_db=6.0)
    assert one.rx_dbm(0, 1) == two.rx_dbm(0, 1)
    assert one.rx_dbm(0, 1) != one.rx_dbm(1, 0)          # asymmetric
    assert one.rx_dbm(0, 1) != other.rx_dbm(0, 1)


def test_undetectable_links_are_dropped():
    model = radio.RadioModel(Links(2, {(0, 1): -60.0, (1, 0): -105.0}), 1)
    assert model.rx_dbm(0, 1) == -60.0
    assert model.rx_dbm(1, 0) is None


def test_broadcast_reaches_strong_neighbours_only_once():
    q, host, medium = make_medium(3, {(0, 1): -60.0, (1, 0): -60.0, (0, 2): -99.5})
    medium.enqueue(0, None, b"x" * 100)
    q.run_until(50_000)
    receivers = [d[0] for d in host.delivered]
    assert receivers.count(1) == 1
    assert 2 not in receivers                 # far below sensitivity for 143 bytes on air
    assert host.done == []                    # broadcasts are never acknowledged


def test_unicast_is_acknowledged():
    q, host, medium = make_medium(2, {(0, 1): -60.0, (1, 0): -60.0})
    medium.enqueue(0, 1, b"u" * 50)
    q.run_until(50_000)
    assert host.done == [(0, 1, True)]
    assert [s[1] for s in host.sent] == [0, 1]     # data frame, then the ACK


def test_unicast_to_deaf_peer_retries_then_fails():
    q, host, medium = make_medium(2, {(0, 1): -60.0, (1, 0): -60.0})
    host.blocked.add((0, 1))
    medium.enqueue(0, 1, b"u" * 50)
    q.run_until(500_000)
    assert host.done == [(0, 1, False)]
    attempts = [s[3] for s in host.sent if s[1] == 0]
    assert attempts == list(range(medium.mac.retry_limit + 1))


def test_hidden_terminals_collide_at_the_middle():
    # 0 and 2 cannot hear each other (no carrier sense); at 1 the later, 6 dB
    # stronger frame drowns the one 1 had locked onto (SINR -6 dB), and 1 cannot
    # switch to the newcomer mid-frame.
    links = {(0, 1): -70.0, (2, 1): -64.0, (1, 0): -70.0, (1, 2): -64.0}
    q, host, medium = make_medium(3, links)
    medium.enqueue(0, None, b"a" * 200)
    q.run_until(500)                              # 0 is on air, 2 cannot sense it
    medium.enqueue(2, None, b"b" * 200)
    q.run_until(100_000)
    assert host.delivered == []
    assert medium.counters["phy_errors"] == 1


def test_equal_power_overlap_survives_thanks_to_spreading_gain():
    # DSSS at 1 Mbps decodes at 0 dB SINR: the model's BER 0.5 exp(-22 SINR).
    links = {(0, 1): -70.0, (2, 1): -70.0, (1, 0): -70.0, (1, 2): -70.0}
    q, host, medium = make_medium(3, links)
    medium.enqueue(0, None, b"a" * 200)
    q.run_until(500)
    medium.enqueue(2, None, b"b" * 200)
    q.run_until(100_000)
    assert [(d[0], d[1][:1]) for d in host.delivered] == [(1, b"a")]


def test_carrier_sense_avoids_collision_between_neighbours():
    links = {(0, 1): -60.0, (1, 0): -60.0, (0, 2): -60.0, (2, 0): -60.0, (1, 2): -60.0, (2, 1): -60.0}
    q, host, medium = make_medium(3, links, seed=3)
    medium.enqueue(0, None, b"a" * 200)
    q.run_until(100)                              # 0 is on air before 1 decides
    medium.enqueue(1, None, b"b" * 200)
    q.run_until(100_000)
    assert sorted((d[0], d[1][:1]) for d in host.delivered) == [(0, b"b"), (1, b"a"), (2, b"a"), (2, b"b")]


def test_extra_loss_drops_that_fraction():
    q, host, medium = make_medium(2, {(0, 1): -50.0, (1, 0): -50.0}, seed=9, loss=0.3)
    for _ in range(2000):
        medium.enqueue(0, None, b"z" * 20)
    q.run_until(10_000_000)
    got = len(host.delivered) / 2000.0
    assert 0.65 < got < 0.75
