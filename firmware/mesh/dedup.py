# Bounded duplicate cache: "have I handled this key recently?"
# Entries expire after ttl_ms so reused keys (e.g. request ids after a
# reboot) are not suppressed forever; when full the oldest entry goes.
#
# Memory: the table is sized for max_entries when the cache is made, while
# the heap is young. A MicroPython dict grows by allocating a new, larger
# table (2.7 KB for 128 entries on the 64-bit unix port) the first time it
# holds that many keys; on a board's fragmented heap that one allocation can
# fail for good, minutes into a busy mesh, and with it every routed packet
# (seen live: a node answering no remote command after ~70 s of queries).
# Deleted keys leave their slots allocated and later inserts reuse them, so
# a presized table never grows again.


def presized_dict(n):
    """An empty dict whose table already holds n keys (MicroPython keeps
    the table when keys are deleted; inserts reuse the freed slots)."""
    d = {}
    for i in range(n):
        d[i] = None
    for i in range(n):
        del d[i]
    return d


class DupCache:
    def __init__(self, max_entries=128, ttl_ms=120000):
        self.max_entries = max_entries
        self.ttl_ms = ttl_ms
        self._seen = presized_dict(max_entries)  # key -> time added (ms)

    def __len__(self):
        return len(self._seen)

    def __contains__(self, key):
        return key in self._seen

    def seen(self, key, now_ms):
        t = self._seen.get(key)
        return t is not None and now_ms - t < self.ttl_ms

    def add(self, key, now_ms):
        if key not in self._seen and len(self._seen) >= self.max_entries:
            self._purge(now_ms)
            if len(self._seen) >= self.max_entries:
                oldest = None
                for k, t in self._seen.items():
                    if oldest is None or t < self._seen[oldest]:
                        oldest = k
                del self._seen[oldest]
        self._seen[key] = now_ms

    def _purge(self, now_ms):
        for k in [k for k, t in self._seen.items() if now_ms - t >= self.ttl_ms]:
            del self._seen[k]

    def snapshot(self):
        return sorted(self._seen.items())
