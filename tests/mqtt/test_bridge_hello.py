"""The bridge learns a remote node's board and firmware from one hello through
the mesh; a hello lost in the mesh is asked again, never given up on (the
device would stay named by its MAC in Home Assistant)."""
import queue

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
