# The firmware's console encoder against the golden lines the host's tests
# read too (tests/console/golden_lines.json): every event and reply is written
# exactly as the file says, and every host command line is read as its
# command. Runs under micropython (make test-upy).
import json

from meshport import console as console_mod

import portfakes

_GOLDEN = __file__.rsplit("/", 1)[0] + "/../console/golden_lines.json"


def _golden():
    with open(_GOLDEN) as f:
        return json.load(f)


def _console():
    inp, out = portfakes.ScriptedInput(), portfakes.Output()
    return console_mod.Console(inp, out, portfakes.Poller(inp)), inp, out


def _written(out):
    return "".join(line + "\n" for line in out.lines) + out._partial


def test_the_firmware_speaks_the_golden_protocol_version():
    golden = _golden()
    assert console_mod.PROTO == golden["proto"]
    assert console_mod.PREFIX == "@nm%d " % golden["proto"]


def test_events_are_written_exactly_as_the_golden_lines():
    for case in _golden()["node_to_host_events"]:
        console, _inp, out = _console()
        console.event(case["event"], **case["fields"])
        assert _written(out) == case["line"], (_written(out), case["line"])


def test_replies_are_written_exactly_as_the_golden_lines():
    for case in _golden()["node_to_host_replies"]:
        console, _inp, out = _console()
        console.send(case["reply"])
        assert _written(out) == case["line"], (_written(out), case["line"])


def test_host_command_lines_are_read_as_their_commands():
    for case in _golden()["host_to_node"]:
        console, inp, out = _console()
        inp.type(case["line"])
        cmd_id, name, args, node = case["command"]
        want = {"id": cmd_id, "cmd": name}
        if args is not None:
            want["args"] = args
        if node is not None:
            want["node"] = node
        assert console.commands() == [want], case["line"]
        assert out.lines == []                  # no console_error
