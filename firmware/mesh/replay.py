# Replay protection: per sender, the newest (boot, ctr) seen plus a sliding
# bitmap of the `window` counters below it (the IPsec/DTLS anti-replay window,
# RFC 4303 section 3.4.3), keyed additionally by the sender's boot counter so
# that a reboot (counter back to 0, boot counter + 1) is accepted.
#
# Bounded: when max_senders are tracked, the least recently updated sender is
# forgotten. Its next frame is then accepted as if first heard, so frames of
# that sender captured earlier can be replayed once each until it is tracked
# again. Size max_senders above the number of nodes a node can hear.


class ReplayTable:
    def __init__(self, max_senders=32, window=64):
        if max_senders < 1 or window < 1:
            raise ValueError("max_senders and window must be >= 1")
        self.max_senders = max_senders
        self.window = window
        self._full = (1 << window) - 1
        # sender -> [boot, top_ctr, seen_mask, stamp]; bit i of seen_mask means
        # counter top_ctr - i was accepted. stamp orders updates for eviction.
        self._senders = {}
        self._stamp = 0

    def __len__(self):
        return len(self._senders)

    def check(self, sender, boot, ctr):
        """True if (boot, ctr) from sender is fresh. Never mutates."""
        s = self._senders.get(sender)
        if s is None:
            return True
        if boot != s[0]:
            return boot > s[0]
        if ctr > s[1]:
            return True
        d = s[1] - ctr
        if d >= self.window:
            return False
        return not (s[2] >> d) & 1

    def accept(self, sender, boot, ctr):
        """Record (boot, ctr) as seen. Returns False (and changes nothing) for a replay."""
        if not self.check(sender, boot, ctr):
            return False
        sender = bytes(sender)
        self._stamp += 1
        s = self._senders.get(sender)
        if s is None or boot > s[0]:
            if s is None and len(self._senders) >= self.max_senders:
                self._evict()
            self._senders[sender] = [boot, ctr, 1, self._stamp]
            return True
        if ctr > s[1]:
            shift = ctr - s[1]
            s[2] = ((s[2] << shift) | 1) & self._full if shift < self.window else 1
            s[1] = ctr
        else:
            s[2] |= 1 << (s[1] - ctr)
        s[3] = self._stamp
        return True

    def _evict(self):
        oldest = None
        for sender, s in self._senders.items():
            if oldest is None or s[3] < self._senders[oldest][3]:
                oldest = sender
        del self._senders[oldest]

    def forget(self, sender):
        self._senders.pop(sender, None)

    def snapshot(self):
        """Comparable copy of the whole state (for tests and debugging)."""
        return sorted([(k, tuple(v)) for k, v in self._senders.items()])
