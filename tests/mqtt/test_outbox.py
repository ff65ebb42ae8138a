"""The bridge's on-disk outbox: order, bound, survival across reopen, refusal of other files."""
import sqlite3

import pytest

from nowmesh.errors import InputError
from nowmesh.mqtt.outbox import Outbox


def test_rows_come_back_in_order_and_survive_a_reopen(tmp_path):
    path = str(tmp_path / "q.sqlite")
    box = Outbox(path)
    for i in range(5):
        box.put("t/%d" % i, "p%d" % i, i % 2 == 0)
    rows = box.waiting()
    assert [r[1] for r in rows] == ["t/0", "t/1", "t/2", "t/3", "t/4"]
    box.done(rows[0][0])
    box.close()
    again = Outbox(path)
    rows = again.waiting()
    assert [(r[1], r[2], r[3]) for r in rows][:2] == [("t/1", b"p1", False), ("t/2", b"p2", True)]
    assert [r[1] for r in again.waiting(after_id=rows[1][0], limit=2)] == ["t/3", "t/4"]


def test_bounded_dropping_the_oldest(tmp_path):
    box = Outbox(str(tmp_path / "q.sqlite"), max_rows=10)
    dropped = sum(box.put("t", str(i), True) for i in range(25))
    assert dropped == 15 and box.dropped == 15 and box.count() == 10
    assert [r[2] for r in box.waiting(limit=100)] == [str(i).encode() for i in range(15, 25)]


def test_a_foreign_file_is_refused_not_overwritten(tmp_path):
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(InputError, match="not a nowmesh bridge queue"):
        Outbox(str(garbage))
    assert garbage.read_bytes().startswith(b"this is not sqlite")
    other = tmp_path / "other.sqlite"
    db = sqlite3.connect(str(other))
    db.execute("CREATE TABLE t (x)")
    db.commit()
    db.close()
    with pytest.raises(InputError, match="not a nowmesh bridge queue"):
        Outbox(str(other))


def test_the_count_follows_puts_dones_and_trims(tmp_path):
    path = str(tmp_path / "q.sqlite")
    box = Outbox(path, max_rows=5)
    for i in range(7):
        box.put("t", str(i), False)
    first = box.waiting(limit=1)[0][0]
    box.done(first)
    box.done(first)                      # twice: counted once
    assert box.count() == 4
    box.close()
    assert Outbox(path).count() == 4
