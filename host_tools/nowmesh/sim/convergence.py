"""Convergence time after a scenario event, from the delivery log.

The mesh is *converged* at time tau when every live node b holds, for every
other live node a in its component, a's latest reading that was due: published
(or, for a node that just booted, known to exist) at least `slack` earlier.
Each reading r of a, at each receiver b, leaves an unconverged interval
[due_r, held_r): from when it fell due until b first held r or something newer.
The union of those intervals is exactly the set of unconverged instants, so the
convergence time after an event at t_e is how far past t_e the last interval
that is still open at t_e reaches — merged with every interval that opens
before it closes — i.e. the first converged instant after the event (bounded
by the next event, the end of the run, or 60 s). Intervals that open later,
after the mesh was converged again, are ordinary loss repair, not the event's.
"""
import bisect

WINDOW_US = 60_000_000


def convergence_after(metrics, t_event_us, slack_s):
    window_end = _window_end(metrics, t_event_us)
    labels = metrics.components_at_event.get(t_event_us, {})
    live = [n for n in labels if _span_covering(metrics, n, t_event_us, window_end) is not None]
    slack = int(slack_s * 1e6)
    pubs = _publications_by_origin(metrics)
    intervals = []
    for a in live:
        a_start = _span_covering(metrics, a, t_event_us, window_end)[0]
        a_pubs = [(t, k) for t, k in pubs.get(a, ()) if t >= a_start and t < window_end]
        if not a_pubs:
            continue
        for b in live:
            if b == a or labels[b] != labels[a]:
                continue
            intervals.extend(_unconverged(metrics, a, b, a_pubs, t_event_us, window_end, slack))
    worst = _end_of_run_from(sorted(intervals), t_event_us)
    return (worst - t_event_us) / 1e6


def _window_end(metrics, t_event_us):
    run_end = int(metrics.params.duration_s * 1e6)
    later = [t for t in metrics.event_times_us if t > t_event_us]
    return min([run_end, t_event_us + WINDOW_US] + later[:1])


def _span_covering(metrics, node, start_us, end_us):
    for span in metrics.alive_spans.get(node, ()):
        on, off = span
        if on <= start_us and (off is None or off >= end_us):
            return span
    return None


def _publications_by_origin(metrics):
    cache = getattr(metrics, "_pubs_by_origin", None)
    if cache is None:
        cache = {}
        for origin, key, t_us, _component in metrics.publications:
            cache.setdefault(origin, []).append((t_us, key))
        metrics._pubs_by_origin = cache
    return cache


def _holding(metrics, b, a, b_boot):
    """Times at which b's best key from a first rose, within b's boot b_boot."""
    times, keys, best = [], [], None
    for t_us, key, boot in sorted(metrics.deliveries.get((b, a), ())):
        if boot == b_boot and (best is None or key > best):
            best = key
            times.append(t_us)
            keys.append(key)
    return times, keys


def _end_of_run_from(intervals, t_event_us):
    """End of the unconverged stretch that starts at the event (merged intervals)."""
    end = t_event_us
    for start, stop in intervals:
        if start > end:
            break
        end = max(end, stop)
    return end


def _unconverged(metrics, a, b, a_pubs, t_event_us, window_end, slack):
    """[(due, held)] for b lacking a's readings, where held > t_event_us."""
    b_spans = metrics.alive_spans[b]
    b_span = _span_covering(metrics, b, t_event_us, window_end)
    b_boot = b_spans.index(b_span) + 1
    b_start = b_span[0]
    times, keys = _holding(metrics, b, a, b_boot)
    # Older readings than the last one published before b booted are implied by it.
    first = 0
    for index, (t_pub, _key) in enumerate(a_pubs):
        if t_pub <= b_start:
            first = index
    out = []
    for t_pub, key in a_pubs[first:]:
        due = max(t_pub, b_start) + slack
        if due >= window_end:
            break
        index = bisect.bisect_left(keys, key)
        held = times[index] if index < len(keys) else window_end
        held = min(held, window_end)
        if held > t_event_us and held > due:
            out.append((due, held))
    return out
