# The gateway's outbox on flash: MQTT messages waiting for the broker, in
# order, bounded. Every message goes through here (one path, so order holds
# whether the broker is up or away): put() appends a line, the link publishes
# peek() and then done() drops it. A broker outage or a reboot loses nothing
# that was put; a message published when the connection dropped before
# done() is sent again (at least once: the state carries the reading's seq).
#
# Bounded: beyond `max_items` the oldest messages are dropped and counted, so
# an outage of days cannot fill the flash. The file is rewritten atomically
# (store.write_atomic) only when it is compacted; a line that does not parse
# (a torn write at power loss) is skipped and counted, never fatal.
import json

from . import store

PATH = "gateway-outbox.jsonl"
MAX_ITEMS = 200         # ~200 x 300 B = 60 KB of flash at most
COMPACT_EVERY = 16


class Outbox:
    def __init__(self, path=PATH, max_items=MAX_ITEMS):
        self.path = path
        self.max_items = max_items
        self.dropped = 0        # oldest messages given up for room
        self.corrupt = 0        # lines that did not parse
        self._done_since_compact = 0
        self._items = self._load()

    def _load(self):
        items = []
        try:
            with open(self.path) as f:
                for line in f:
                    item = self._parse(line)
                    if item is not None:
                        items.append(item)
        except OSError:
            pass
        return items[-self.max_items:]

    def _parse(self, line):
        try:
            topic, payload, retain = json.loads(line)
        except (ValueError, TypeError):
            self.corrupt += 1
            return None
        if not isinstance(topic, str) or not isinstance(payload, str):
            self.corrupt += 1
            return None
        return topic, payload, bool(retain)

    def __len__(self):
        return len(self._items)

    def put(self, topic, payload, retain=False):
        item = (topic, payload, bool(retain))
        self._items.append(item)
        if len(self._items) > self.max_items:
            del self._items[0]
            self.dropped += 1
            self._rewrite()
            return
        with open(self.path, "a") as f:
            f.write(json.dumps(list(item)) + "\n")

    def peek(self):
        """The oldest message (topic, payload, retain), or None."""
        return self._items[0] if self._items else None

    def done(self):
        """The broker has the oldest message: forget it. The file is compacted
        when it empties or every COMPACT_EVERY messages, not on each one (flash
        wear); a reboot in between sends those few again (at least once)."""
        if self._items:
            del self._items[0]
            self._done_since_compact += 1
            if not self._items or self._done_since_compact >= COMPACT_EVERY:
                self._rewrite()

    def _rewrite(self):
        self._done_since_compact = 0
        text = "".join(json.dumps(list(item)) + "\n" for item in self._items)
        store.write_atomic(self.path, text.encode())
