# Bounded duplicate cache: "have I handled this key recently?"
# Entries expire after ttl_ms so reused keys (e.g. request ids after a
# reboot) are not suppressed forever; when full the oldest entry goes.


class DupCache:
    def __init__(self, max_entries=128, ttl_ms=120000):
        self.max_entries = max_entries
        self.ttl_ms = ttl_ms
        self._seen = {}  # key -> time added (ms)

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
