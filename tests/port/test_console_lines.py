# The console's line reader (meshport/console.py) keeps the line being typed
# in one buffer allocated once: a full 512-byte line (an ota_put piece) and
# non-ASCII text come out whole, a longer line is refused with one
# console_error and the next line is read normally. Runs under micropython
# (make test-upy) and pytest.
import json

from meshport import console as console_mod

import portfakes


def _console():
    inp, out = portfakes.ScriptedInput(), portfakes.Output()
    return console_mod.Console(inp, out, portfakes.Poller(inp)), inp, out


def _command_line(length, text="x"):
    """A command line of exactly `length` bytes (UTF-8), prefix included."""
    head = console_mod.PREFIX + '{"cmd": "ota_put", "id": 1, "data": "'
    tail = '"}'
    fill = length - len(head.encode()) - len(tail.encode()) - len(text.encode())
    return head + "a" * fill + text + tail


def test_a_full_length_line_with_utf8_text_is_read_whole():
    con, inp, out = _console()
    line = _command_line(console_mod._MAX_LINE, "h\u00e9\u20ac")
    assert len(line.encode()) == console_mod._MAX_LINE
    inp.type(line + "\n")
    cmds = con.commands()
    assert len(cmds) == 1 and cmds[0]["cmd"] == "ota_put"
    assert cmds[0]["data"].endswith("h\u00e9\u20ac") and out.lines == []


def test_a_line_over_the_limit_is_one_error_and_the_next_line_is_read():
    con, inp, out = _console()
    inp.type(_command_line(console_mod._MAX_LINE + 1) + "\n")
    inp.type(console_mod.PREFIX + '{"cmd": "hello", "id": 2}\n')
    cmds = con.commands()
    errors = [json.loads(l[len(console_mod.PREFIX):]) for l in out.lines]
    assert errors and errors[0] == {"ev": "console_error", "error": "line too long"}
    assert cmds[-1] == {"cmd": "hello", "id": 2}


def test_a_multibyte_character_that_would_pass_the_limit_is_not_split():
    con, inp, out = _console()
    head = console_mod.PREFIX + "a" * (console_mod._MAX_LINE - 1 - len(console_mod.PREFIX))
    inp.type(head + "\u00e9\n")          # one byte of room left, and a 2-byte character
    con.commands()
    assert [json.loads(l[len(console_mod.PREFIX):])["error"] for l in out.lines] == ["line too long"]


def test_lines_are_read_one_after_another_from_the_same_buffer():
    con, inp, out = _console()
    for i in range(5):
        inp.type(console_mod.PREFIX + '{"cmd": "hello", "id": %d}\r\n' % i)
    assert [c["id"] for c in con.commands()] == [0, 1, 2, 3, 4] and out.lines == []
