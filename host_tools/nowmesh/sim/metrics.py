"""What a simulation run measured, computed the same way for every protocol.

Definitions (also in docs/simulator.md):
- a (reading, receiver) pair is *eligible* when the receiver is alive for the
  whole [publish, publish + deadline] window and, at publish time, in the same
  connected component as the origin (usable links among live nodes, honouring
  partitions and channels): nobody can deliver across a cut;
- a pair is *delivered* once the receiver holds that reading or a newer one
  from the same origin within the deadline (newer readings supersede older);
- `loops` counts unicast frames carrying a routed packet to a node that had
  already transmitted that same packet;
- `convergence_s`, per scenario event, is how long after the event some live
  node still lacked what the event's world requires: another live node's
  latest reading published at least CONVERGENCE_SLACK_S before the event, or
  the first reading of a node the event powered on (convergence.py); the
  worst event is reported.
"""
import bisect

from nowmesh.sim.convergence import convergence_after
from nowmesh.radio.medium import KIND_ACK

CONVERGENCE_SLACK_S = 2.0


def percentile(sorted_values, fraction):
    if not sorted_values:
        return None
    index = min(len(sorted_values) - 1, int(round(fraction * (len(sorted_values) - 1))))
    return sorted_values[index]


class Metrics:
    def __init__(self, sim, params):
        self.sim = sim
        self.params = params
        self.publications = []          # (origin, key, t_us, eligible receivers)
        self.deliveries = {}            # (receiver, origin) -> [(t_us, key, receiver_boot)]
        self._keys = {}                 # (boot16, seq) -> the one tuple for it
        self.alive_spans = {}           # node -> [[on_us, off_us or None]]
        self.requests = {}              # (src, req_id) -> (dst, t_us)
        self.replies = {}               # (src, req_id) -> t_us
        self.forwarded = {}             # node -> set of routed packet keys it transmitted
        self.counts = {"frames_sent": 0, "airtime_us": 0, "control_frames": 0, "loops": 0,
                       "data_transmissions": 0, "acks": 0}
        self.rejected = {}
        self.event_times_us = []
        self.components_at_event = {}
        self._components = None
        self.topology_version = 0

    # -- hooks called by the engine --------------------------------------------
    def on_boot(self, i, t_us):
        self.alive_spans.setdefault(i, []).append([t_us, None])
        self.topology_version += 1

    def on_power_off(self, i, t_us, stats):
        spans = self.alive_spans.get(i)
        if spans and spans[-1][1] is None:
            spans[-1][1] = t_us
        self._collect_rejections(stats)
        self.topology_version += 1

    def on_scenario_event(self, t_us):
        """Called after an event was applied: remember who can reach whom now."""
        self.event_times_us.append(t_us)
        self.topology_version += 1
        self.components_at_event[t_us] = self._compute_components()

    def on_transmit(self, i, tx, airtime_us):
        self.counts["airtime_us"] += airtime_us
        if tx.kind == KIND_ACK:
            self.counts["acks"] += 1
            return
        self.counts["data_transmissions"] += 1
        if tx.attempt:
            return
        self.counts["frames_sent"] += 1
        protocol = self.sim.protocol
        if protocol.is_control(tx.frame):
            self.counts["control_frames"] += 1
        if tx.dst is not None:
            self._check_loop(i, tx)

    def _check_loop(self, i, tx):
        key = self.sim.protocol.loop_key(self.sim.keys, tx.frame)
        if key is None:
            return
        if key in self.forwarded.get(tx.dst, ()):
            self.counts["loops"] += 1
        self.forwarded.setdefault(i, set()).add(key)

    def on_publish(self, origin, key, t_us):
        self.publications.append((origin, key, t_us, self._component_of(origin)))

    def on_events(self, i, events, t_us):
        sim = self.sim
        for event in events:
            kind = event[0]
            if kind == "reading":
                origin = sim.by_mac.get(event[1])
                if origin is not None:
                    node = sim.nodes[i]
                    # one (boot, seq) tuple object shared by every arrival of
                    # that key: N receivers x readings arrivals are the bulk
                    # of a large run's memory
                    key = (event[2] & 0xFFFF, event[3])
                    key = self._keys.setdefault(key, key)
                    self.deliveries.setdefault((i, origin), []).append((t_us, key, node.boot))
            elif kind == "reply":
                self.replies.setdefault((i, event[1]), t_us)

    def on_request(self, src, dst, req_id, t_us):
        self.requests[(src, req_id)] = (dst, t_us)

    # -- components (who could possibly be reached) -------------------------------
    def _component_of(self, origin):
        """Frozen set of the nodes in origin's component (origin included)."""
        if self._components is None or self._components[0] != self.topology_version:
            labels = self._compute_components()
            members = {}
            for node, label in labels.items():
                members.setdefault(label, []).append(node)
            self._components = (self.topology_version, labels,
                                {label: frozenset(nodes) for label, nodes in members.items()})
        _version, labels, members = self._components
        return members.get(labels.get(origin), frozenset())

    def _compute_components(self):
        sim = self.sim
        alive = [n.index for n in sim.nodes if n.alive]
        labels = {}
        for start in alive:
            if start in labels:
                continue
            labels[start] = start
            stack = [start]
            while stack:
                a = stack.pop()
                for b in sim.radio.link_dbm[a]:
                    if b not in labels and sim.reachable(a, b) and sim.reachable(b, a) \
                            and sim.radio.usable(a, b) and sim.radio.usable(b, a):
                        labels[b] = start
                        stack.append(b)
        return labels

    def _alive_throughout(self, node, start_us, end_us):
        for on, off in self.alive_spans.get(node, ()):
            if on <= start_us and (off is None or off >= end_us):
                return True
        return False

    # -- results --------------------------------------------------------------------
    def _collect_rejections(self, stats):
        if not stats:
            return
        for reason, count in stats.get("rejected", {}).items():
            self.rejected[reason] = self.rejected.get(reason, 0) + count

    def _first_holding_times(self, receiver, origin):
        """(times, keys) where the receiver's best key from origin first rises."""
        times, keys, best = [], [], None
        for t_us, key, _boot in sorted(self.deliveries.get((receiver, origin), ())):
            if best is None or key > best:
                best = key
                times.append(t_us)
                keys.append(key)
        return times, keys

    def _delivery(self):
        deadline_us = int(self.params.deadline_s * 1e6)
        end_us = int(self.params.duration_s * 1e6)
        eligible = delivered = 0
        latencies = []
        holding_cache = {}
        for origin, key, t_pub, component in self.publications:
            if t_pub + deadline_us > end_us:
                continue              # too late in the run to judge
            for receiver in component:
                if receiver == origin or not self._alive_throughout(receiver, t_pub, t_pub + deadline_us):
                    continue
                eligible += 1
                rising = holding_cache.get((receiver, origin))
                if rising is None:
                    rising = holding_cache[(receiver, origin)] = self._first_holding_times(receiver, origin)
                times, keys = rising
                index = bisect.bisect_left(keys, key)
                got = times[index] if index < len(keys) else None
                if got is not None and got - t_pub <= deadline_us:
                    delivered += 1
                    latencies.append((got - t_pub) / 1000.0)
        latencies.sort()
        return eligible, delivered, latencies

    def _unicast(self):
        deadline_us = int(self.params.deadline_s * 1e6)
        rtts = []
        for key, (_dst, t_sent) in self.requests.items():
            t_reply = self.replies.get(key)
            if t_reply is not None and t_reply - t_sent <= deadline_us:
                rtts.append((t_reply - t_sent) / 1000.0)
        rtts.sort()
        return {"sent": len(self.requests), "delivered": len(rtts),
                "rtt_ms_p50": _round(percentile(rtts, 0.5))}

    def result(self):
        sim = self.sim
        for node in sim.nodes:
            if node.alive:
                self._collect_rejections(node.proto.stats)
        eligible, delivered, latencies = self._delivery()
        published = len(self.publications)
        airtime_ms = self.counts["airtime_us"] / 1000.0
        return {
            "protocol": self.params.protocol,
            "nodes": len(sim.nodes),
            "topology": sim.topology.kind,
            "seed": self.params.seed,
            "duration_s": self.params.duration_s,
            "loss": self.params.loss,
            "reading_interval_s": self.params.reading_interval_s,
            "deadline_s": self.params.deadline_s,
            "readings_published": published,
            "delivery_pairs": eligible,
            "delivery_ratio": round(delivered / eligible, 6) if eligible else None,
            "latency_ms": {"p50": _round(percentile(latencies, 0.5)),
                           "p95": _round(percentile(latencies, 0.95)),
                           "max": _round(latencies[-1] if latencies else None)},
            "frames_sent": self.counts["frames_sent"],
            "airtime_ms": round(airtime_ms, 3),
            "airtime_per_reading_ms": round(airtime_ms / published, 3) if published else None,
            "control_frames": self.counts["control_frames"],
            "unicast": self._unicast(),
            "loops": self.counts["loops"],
            "rejected_frames": dict(sorted(self.rejected.items())),
            "convergence_s": self._convergence(),
            "radio": self._radio_counters(),
        }

    def _radio_counters(self):
        counters = dict(self.sim.medium.counters)
        counters.update(self.sim.counters)
        counters["mac_acks"] = self.counts["acks"]
        counters["transmissions"] = self.counts["data_transmissions"]
        return dict(sorted(counters.items()))

    def _convergence(self):
        if not self.event_times_us:
            return None
        worst = 0.0
        for t_us in sorted(set(self.event_times_us)):
            worst = max(worst, convergence_after(self, t_us, CONVERGENCE_SLACK_S))
        return round(worst, 3)


def _round(value):
    return None if value is None else round(value, 3)
