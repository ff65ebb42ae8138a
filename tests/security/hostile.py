"""Shared pieces of the adversarial suite: the lines a hostile serial line
(or a remote node's reply passed through) sends."""
from nowmesh.console.protocol import PREFIX

NODE = "24:0a:c4:12:34:56"

# The inputs of the review (issue 11, finding 6), each of which raised out of
# parse_line, the monitor model or a consumer on the main of that day.
DEEP = PREFIX + "[" * 100000 + "]" * 100000
LONG_TAG = "@nm" + "7" * 4400 + ' {"ev": "hello"}'
REPLY_LIST_RE = PREFIX + '{"re": []}'
REPLY_LIST_RE_1 = PREFIX + '{"re": [1]}'
NAN_STATS = PREFIX + '{"ev": "stats", "uptime_s": NaN}'
SURROGATE = PREFIX + '{"ev": "reading", "id": "%s", "name": "\\ud800", "values": []}' % NODE
HUGE_SEQ = PREFIX + '{"ev": "reading", "id": "%s", "seq": %s, "values": []}' % (NODE, "9" * 40)
WRONG_TYPES = [
    PREFIX + '{"ev": "reading", "id": [1], "values": [["t", 1, "C"]]}',
    PREFIX + '{"ev": "reading", "id": "%s", "seq": "7", "values": [["t", 1, "C"]]}' % NODE,
    PREFIX + '{"ev": "reading", "id": "%s", "name": 5, "values": [["t", 1, "C"]]}' % NODE,
    PREFIX + '{"ev": "reading", "id": "%s", "values": [["uptime", Infinity, "s"]]}' % NODE,
    PREFIX + '{"ev": "hello", "id": {"a": 1}, "name": "x", "proto": 1}',
    PREFIX + '{"ev": "neighbour", "id": "%s", "state": ["up"]}' % NODE,
    PREFIX + '{"ev": "stats", "uptime_s": "long", "heap_free": []}',
    PREFIX + '{"ev": 7}',
]
HOSTILE_LINES = [DEEP, LONG_TAG, REPLY_LIST_RE, REPLY_LIST_RE_1, NAN_STATS, SURROGATE, HUGE_SEQ] + WRONG_TYPES


