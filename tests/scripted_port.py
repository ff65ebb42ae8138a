"""A serial port scripted by the test: the 'board' answers each console
command line written to it with the lines `answer(command dict)` returns.
Shared by the query, monitor and adversarial suites so there is one fake
board at the serial seam."""
import json

from nowmesh.console.protocol import PREFIX


def line(obj):
    """One console line carrying `obj`."""
    return PREFIX + json.dumps(obj)


def reply(cmd, **fields):
    """The board's answer to `cmd`, carrying its request id."""
    return line(dict(fields, re=cmd["id"]))


class ScriptedPort:
    """Answers console commands; other written bytes (Ctrl-C, REPL input) are ignored."""

    def __init__(self, answer, first=()):
        self.answer = answer
        self.out = b"".join(item.encode() + b"\n" for item in first)
        self.closed = False
        self.is_open = True

    def write(self, data):
        for text in data.decode().splitlines():
            if text.startswith(PREFIX):
                cmd = json.loads(text[len(PREFIX):])
                self.out += "".join(a + "\n" for a in self.answer(cmd)).encode()
        return len(data)

    def flush(self):
        pass

    @property
    def in_waiting(self):
        return len(self.out)

    def read(self, n=1):
        data, self.out = self.out[:n], self.out[n:]
        return data

    def reset_input_buffer(self):
        self.out = b""

    def close(self):
        self.closed = True
