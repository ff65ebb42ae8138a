"""What the bridge asks the board again when the mesh lost a request or its
answer (a mesh request is one try):

- a remote node's hello (its board and firmware): asked again with its next
  reading, never given up on (the device would stay named by its MAC in Home
  Assistant);
- a target's status before a signed set or reboot (its boot and admin
  counter make the operator's token): asked once more, then the command is
  answered with the error; an error of the node's own is not asked again."""
import json
import queue

from nowmesh.mqtt import schema
from nowmesh.mqtt.bridge import Bridge
from nowmesh.mqtt.options import parse_broker_url
from nowmesh.mqtt.outbox import Outbox

LOCAL, REMOTE = "02:4e:4d:00:00:01", "02:4e:4d:00:00:02"


class RecordingLink:
    """The board as records; what the bridge asks of it is kept."""
    url = "scripted"

    def __init__(self):
        self.records = queue.Queue()
        self.asked = []

    def request(self, cmd, args=None, node=None):
        self.asked.append((cmd, node))

    def remember_remote(self, ids):
        pass


def _reading(seq):
    return {"ev": "reading", "t": 1.0 + seq, "id": REMOTE, "name": None, "seq": seq,
            "values": [["temp", 21.5, "C"]]}


def _feed(bridge, link, *records):
    for record in records:
        link.records.put(record)
    bridge.session.drain()


def test_a_lost_hello_is_asked_again_with_the_next_reading_and_not_after_an_answer(tmp_path):
    link = RecordingLink()
    bridge = Bridge(link, parse_broker_url("mqtt://127.0.0.1:1"), Outbox(str(tmp_path / "out.sqlite")))
    hello = {"ev": "hello", "t": 0.5, "id": LOCAL, "name": "n1", "proto": 1, "fw": "0.1.0", "board": "x"}
    _feed(bridge, link, hello, _reading(1))
    assert link.asked == [("hello", REMOTE)]
    _feed(bridge, link, _reading(2))
    assert link.asked == [("hello", REMOTE)]            # asked once while the answer may come
    _feed(bridge, link, {"ev": "reply", "t": 3.5, "cmd": "hello", "node": REMOTE, "ok": False,
                         "error": "timeout"})
    _feed(bridge, link, _reading(3))
    assert link.asked == [("hello", REMOTE)] * 2         # lost: asked again
    answer = {"ev": "reply", "t": 4.5, "cmd": "hello", "node": REMOTE, "ok": True,
              "data": {"id": REMOTE, "name": "n2", "fw": "0.1.0", "board": "esp32-devkitc", "proto": 1}}
    _feed(bridge, link, answer, _reading(4), _reading(5))
    assert link.asked == [("hello", REMOTE)] * 2         # answered: never asked again
    assert bridge._info[REMOTE] == {"board": "esp32-devkitc", "fw": "0.1.0"}
    bridge.outbox.close()


def _bridge(tmp_path):
    link = RecordingLink()
    bridge = Bridge(link, parse_broker_url("mqtt://127.0.0.1:1"), Outbox(str(tmp_path / "out.sqlite")),
                    allow_commands=True, operator_key_file=str(tmp_path / "no-key.json"))
    published = []
    bridge._publish = lambda message, qos=1: published.append(message)
    for rec in ({"ev": "hello", "t": 0.5, "id": LOCAL, "name": "n1", "proto": 1, "fw": "0.1.0", "board": "x"},
                {"ev": "reading", "t": 1.0, "id": REMOTE, "name": "n2", "seq": 1, "values": [["temp", 21.5, "C"]]}):
        link.records.put(rec)
    bridge.session.drain()
    return bridge, link, published


def _status_reply(**fields):
    return dict({"ev": "reply", "t": 2.0, "cmd": "status", "node": REMOTE}, **fields)


def _responses(bridge, published):
    topic = "%s/%s/response" % (bridge.base, schema.node_key(REMOTE))
    return [json.loads(payload) for t, payload, _retain in published if t == topic]


def test_a_lost_status_is_asked_once_more_then_the_command_fails_with_the_reason(tmp_path):
    bridge, link, published = _bridge(tmp_path)
    bridge._command("%s/%s/set" % (bridge.base, schema.node_key(REMOTE)), b'{"stats_s": 20}')
    assert [a for a in link.asked if a[0] == "status"] == [("status", REMOTE)]
    _feed(bridge, link, _status_reply(ok=False, error="timeout"))
    assert [a for a in link.asked if a[0] == "status"] == [("status", REMOTE)] * 2
    assert _responses(bridge, published) == []                  # not answered while asked again
    _feed(bridge, link, _status_reply(ok=False, error="timeout"))
    assert [a for a in link.asked if a[0] == "status"] == [("status", REMOTE)] * 2
    [answer] = _responses(bridge, published)
    assert answer["ok"] is False and "timeout" in answer["error"] and answer["cmd"] == "set"
    bridge.outbox.close()


def test_a_status_refused_by_the_node_is_not_asked_again(tmp_path):
    bridge, link, published = _bridge(tmp_path)
    bridge._command("%s/%s/reboot" % (bridge.base, schema.node_key(REMOTE)), b"")
    _feed(bridge, link, _status_reply(ok=False, error="busy"))
    assert [a for a in link.asked if a[0] == "status"] == [("status", REMOTE)]
    [answer] = _responses(bridge, published)
    assert answer["ok"] is False and "busy" in answer["error"]
    bridge.outbox.close()
