"""`nowmesh ota --json` says every outcome as one JSON object on stdout,
the hand-over failing included (a board out of memory refused `ota_put`:
found live at the default 256K emulated heap, docs/ota.md). The console
session is the seam faked here; the command's own code runs."""
import contextlib
import json

from nowmesh.cli import main
from nowmesh.commands import ota as ota_cmd
from nowmesh.console import ConsoleError
from nowmesh.ota import push


class _Session:
    local_name = "n1"


def _patched(monkeypatch, offer):
    @contextlib.contextmanager
    def fake_open(args, tries=3):
        yield _Session()
    monkeypatch.setattr(ota_cmd, "_open", fake_open)
    monkeypatch.setattr(ota_cmd, "_targets", lambda session, picked: {})
    monkeypatch.setattr(ota_cmd, "_known_now", lambda session: {})
    monkeypatch.setattr(ota_cmd, "_signed_bundle",
                        lambda session, args: (7, b"signed", b"image", "00" * 8, "key"))
    monkeypatch.setattr(push, "offer", offer)
    followed = []
    monkeypatch.setattr(push, "follow", lambda *a, **k: followed.append(a) or [])
    return followed


def test_a_refused_hand_over_is_one_json_object_and_a_non_zero_exit(monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise ConsoleError("ota_put on n1: out of memory on the node")
    followed = _patched(monkeypatch, refuse)
    rc = main(["ota", "/dev/null", "--json"])
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert rc == 1 and out["ok"] is False and out["nodes"] == [] and followed == []
    assert "n1 did not take the bundle" in out["error"] and "out of memory" in out["error"]
    assert "out of memory" in captured.err


def test_a_taken_hand_over_is_followed_and_reported_ok(monkeypatch, capsys):
    followed = _patched(monkeypatch, lambda *args, **kwargs: None)
    rc = main(["ota", "/dev/null", "--json", "--now"])
    out = json.loads(capsys.readouterr().out)
    assert rc == 0 and out["ok"] is True and "error" not in out and len(followed) == 1
