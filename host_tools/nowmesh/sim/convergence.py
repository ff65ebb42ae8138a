"""Convergence time after a scenario event, from the delivery log.

An event (kill, revive, reboot, partition, heal, move, ...) changes who is
alive and who can reach whom. The mesh has converged after the event once the
world as it stands right after the event is known everywhere: every node live
after the event holds, for every other live node of its component,

- a reading at least as new as that node's latest reading published up to
  `slack` before the event (for a node that lived through the event), or
- that node's first reading of its new boot (for a node the event powered on).

`convergence_s` is the time from the event until the last such requirement was
met (bounded by the next event, the end of the run, or 60 s). A revived node
must therefore have caught up the whole table and have been heard by everyone;
a kill or a cut must not leave any surviving pair without the other's last
reading. Readings published after the event are later news, not the event's
state: their delivery is judged by `delivery_ratio` and `latency_ms`.

Why not "converged at every instant": on a 100-node mesh at 10 % loss some pair
is always a second or two behind (about 1000 reading/receiver pairs a second,
a few percent of them repaired by a pull), so a mesh-wide "all up to date at
once" instant may never come, with or without an event; a metric built on it
measures steady-state tail latency, not healing (docs/simulator.md).
"""
import bisect

WINDOW_US = 60_000_000


def convergence_after(metrics, t_event_us, slack_s):
    window_end = _window_end(metrics, t_event_us)
    labels = metrics.components_at_event.get(t_event_us, {})
    spans = {n: _span_covering(metrics, n, t_event_us, window_end) for n in labels}
    live = [n for n in labels if spans[n] is not None]
    required = {}
    for a in live:
        key = _required_key(metrics, a, spans[a], t_event_us, window_end, int(slack_s * 1e6))
        if key is not None:
            required[a] = key
    latest = t_event_us
    for b in live:
        b_boot = metrics.alive_spans[b].index(spans[b]) + 1
        for a, key in required.items():
            if a == b or labels[a] != labels[b]:
                continue
            latest = max(latest, _held_at(metrics, b, a, b_boot, key, window_end))
            if latest >= window_end:
                return (window_end - t_event_us) / 1e6
    return (latest - t_event_us) / 1e6


def _required_key(metrics, a, span, t_event_us, window_end, slack_us):
    """The reading of a that every other live node must come to hold."""
    pubs = _publications_by_origin(metrics).get(a, ())
    booted_by_event = span[0] >= t_event_us
    if booted_by_event:
        for t_pub, key in pubs:
            if span[0] <= t_pub < window_end:
                return key            # its first reading of the new boot
        return None
    best = None
    for t_pub, key in pubs:
        if t_pub > t_event_us - slack_us:
            break
        if t_pub >= span[0]:
            best = key
    return best


def _window_end(metrics, t_event_us):
    run_end = int(metrics.params.duration_s * 1e6)
    later = [t for t in metrics.event_times_us if t > t_event_us]
    return min([run_end, t_event_us + WINDOW_US] + later[:1])


def _span_covering(metrics, node, start_us, end_us):
    """The alive span of node that covers [start_us, end_us] (a node powered
    on exactly at the event counts as live after it)."""
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


def _held_at(metrics, b, a, b_boot, key, window_end):
    """When b (in its boot b_boot) first held a's reading `key` or a newer one."""
    times, keys = _holding(metrics, b, a, b_boot)
    index = bisect.bisect_left(keys, key)
    return min(times[index], window_end) if index < len(keys) else window_end


def _holding(metrics, b, a, b_boot):
    """Times at which b's best key from a first rose, within b's boot b_boot."""
    cache = metrics.__dict__.setdefault("_holding_cache", {})
    hit = cache.get((b, a, b_boot))
    if hit is not None:
        return hit
    times, keys, best = [], [], None
    for t_us, key, boot in sorted(metrics.deliveries.get((b, a), ())):
        if boot == b_boot and (best is None or key > best):
            best = key
            times.append(t_us)
            keys.append(key)
    cache[(b, a, b_boot)] = (times, keys)
    return times, keys
