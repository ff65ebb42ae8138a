# The Trickle timer (RFC 6206, Levis et al. 2004), sans-I/O: one per thing a
# node advertises (its hello, a version, a summary). While what it hears agrees
# with what it holds, the interval doubles from imin up to imax, so a quiet
# mesh sends almost nothing; an inconsistency (news, a lost neighbour, a
# mismatching version) resets it to imin, so news still spreads in a few imin.
# With k > 0, a node that heard k consistent copies of its advert in the
# current interval stays silent (suppression, RFC 6206 section 4.2); k = 0
# never suppresses (adverts that differ per node, such as hellos).
#
#   t = Trickle(imin, imax, k, rng, now_ms)
#   t.heard_consistent()          # a neighbour said the same thing
#   t.reset(now_ms)               # inconsistency: back to imin
#   if t.due(now_ms): send()      # at most once per interval
#   t.next_deadline()             # when to call due() next


class Trickle:
    def __init__(self, imin, imax, k, rng, now_ms):
        self.imin = max(1, imin)
        self.imax = max(self.imin, imax)
        self.k = k
        self._rng = rng
        self.interval = self.imin
        self._start(now_ms)

    def _start(self, now_ms):
        """A new interval at now_ms: transmit at a random point in its second half."""
        i = self.interval
        self.count = 0
        self._end = now_ms + i
        self._fire = now_ms + i // 2 + self._rng.below(i - i // 2)
        self._fired = False

    def reset(self, now_ms):
        """An inconsistency: restart at imin (nothing to do if already there,
        RFC 6206 section 4.2 rule 6, so a burst of news is one reset)."""
        if self.interval > self.imin:
            self.interval = self.imin
            self._start(now_ms)

    def heard_consistent(self):
        self.count += 1

    def due(self, now_ms):
        """-> True once per interval, at its fire time, unless suppressed.
        Rolls over to the next (doubled) interval when the current one ends."""
        if now_ms >= self._end:
            self.interval = min(self.interval * 2, self.imax)
            self._start(now_ms)
        if self._fired or now_ms < self._fire:
            return False
        self._fired = True
        return self.k == 0 or self.count < self.k

    def next_deadline(self):
        return self._end if self._fired else self._fire

    def snapshot(self):
        return (self.interval, self.count, self._fire, self._end, self._fired)
