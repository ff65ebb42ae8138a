# The console protocol on the USB serial port (docs/console-protocol.md).
# Lines that start with "@nm1 " carry one JSON object; everything else is
# ordinary print output and stays readable. Host -> node commands use the same
# prefix, so a REPL user typing Python is never mistaken for a command.
# Ctrl-C still raises KeyboardInterrupt and stops main.py: the REPL, mpremote,
# ampy and Thonny keep working.
import json
import select
import sys

PROTO = 1     # the host's is nowmesh.console.protocol.PROTO; tests/console/golden_lines.json holds both to it
PREFIX = "@nm%d " % PROTO
_MAX_LINE = 512


class Console:
    def __init__(self, stream_in=None, stream_out=None, poller=None):
        self._in = stream_in or sys.stdin
        self._out = stream_out or sys.stdout
        # poller.poll(0) is truthy when a character is waiting (tests pass a fake).
        if poller is None:
            poller = select.poll()
            poller.register(self._in, select.POLLIN)
        self._poll = poller
        # The line being typed, kept in place: a str grown one character at
        # a time is a new, longer string per character (a 485-character
        # ota_put line allocated 142 KB of strings of up to 485 bytes; in
        # this buffer, 2 KB: docs/ota.md, "The console's line reader").
        self._line = bytearray(_MAX_LINE)
        self._len = 0

    def send(self, obj):
        # Three writes, no concatenation: PREFIX + text + "\n" needed two more
        # copies of the line in one piece each. When even the text alone finds
        # no block that size (a fragmented heap: a node with 60 KB free failed
        # a 1 KB reply), json.dump streams it in small pieces instead, slower
        # (one write per token) but with nothing large to allocate.
        try:
            text = json.dumps(obj)
        except MemoryError:
            text = None
        out = self._out
        out.write(PREFIX)
        try:
            if text is None:
                json.dump(obj, out)
            else:
                out.write(text)
        finally:
            out.write("\n")          # a line cut short still ends: the next one stays whole

    def event(self, _ev, **fields):
        # `_ev`, not `kind` or `name`: those are event fields (sensor, reading)
        fields["ev"] = _ev
        self.send(fields)

    def commands(self):
        """Complete command objects typed so far (never blocks)."""
        found = []
        while self._poll.poll(0):
            ch = self._in.read(1)
            if not ch:
                break
            if ch in "\r\n":
                line = str(memoryview(self._line)[:self._len], "utf-8")
                self._len = 0
                cmd = self._parse(line)
                if cmd is not None:
                    found.append(cmd)
            elif not self._add(ch):
                self._len = 0
                self.event("console_error", error="line too long")
        return found

    def _add(self, ch):
        """Append one typed character (UTF-8) -> False if the line is full."""
        code = ord(ch)
        at = self._len
        if code < 128:
            if at >= _MAX_LINE:
                return False
            self._line[at] = code
            self._len = at + 1
            return True
        data = ch.encode()
        if at + len(data) > _MAX_LINE:
            return False
        self._line[at:at + len(data)] = data
        self._len = at + len(data)
        return True

    def _parse(self, line):
        line = line.strip()
        if not line:
            return None
        if not line.startswith(PREFIX.strip()):
            self.event("console_error", error="not a command line (expected %r)" % PREFIX)
            return None
        try:
            cmd = json.loads(line[len(PREFIX):])
        except ValueError:
            cmd = None
        if not isinstance(cmd, dict) or not isinstance(cmd.get("cmd"), str):
            self.event("console_error", error="bad command object")
            return None
        return cmd
