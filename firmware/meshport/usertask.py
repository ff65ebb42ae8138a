# The user app's restart policy (issue #15, containment): pure bookkeeping,
# no clock of its own (the caller passes now_ms), so it runs the same under
# micropython and CPython and one port can hold many.
#
# A failure schedules a restart after a back-off that doubles from
# BACKOFF_MIN_MS up to BACKOFF_MAX_MS; after MAX_FAILURES failures the task
# stays stopped ("gave_up") until the app is deployed again (reset()).
BACKOFF_MIN_MS = 1000
BACKOFF_MAX_MS = 60000
MAX_FAILURES = 5


class RestartPolicy:
    def __init__(self, max_failures=MAX_FAILURES,
                 backoff_min_ms=BACKOFF_MIN_MS, backoff_max_ms=BACKOFF_MAX_MS):
        self.max_failures = max_failures
        self.backoff_min_ms = backoff_min_ms
        self.backoff_max_ms = backoff_max_ms
        self.reset()

    def reset(self):
        self.failures = 0
        self.last_error = None
        self.restart_at_ms = None

    def gave_up(self):
        return self.failures >= self.max_failures

    def backoff_ms(self):
        # doubles per failure, capped; shift bounded so the int stays small
        shift = min(max(self.failures - 1, 0), 16)
        return min(self.backoff_min_ms << shift, self.backoff_max_ms)

    def failed(self, now_ms, error_line):
        """Record one crash; returns the restart time, or None once given up."""
        self.failures += 1
        self.last_error = error_line
        if self.gave_up():
            self.restart_at_ms = None
        else:
            self.restart_at_ms = now_ms + self.backoff_ms()
        return self.restart_at_ms

    def due(self, now_ms):
        return self.restart_at_ms is not None and now_ms >= self.restart_at_ms

    def status(self):
        state = "stopped" if self.gave_up() else (
            "restarting" if self.restart_at_ms is not None else "running")
        return {"app_state": state, "app_errors": self.failures,
                "app_last_error": self.last_error}
