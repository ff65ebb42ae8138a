"""A discrete-event queue on a virtual clock in integer microseconds."""
import heapq


class EventQueue:
    """Callbacks ordered by (time, insertion order): same inputs, same run."""

    def __init__(self):
        self.now_us = 0
        self._heap = []
        self._seq = 0

    def at(self, t_us, callback, *args):
        """Run callback(*args) at virtual time t_us (never in the past)."""
        self._seq += 1
        heapq.heappush(self._heap, (max(int(t_us), self.now_us), self._seq, callback, args))

    def after(self, delay_us, callback, *args):
        self.at(self.now_us + delay_us, callback, *args)

    def run_until(self, end_us):
        heap = self._heap
        pop = heapq.heappop
        while heap and heap[0][0] <= end_us:
            t_us, _, callback, args = pop(heap)
            self.now_us = t_us
            callback(*args)
        self.now_us = max(self.now_us, end_us)

    @property
    def now_ms(self):
        return self.now_us // 1000
