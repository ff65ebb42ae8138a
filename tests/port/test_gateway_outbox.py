# The gateway's flash outbox (meshport.gateway_outbox): order, bounds, restarts,
# torn lines. Runs under micropython (make test-upy) and CPython.
import os

from meshport.gateway_outbox import Outbox

_PATH = "/tmp/nowmesh-test-gateway-outbox.jsonl"


def _fresh(max_items=5):
    for path in (_PATH, _PATH + ".tmp"):
        try:
            os.remove(path)
        except OSError:
            pass
    return Outbox(_PATH, max_items)


def _drain(box):
    out = []
    while box.peek() is not None:
        out.append(box.peek())
        box.done()
    return out


def test_messages_leave_in_the_order_they_came():
    box = _fresh()
    box.put("a/state", '{"seq": 1}', True)
    box.put("a/state", '{"seq": 2}', True)
    box.put("b/avail", "online")
    assert _drain(box) == [("a/state", '{"seq": 1}', True), ("a/state", '{"seq": 2}', True),
                           ("b/avail", "online", False)]
    assert len(box) == 0


def test_a_reboot_loses_nothing_put_and_repeats_nothing_once_drained():
    box = _fresh()
    for seq in range(4):
        box.put("t", str(seq))
    box.done()                  # not compacted yet: sent again after a reboot (at least once)
    again = Outbox(_PATH, 5)
    assert [p for _t, p, _r in _drain(again)] == ["0", "1", "2", "3"]
    assert len(Outbox(_PATH, 5)) == 0


def test_done_messages_are_compacted_away_in_batches():
    from meshport.gateway_outbox import COMPACT_EVERY
    box = _fresh(max_items=COMPACT_EVERY * 2)
    for seq in range(COMPACT_EVERY + 2):
        box.put("t", str(seq))
    for _ in range(COMPACT_EVERY):
        box.done()
    assert [p for _t, p, _r in _drain(Outbox(_PATH, COMPACT_EVERY * 2))] == \
        [str(COMPACT_EVERY), str(COMPACT_EVERY + 1)]


def test_flooding_keeps_the_newest_and_counts_the_dropped():
    box = _fresh(max_items=5)
    for seq in range(50):
        box.put("t", str(seq))
    assert len(box) == 5 and box.dropped == 45
    assert [p for _t, p, _r in _drain(Outbox(_PATH, 5))] == ["45", "46", "47", "48", "49"]


def test_a_torn_or_hostile_line_is_skipped_and_counted():
    box = _fresh()
    box.put("t", "1")
    with open(_PATH, "a") as f:
        f.write('["t", "2", fal')          # power lost mid-line
        f.write('\n[1, 2, 3]\n"x"\n')
    with open(_PATH, "a") as f:
        f.write('["t", "3", false]\n')
    again = Outbox(_PATH, 5)
    assert again.corrupt == 3
    assert [p for _t, p, _r in _drain(again)] == ["1", "3"]


def test_the_file_stays_bounded_while_the_broker_is_away():
    from meshport.gateway_outbox import COMPACT_EVERY
    box = _fresh(max_items=5)
    for seq in range(200):
        box.put("t", str(seq))
    with open(_PATH) as f:
        lines = f.read().count("\n")
    assert lines <= 5 + COMPACT_EVERY
    assert [p for _t, p, _r in _drain(box)] == ["195", "196", "197", "198", "199"]


def test_a_message_put_after_a_torn_line_survives():
    box = _fresh()
    box.put("t", "1")
    with open(_PATH, "a") as f:
        f.write('["t", "2", fal')          # power lost mid-line, no newline
    again = Outbox(_PATH, 5)
    again.put("t", "3")
    assert [p for _t, p, _r in _drain(Outbox(_PATH, 5))] == ["1", "3"]
