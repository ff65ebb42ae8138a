"""The console answers even when the heap has no block the size of a line:
json.dumps failing with MemoryError falls back to json.dump's small pieces,
and the line is still one whole, parseable line. Runs under micropython too."""
import json

from meshport import console as console_mod

import portfakes


class _TightJson:
    """json whose dumps finds no block for the whole text (dump streams)."""
    @staticmethod
    def dumps(obj):
        raise MemoryError("no 1 KB block")

    @staticmethod
    def dump(obj, stream):
        json.dump(obj, stream)


class _CutJson(_TightJson):
    """...and whose dump runs out of memory halfway through the line."""
    @staticmethod
    def dump(obj, stream):
        stream.write('{"re": 7, "da')
        raise MemoryError("halfway")


def _console_with(fake_json):
    out = portfakes.Output()
    inp = portfakes.ScriptedInput()
    con = console_mod.Console(inp, out, portfakes.Poller(inp))
    console_mod.json = fake_json
    return con, out


def _body(line):
    assert line.startswith(console_mod.PREFIX)
    return json.loads(line[len(console_mod.PREFIX):])


def test_a_line_too_big_for_the_heap_is_streamed_whole():
    con, out = _console_with(_TightJson)
    rows = [{"id": "02:4e:4d:00:00:%02x" % i, "values": [["temp", 20.5, "C"]]} for i in range(20)]
    try:
        con.send({"re": 7, "ok": True, "data": rows})
        con.event("stats", rx=1)
    finally:
        console_mod.json = json
    assert len(out.lines) == 2
    assert _body(out.lines[0]) == {"re": 7, "ok": True, "data": rows}
    assert _body(out.lines[1]) == {"rx": 1, "ev": "stats"}


def test_a_line_cut_short_by_the_heap_still_ends():
    con, out = _console_with(_CutJson)
    try:
        try:
            con.send({"re": 7})
            raise AssertionError("the MemoryError was swallowed")
        except MemoryError:
            pass
    finally:
        console_mod.json = json
    con.event("stats", rx=1)
    assert len(out.lines) == 2              # the torn line ended with its newline
    assert _body(out.lines[1]) == {"rx": 1, "ev": "stats"}
