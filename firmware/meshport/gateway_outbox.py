# The gateway's outbox on flash: MQTT messages waiting for the broker, in
# order, bounded. Every message goes through here (one path, so order holds
# whether the broker is up or away): put() appends a line, the link publishes
# peek() and then done() drops it. A broker outage or a reboot loses nothing
# that was put; a message published when the connection dropped before
# done() is sent again (at least once: the state carries the reading's seq).
#
# Bounded: beyond `max_items` the oldest messages are dropped and counted, so
# an outage of days cannot fill the flash. The messages live on flash only:
# the heap holds the file offset of the oldest and a count, never the queue
# (200 states in RAM were 60+ KB, and failed the gateway's allocations on the
# emulated board). The file is compacted (the rest copied in small pieces to
# a new file, then renamed over it) every COMPACT_EVERY messages passed; a
# line that does not parse (a torn write at power loss) is skipped and
# counted, never fatal.
import json
import os

PATH = "gateway-outbox.jsonl"
MAX_ITEMS = 200         # ~200 x 300 B = 60 KB of flash at most
COMPACT_EVERY = 16
_COPY_CHUNK = 512


class Outbox:
    def __init__(self, path=PATH, max_items=MAX_ITEMS):
        self.path = path
        self.max_items = max_items
        self.dropped = 0        # oldest messages given up for room
        self.corrupt = 0        # lines that did not parse
        self._head = 0          # file offset of the oldest message
        self._count = 0         # messages from _head on
        self._passed = 0        # messages done or dropped since the last compaction
        self._peeked = None     # (item, offset after it)
        self._torn_tail = False
        self._load()

    def _load(self):
        try:
            with open(self.path, "rb") as f:
                line = b""
                for line in f:
                    if self._parse(line) is None:
                        self.corrupt += 1
                    else:
                        self._count += 1
                self._torn_tail = bool(line) and not line.endswith(b"\n")
        except OSError:
            pass
        while self._count > self.max_items:
            self._drop_oldest()

    @staticmethod
    def _parse(line):
        try:
            topic, payload, retain = json.loads(line)
        except (ValueError, TypeError):
            return None
        if not isinstance(topic, str) or not isinstance(payload, str):
            return None
        return topic, payload, bool(retain)

    def __len__(self):
        return self._count

    def put(self, topic, payload, retain=False):
        line = json.dumps([topic, payload, bool(retain)]) + "\n"
        with open(self.path, "a") as f:
            if self._torn_tail:     # a line cut by power loss: ours starts on a line of its own
                f.write("\n")
                self._torn_tail = False
            f.write(line)
        self._count += 1
        if self._count > self.max_items:
            self._drop_oldest()

    def peek(self):
        """The oldest message (topic, payload, retain), or None."""
        if self._count == 0:
            return None
        if self._peeked is None:
            self._peeked = self._read_at(self._head)
        return self._peeked[0] if self._peeked else None

    def _read_at(self, offset):
        # (the first valid message from offset on, the offset after it); the
        # corrupt lines on the way were counted at load
        with open(self.path, "rb") as f:
            f.seek(offset)
            while True:
                line = f.readline()
                if not line:
                    self._count = 0
                    return None
                offset += len(line)
                item = self._parse(line)
                if item is not None:
                    return item, offset

    def done(self):
        """The broker has the oldest message: forget it. The file is compacted
        when it empties or every COMPACT_EVERY messages, not on each one (flash
        wear); a reboot in between sends those few again (at least once)."""
        if self.peek() is None:
            return
        self._head = self._peeked[1]
        self._pass()

    def _drop_oldest(self):
        if self.peek() is None:
            return
        self._head = self._peeked[1]
        self.dropped += 1
        self._pass()

    def _pass(self):
        self._peeked = None
        self._count -= 1
        self._passed += 1
        if self._count == 0 or self._passed >= COMPACT_EVERY:
            self._compact()

    def _compact(self):
        self._passed = 0
        tmp = self.path + ".tmp"
        with open(self.path, "rb") as src, open(tmp, "wb") as dst:
            src.seek(self._head)
            while True:
                chunk = src.read(_COPY_CHUNK)
                if not chunk:
                    break
                dst.write(chunk)
        try:
            os.rename(tmp, self.path)
        except OSError:         # FAT cannot rename over an existing file
            os.remove(self.path)
            os.rename(tmp, self.path)
        self._head = 0
