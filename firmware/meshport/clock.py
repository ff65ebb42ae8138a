# A millisecond clock that never wraps. time.ticks_ms() wraps (at 2**30 on
# most ports); the core compares absolute deadlines, so the port extends the
# tick counter with ticks_diff, which is correct as long as now() is called
# at least once per wrap period (~12 days).
import time


class Clock:
    def __init__(self):
        self._last = time.ticks_ms()
        self._now = 0

    def now(self):
        tick = time.ticks_ms()
        self._now += time.ticks_diff(tick, self._last)
        self._last = tick
        return self._now
