# Replay window rules (check never mutates; accept records).
from mesh.replay import ReplayTable

A = b"\x02\x00\x00\x00\x00\x01"
B = b"\x02\x00\x00\x00\x00\x02"


def test_first_frame_accepted_then_replay_rejected():
    t = ReplayTable()
    assert t.check(A, 1, 0)
    assert t.check(A, 1, 0)          # check alone changes nothing
    assert t.accept(A, 1, 0)
    assert not t.check(A, 1, 0)
    assert not t.accept(A, 1, 0)


def test_out_of_order_within_window():
    t = ReplayTable(window=64)
    t.accept(A, 1, 100)
    assert t.check(A, 1, 99) and t.check(A, 1, 37)
    assert not t.check(A, 1, 36)     # 100 - 36 = 64: outside the window
    t.accept(A, 1, 50)
    assert not t.check(A, 1, 50)
    assert t.check(A, 1, 51)
    t.accept(A, 1, 101)
    assert not t.check(A, 1, 100) and not t.check(A, 1, 50) and t.check(A, 1, 99)


def test_big_jump_clears_window():
    t = ReplayTable(window=8)
    for c in range(5):
        t.accept(A, 1, c)
    t.accept(A, 1, 1000)
    assert t.check(A, 1, 999) and not t.check(A, 1, 4) and not t.check(A, 1, 992)
    assert t.check(A, 1, 993)


def test_reboot_with_higher_boot_accepted_old_boot_rejected():
    t = ReplayTable()
    t.accept(A, 5, 900)
    assert t.check(A, 6, 0)          # rebooted: counter restarted, boot counter + 1
    assert not t.check(A, 4, 1000)   # older boot: replay
    t.accept(A, 6, 0)
    assert not t.check(A, 5, 901)    # anything from the previous boot is now a replay
    assert not t.check(A, 6, 0) and t.check(A, 6, 1)


def test_senders_are_independent():
    t = ReplayTable()
    t.accept(A, 1, 10)
    assert t.check(B, 1, 10)
    t.accept(B, 1, 10)
    assert not t.check(A, 1, 10) and not t.check(B, 1, 10)


def test_bounded_evicts_least_recently_updated():
    t = ReplayTable(max_senders=2)
    c = b"\x02\x00\x00\x00\x00\x03"
    t.accept(A, 1, 1)
    t.accept(B, 1, 1)
    t.accept(A, 1, 2)                # A now more recent than B
    t.accept(c, 1, 1)                # evicts B
    assert len(t) == 2
    assert not t.check(A, 1, 2) and not t.check(c, 1, 1)
    # The documented caveat: an evicted sender's old frame is accepted again.
    assert t.check(B, 1, 1)


def test_rejected_accept_changes_nothing():
    t = ReplayTable()
    t.accept(A, 3, 10)
    before = t.snapshot()
    t.accept(A, 2, 50)
    t.accept(A, 3, 10)
    assert t.snapshot() == before


def test_accepting_an_older_counter_keeps_the_newer_ones_marked():
    t = ReplayTable(window=64)
    for ctr in (10, 9, 12, 11):                  # out of order, within one bitmap byte
        assert t.accept(A, 1, ctr)
    for ctr in (9, 10, 11, 12):
        assert not t.check(A, 1, ctr), ctr       # every one of them is still a replay


def test_unicast_stream_counters_above_bit_31_have_a_working_window():
    t = ReplayTable(window=64)
    base = 0x80000000
    assert t.accept(A, 1, base + 5)
    assert t.accept(A, 1, base + 3)              # late, but inside the window
    assert not t.check(A, 1, base + 5) and not t.check(A, 1, base + 3)
    assert t.check(A, 1, base + 4) and t.check(A, 1, base + 6)


def test_a_table_needs_room_for_one_sender_and_one_counter():
    for bad in ((0, 64), (32, 0)):
        try:
            ReplayTable(*bad)
            assert False, bad
        except ValueError as e:
            assert str(e) == "max_senders and window must be >= 1"
    t = ReplayTable(1, 1)
    assert t.accept(A, 1, 1) and not t.check(A, 1, 1) and not t.check(A, 1, 0) and t.check(A, 1, 2)
