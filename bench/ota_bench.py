"""`make bench --only ota`: a 64 KB signed bundle to the 100-node random
topology at 10 % loss, through the mesh core's dissemination part
(mesh/ota.py), side by side with the same run without an update.

Figures: time until every node holds and has verified the bundle; OTA
airtime against a floor (every data frame sent once by each node of a
connected dominating set: the non-leaf nodes of a BFS tree over the links
the nodes themselves use, from the node the laptop feeds) and against
flooding every data frame once from every node; the control share of OTA
transmissions (adverts + requests); readings delivery and p95 latency with
and without the update; then 1000 power-cut runs (bench/ota_powercut.py).
docs/ota.md quotes the results.
"""
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "host_tools"))

from nowmesh.bundle import core  # noqa: E402
from nowmesh.bundle.build import ota_bundle  # noqa: E402
from nowmesh.ota.signer import LmsKey  # noqa: E402
from nowmesh.radio.topology import make_topology  # noqa: E402
from nowmesh.sim.engine import SimParams, Simulation  # noqa: E402

BUNDLE_BYTES = 64 * 1024
OFFER_AT_S = 60.0
WINDOW_S = 180.0
SEED = 11


def signed_bundle():
    """A 64 KB bundle of 40 files of fixed sizes and bytes (seeded), signed
    by a throwaway LMS key (H5: 32 leaves, quick to make). Not the firmware's
    own files: those change with every edit of the code under test, and with
    them the manifest's size and every frame's bytes, which re-drew the
    whole run. A change that altered no behaviour (ota.py's `ahead` held in
    a one-item list) moved a --quick run from 79 to 100 nodes verified,
    through the bundle alone. tests/ota/test_ota_bundle.py signs the real
    firmware tree."""
    import random
    core.load()
    from mesh.ota_manifest import pack
    rng = random.Random(2)
    cuts = sorted(rng.sample(range(512, BUNDLE_BYTES - 512), 39))
    sizes = [b - a for a, b in zip([0] + cuts, cuts + [BUNDLE_BYTES])]
    files = {"lib/m%02d.mpy" % i: bytes(rng.getrandbits(8) for _ in range(n)) for i, n in enumerate(sizes)}
    key = LmsKey(bytes(range(32)), bytes(16), lms_type=5)
    body, image = ota_bundle(files, 2)
    return key.public_key(), pack(body, key.sign(0, body)), image


class OtaSimulation(Simulation):
    """The simulator with an OTA part in every node and OTA frames counted."""

    def __init__(self, topology, params, public_key):
        super().__init__(topology, params)
        self.public_key = public_key
        self.verified_at = {}
        self.ota_airtime_us = 0
        self.data_airtimes = []
        self.largest_data = 0

    @property
    def chunks_per_frame(self):
        """Chunks the largest DATA frame of the run carried (1 on v1 frames)."""
        from mesh.ota import CHUNK, DATA_HEAD
        from mesh.wire import HEADER_LEN, TAG_LEN
        data = self.largest_data - HEADER_LEN - TAG_LEN - DATA_HEAD
        return max(1, (data + CHUNK - 1) // CHUNK)

    def power_on(self, i):
        super().power_on(i)
        from mesh.ota import attach
        from mesh.ota_store import MemoryPageStore
        node = self.nodes[i]
        attach(node.proto, MemoryPageStore(), self.public_key, 1, self.q.now_ms)
        self._reschedule_timer(node)

    def on_transmit(self, i, tx, airtime_us):
        super().on_transmit(i, tx, airtime_us)
        from mesh.ota import T_OTA
        if len(tx.frame) > 1 and tx.frame[1] & 0x7F == T_OTA:
            self.ota_airtime_us += airtime_us
            if len(tx.frame) > 150:          # DATA (adverts and requests are short)
                self.data_airtimes.append(airtime_us)
                self.largest_data = max(self.largest_data, len(tx.frame))

    def _feed(self, node, outgoing):
        events = node.proto.pop_events()
        for event in events:
            if event[0] == "ota" and event[1] == "verified":
                self.verified_at.setdefault(node.index, self.q.now_ms)
        node.proto._events[:0] = events          # the metrics see them too
        super()._feed(node, outgoing)

    def part(self, i):
        from mesh.ota import T_OTA
        return self.nodes[i].proto.policy._plugged[T_OTA]

    def offer(self, blob, image, page_size):
        part = self.part(0)
        now = self.q.now_ms
        assert part.offer_manifest(blob, now) is None
        for i in range(0, len(image), page_size):
            assert part.offer_page(i // page_size, image[i:i + page_size], now) is None
        self.verified_at[0] = now
        self._feed(self.nodes[0], [])


def _relay_floor(sim):
    """Nodes that must transmit for a broadcast to reach all: the non-leaf
    nodes of a BFS tree over the nodes' own neighbour tables, from node 0."""
    by_id = {n.mac: n.index for n in sim.nodes}
    seen, frontier, parents = {0}, [0], set()
    while frontier:
        nxt = []
        for i in frontier:
            for neighbour in sim.nodes[i].proto.neighbours.values():
                j = by_id.get(neighbour.id)
                if j is not None and j not in seen:
                    seen.add(j)
                    parents.add(i)
                    nxt.append(j)
        frontier = nxt
    return len(parents), len(seen)


# The bench's scenario, a held-out one checked beside it so the mechanism is
# not tuned to one layout (a 10 x 10 grid, 200 m apart: more hops, fewer
# neighbours each, another seed), and the bench's layout with every board on
# ESP-NOW v2 (1470-byte frames; the rx ring a board then sets, meshport/radio.py).
V1, V2 = ({}, 528), ({"max_frame": 1470}, 2 * (1470 + 16))
SCENARIOS = {"random-100": ("random", 100, SEED, V1), "grid-100": ("grid", 100, 5, V1),
             "random-100-v2": ("random", 100, SEED, V2)}


def _run(quick, with_ota, scenario="random-100"):
    layout, count, seed, (options, rxbuf) = SCENARIOS[scenario]
    topo = make_topology(layout, count, seed)
    window = 90.0 if quick else WINDOW_S
    params = SimParams(protocol="nowmesh", seed=seed, duration_s=OFFER_AT_S + window, loss=0.1,
                       reading_interval_s=10.0, protocol_options=options, rxbuf=rxbuf)
    pub, blob, image = signed_bundle()
    sim = OtaSimulation(topo, params, pub)
    floor = {}
    if with_ota:
        from mesh.ota_manifest import split, parse_body
        page_size = parse_body(split(blob)[0]).page_size

        def offer():
            floor["relays"], floor["reached"] = _relay_floor(sim)
            sim.offer(blob, image, page_size)
        sim.q.at(int(OFFER_AT_S * 1e6), offer)
    result = sim.run()
    return sim, result, floor, blob, image


def _counts(sim):
    totals = {"ota_tx_adv": 0, "ota_tx_req": 0, "ota_tx_data": 0}
    for node in sim.nodes:
        if node.proto is not None:
            for k in totals:
                totals[k] += node.proto.stats.get(k, 0)
    return totals


def _frames_per_bundle(sim, blob, image):
    """DATA frames one copy of the bundle takes (manifest and pages), at the
    chunk size the run's frames carried (mesh/ota.py chunks_per_frame)."""
    from mesh.ota import CHUNK
    per_frame = CHUNK * sim.chunks_per_frame
    frames = sum((len(image[i:i + 1024]) + per_frame - 1) // per_frame for i in range(0, len(image), 1024))
    return frames + (len(blob) + per_frame - 1) // per_frame


def run_scenario(quick, scenario, baseline=True):
    base = _run(quick, False, scenario)[1] if baseline else None
    sim, result, floor, blob, image = _run(quick, True, scenario)
    n = len(sim.nodes)
    done = sorted(t - OFFER_AT_S * 1000 for t in sim.verified_at.values())
    all_done_s = round(done[-1] / 1000.0, 1) if len(done) == n else None
    counts = _counts(sim)
    frames_per_bundle = _frames_per_bundle(sim, blob, image)
    # the floor sends every frame full: the airtime of the largest DATA frame of the run
    data_us = max(sim.data_airtimes) if sim.data_airtimes else 0
    floor_ms = floor["relays"] * frames_per_bundle * data_us / 1000.0
    flood_ms = n * frames_per_bundle * data_us / 1000.0
    ota_ms = sim.ota_airtime_us / 1000.0
    control = counts["ota_tx_adv"] + counts["ota_tx_req"]
    total_tx = control + counts["ota_tx_data"]
    out = {
        "scenario": scenario, "nodes": n, "bundle_bytes": len(image), "manifest_bytes": len(blob), "loss": 0.1,
        "nodes_verified": len(done), "all_verified_s": all_done_s,
        "median_verified_s": round(done[len(done) // 2] / 1000.0, 1) if done else None,
        "ota_airtime_ms": round(ota_ms, 1), "floor_airtime_ms": round(floor_ms, 1),
        "floor_relays": floor["relays"], "flood_airtime_ms": round(flood_ms, 1),
        "ota_vs_floor": round(ota_ms / floor_ms, 3) if floor_ms else None,
        "ota_vs_flood": round(ota_ms / flood_ms, 3) if flood_ms else None,
        "ota_tx": counts, "control_share": round(control / total_tx, 3) if total_tx else None,
        "readings": {"with_ota": {"delivery": result["delivery_ratio"], "p95_ms": result["latency_ms"]["p95"]}},
    }
    print("  64 KB bundle, %s, 10%% loss: %d/%d nodes verified, all by %s s (median %s s)"
          % (scenario, len(done), n, all_done_s, out["median_verified_s"]))
    print("  OTA airtime %.0f ms = %.2fx floor (%d relays x %d frames) = %.2fx flooding every frame"
          % (ota_ms, out["ota_vs_floor"] or 0, floor["relays"], frames_per_bundle, out["ota_vs_flood"] or 0))
    print("  OTA transmissions: %s, control share %s" % (counts, out["control_share"]))
    if base is not None:
        out["readings"]["without"] = {"delivery": base["delivery_ratio"], "p95_ms": base["latency_ms"]["p95"]}
        print("  readings during the update: delivery %s (without: %s), p95 %s ms (without: %s ms)" % (
            result["delivery_ratio"], base["delivery_ratio"], result["latency_ms"]["p95"],
            base["latency_ms"]["p95"]), flush=True)
    return out


def run(quick):
    """The bench's scenario, then the held-out one, the v2 one, and the
    power-cut runs (bench/ota_powercut.py: 1000, or 100 with --quick)."""
    out = run_scenario(quick, "random-100")
    out["held_out"] = run_scenario(quick, "grid-100")
    out["v2"] = run_scenario(quick, "random-100-v2")
    sys.path.insert(0, HERE)
    import ota_powercut
    out["power_cuts"] = ota_powercut.run(quick)
    from ota_live import run as live     # 10 emulated boards, through nowmesh ota (bench/ota_live.py)
    out["live"] = live(quick)
    return out


if __name__ == "__main__":
    # design runs: python bench/ota_bench.py --quick [--no-baseline] [SCENARIO ...]
    names = [a for a in sys.argv[1:] if not a.startswith("--")] or ["random-100", "grid-100"]
    for name in names:
        run_scenario("--quick" in sys.argv, name, baseline="--no-baseline" not in sys.argv)
