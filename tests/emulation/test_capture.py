"""Frame captures: the file format, decoding with the key, and bad files."""
import json

import pytest

from nowmesh.bundle import core

core.load()     # explicit: this runs the firmware's mesh core (`mesh`) on CPython
from mesh.node import Node  # noqa: E402

from nowmesh.emulation.capture import FrameCapture, decoder, read_capture
from nowmesh.cli import main
from nowmesh.errors import InputError

KEY = bytes(range(16))


def _node(i):
    return Node({"id": bytes((2, 0, 0, 0, 0, i)), "name": "n%d" % i, "key": KEY}, 1, bytes((i,)), 0)


def _capture(path):
    a = _node(1)
    cap = FrameCapture(str(path))
    frames = a.publish([("temp", 21.5, "C")], 1000)
    for dst, frame in frames:
        cap.write(1_000_000, 1, a.id, None if dst == b"\xff" * 6 else dst, frame)
    cap.write(2_000_000, 1, a.id, None, frames[0][1][:-1] + b"\x00")     # a forged tag
    cap.close()
    return len(frames) + 1


def test_round_trip_and_decode(tmp_path):
    path = tmp_path / "a.cap"
    count = _capture(path)
    records = read_capture(str(path))
    assert len(records) == count
    decoded = [decoder(KEY)(r) for r in records]
    good, forged = decoded[:-1], decoded[-1]
    assert all(d["sender"] == "02:00:00:00:00:01" for d in good)
    assert "readings" in {d["type"] for d in good}
    assert forged["error"] == "tag"


def test_wrong_key_rejects_everything(tmp_path, capsys):
    path = tmp_path / "a.cap"
    _capture(path)
    assert main(["decode", str(path), "--json", "--key", "ff" * 16]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert lines and all(x["error"] == "tag" for x in lines)


@pytest.mark.parametrize("content, needle", [
    (b"not a capture", "not a nowmesh capture"),
    (b"NMCAP1\n\0" + b"\x01\x02", "truncated record header"),
    (b"NMCAP1\n\0" + bytes(21) + b"\xff\x00", "truncated frame"),
])
def test_bad_capture_files(tmp_path, content, needle, capsys):
    path = tmp_path / "bad.cap"
    path.write_bytes(content)
    with pytest.raises(InputError, match=needle):
        read_capture(str(path))
    assert main(["decode", str(path)]) == 2
    assert str(path) in capsys.readouterr().err


def test_bad_key_argument_is_usage_error():
    with pytest.raises(SystemExit) as exc:
        main(["decode", "x.cap", "--key", "abc"])
    assert exc.value.code == 2
