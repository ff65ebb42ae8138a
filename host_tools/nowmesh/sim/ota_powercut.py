"""One seeded power-cut run of an OTA update (issue #16: "1000 simulated
runs, each cutting a random node's power at a random moment of transfer or
install: 0 nodes left unbootable or on a mixed bundle"). docs/ota.md,
"Power cuts in the simulator".

A small mesh runs the mesh core's dissemination part (mesh/ota.py) in every
node, each node with the board's real page store (meshport/ota_port.py,
FlashPageStore) on its own folder, the folder also holding an old firmware
tree and the user's files. Node 0 is handed a small signed bundle. The seed
picks one other node and one moment:

- transfer: the node loses power between the offer and the moment it would
  have verified the bundle (a pilot run of the same seed says when), and
  comes back a little later. RAM is lost, the folder stays, and the node
  boots as a board does (ota_port.attach: a fresh store, tidied and checked
  against the manifest). A write the cut interrupted is modelled on the
  folder (a .tmp left, the newest page short or with a flipped bit, the
  manifest damaged).
- install: the node runs the real install (meshport/ota_stage.py) cut before
  a random change to flash, then boots (meshport/ota_boot.py, as boot.py
  runs it), maybe cut again in that boot, then boots clean.
- rollback: the install finishes but the new firmware never confirms; the
  boot that rolls back is cut at a random step, then the next boot runs.

Then every node must verify the bundle and install it (the cut node again if
its cut left it on the old tree, as the operator's go is repeated), and each
tree is checked: every firmware file of the old tree or every file of the
new one (a mix is a failure), main.py and boot.py there, ota/running.json
naming what the tree is, the user's files untouched.
"""
import os
import random
import shutil
import tempfile

from nowmesh.bundle import core
from nowmesh.radio.topology import make_topology
from nowmesh.sim.engine import SimParams, Simulation

NODES = 8
SPACING_M = 150.0               # a line with solid links: the run tests the cut, not the radio
LOSS = 0.05
OFFER_AT_S = 3.0                # every node has booted and heard its neighbours by then
# Simulated time after the offer in which every node must verify. Most runs
# take 20-50 s, but now and then the far end of the line stalls holding a
# few pages until the next Trickle advert (imax 60 s): seen without any cut
# (seed 432 of the bench: nodes 5-7 at 6 of 14 pages from 35 s to 96 s).
# The run ends as soon as every node verified, so a long window costs only
# the stalled runs; `all_verified_s` says how long each took.
WINDOW_S = 300.0
PAGE_SIZE = 256                 # small pages: a few KB make a dozen of them
VERSION = 7
PHASES = (("transfer", 50), ("install", 35), ("rollback", 15))
TORN = ("none", "none", "tmp", "short", "flip", "manifest")

OLD = {"main.py": b"# old main\nimport meshport\n", "boot.py": b"# old boot\n",
       "mesh/core.mpy": b"M\x06old core" * 40, "mesh/ota.mpy": b"M\x06old ota" * 30,
       "mesh/gone.mpy": b"M\x06a file the new bundle does not have"}
USER = {"nowmesh.json": b'{"name": "n", "ota_key": "..."}', "app.py": b"# the user's app\n"}


def _new_files():
    """The bundle's firmware: ~3.5 KB, 14 pages of 256 bytes; one file the
    old tree lacks, one the bundle drops (mesh/gone.mpy stays: not ours)."""
    return {"main.py": b"# new main\nimport meshport\n" * 4, "boot.py": b"# new boot\n" * 3,
            "mesh/core.mpy": bytes((i * 13) & 0xFF for i in range(1500)),
            "mesh/ota.mpy": bytes((i * 7 + 1) & 0xFF for i in range(1200)),
            "meshport/added.mpy": bytes((i * 3) & 0xFF for i in range(600))}


class Bundle:
    """The signed bundle every run uses (signing once per process: an LMS
    tree of 32 leaves, and no leaf is signed twice)."""

    def __init__(self):
        core.load()
        from mesh.ota_manifest import pack, parse_body, split
        from nowmesh.bundle.build import ota_bundle
        from nowmesh.ota.signer import LmsKey
        self.files = _new_files()
        key = LmsKey(bytes(range(32)), bytes(16), lms_type=5)
        body, self.image = ota_bundle(self.files, VERSION, page_size=PAGE_SIZE)
        self.blob = pack(body, key.sign(0, body))
        self.pub_hex = key.public_key().hex()
        meta = parse_body(split(self.blob)[0])
        self.bundle_id, self.pages = meta.bundle, meta.pages

    def page(self, index):
        return self.image[index * PAGE_SIZE:(index + 1) * PAGE_SIZE]


class Cut(Exception):
    """The power went off (raised by a `cut(step)` hook)."""


def _cut_at(k, seen):
    """A cut hook that raises before the k-th change to flash; `seen`
    collects the steps passed (the last one is where the power went)."""
    def cut(step):
        seen.append(step)
        if len(seen) > k:
            raise Cut(step)
    return cut


class _InNode:
    """cwd = the node's flash root while its board code runs (the firmware
    uses paths relative to its root); back where we were after."""

    def __init__(self, root):
        self.root = root

    def __enter__(self):
        self.home = os.getcwd()
        os.chdir(self.root)

    def __exit__(self, *exc):
        os.chdir(self.home)


def _write(root, path, data):
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
        f.write(data)


def _read(root, path):
    try:
        with open(os.path.join(root, path), "rb") as f:
            return f.read()
    except OSError:
        return None


def boot(root, proto, pub_hex, now_ms):
    """What a board's boot does with its flash: the page store reopened
    (tidied, checked against the manifest) and the OTA part plugged in."""
    from meshport import ota_port
    with _InNode(root):
        return ota_port.attach(proto, pub_hex, now_ms, os.path.join(root, "ota"))


class PowerCutSim(Simulation):
    """The simulator with the board's OTA part and page store in every node."""

    def __init__(self, topology, params, bundle, roots):
        super().__init__(topology, params)
        self.bundle, self.roots = bundle, roots
        self.parts = {}
        self.verified_at = {}
        self.offered_at = {}            # node -> when it took the manifest (its fetch begins)
        self.held_at_boot = {}          # node -> pages its store kept at each boot

    def power_on(self, i):
        super().power_on(i)
        node = self.nodes[i]
        part = self.parts[i] = boot(self.roots[i], node.proto, self.bundle.pub_hex, self.q.now_ms)
        self.held_at_boot.setdefault(i, []).append(part.held())
        if part.complete():
            self.verified_at.setdefault(i, self.q.now_ms)
        self._reschedule_timer(node)

    def _feed(self, node, outgoing):
        events = node.proto.pop_events()
        for event in events:
            if event[:2] == ("ota", "verified"):
                self.verified_at.setdefault(node.index, self.q.now_ms)
            elif event[:2] == ("ota", "offered"):
                self.offered_at.setdefault(node.index, self.q.now_ms)
        node.proto._events[:0] = events          # the metrics see them too
        super()._feed(node, outgoing)

    def offer(self):
        part, now = self.parts[0], self.q.now_ms
        assert part.offer_manifest(self.bundle.blob, now) is None
        for index in range(self.bundle.pages):
            assert part.offer_page(index, self.bundle.page(index), now) is None
        self.verified_at[0] = now
        self._feed(self.nodes[0], [])

    def run_until_verified(self, back_us=None):
        """Run until every node holds the whole verified bundle (and a cut
        node is back on by then), or the window ends. -> True if they do."""
        end = int((OFFER_AT_S + WINDOW_S) * 1e6)
        t = int(OFFER_AT_S * 1e6)
        while t < end:
            t += 500_000
            self.q.run_until(t)
            if (back_us is None or t > back_us) and all(p.complete() for p in self.parts.values()):
                return True
        return False


def _make_sim(seed, bundle, base):
    roots = []
    for i in range(NODES):
        root = os.path.join(base, "n%d" % i)
        for path, data in list(OLD.items()) + list(USER.items()):
            _write(root, path, data)
        roots.append(root)
    topo = make_topology("line", NODES, seed, spacing_m=SPACING_M)
    params = SimParams(protocol="nowmesh", seed=seed, duration_s=OFFER_AT_S + WINDOW_S, loss=LOSS,
                       reading_interval_s=30.0)
    sim = PowerCutSim(topo, params, bundle, roots)
    for i in range(NODES):
        sim.q.at(sim.rng.randint(0, 999_999), sim.power_on, i)
    sim.q.at(int(OFFER_AT_S * 1e6), sim.offer)
    return sim


def _tear(root, rng, torn, held, bundle):
    """What a cut in the middle of a write leaves on the folder. -> the
    pages the store should keep at the next boot."""
    ota = os.path.join(root, "ota")
    if torn == "tmp" and held < bundle.pages:
        # write_atomic of page `held` had written part of its temp file
        data = bundle.page(held)
        _write(ota, "p%d.tmp" % held, data[:rng.randrange(len(data))])
    elif torn in ("short", "flip") and held > 0:
        # the newest page damaged (a file system without atomic renames, a
        # bad sector): the boot's check() must drop it, and only it
        path = os.path.join(ota, "p%d" % (held - 1))
        data = bytearray(_read(ota, "p%d" % (held - 1)))
        if torn == "short":
            data = data[:rng.randrange(len(data))]
        else:
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        with open(path, "wb") as f:
            f.write(data)
        return held - 1
    elif torn == "manifest" and os.path.exists(os.path.join(ota, "manifest")):
        # the manifest unreadable: nothing can vouch for the pages, all go
        with open(os.path.join(ota, "manifest"), "r+b") as f:
            f.truncate(rng.randrange(64, 2000))
        return 0
    return held


def _transfer_cut(seed, rng, bundle, base, node, out):
    pilot = _make_sim(seed, bundle, os.path.join(base, "pilot"))
    if not pilot.run_until_verified():
        out["failure"] = "the pilot run (no cut) did not verify everywhere"
        return None
    # half the cuts anywhere from the offer (most land before a far node
    # has anything: the wave has not reached it), half within its own fetch
    start, end = int(OFFER_AT_S * 1e6), pilot.verified_at[node] * 1000
    if rng.random() < 0.5:
        start = pilot.offered_at.get(node, start // 1000) * 1000
    at_us = rng.randint(start, max(start, end - 1))
    back_us = at_us + rng.randint(100_000, 3_000_000)
    torn = rng.choice(TORN)
    out.update(at_ms=at_us // 1000, down_ms=(back_us - at_us) // 1000, torn=torn)
    sim = _make_sim(seed, bundle, os.path.join(base, "run"))

    def off():
        part = sim.parts[node]
        held = part.held()
        out["held_at_cut"], out["manifest_at_cut"] = held, part.manifest is not None
        out["staged_at_cut"] = os.path.exists(os.path.join(sim.roots[node], "ota", "staged"))
        sim.power_off(node)
        out["expect_held"] = _tear(sim.roots[node], rng, torn, held, bundle)

    def on():
        sim.power_on(node)
        out["held_after_boot"] = sim.held_at_boot[node][-1]
    sim.q.at(at_us, off)
    sim.q.at(back_us, on)
    ok = sim.run_until_verified(back_us)
    if "held_after_boot" not in out:
        out["failure"] = "the node never came back"
    elif out["held_after_boot"] != out["expect_held"]:
        out["failure"] = "kept %d pages at boot, %d expected" % (out["held_after_boot"], out["expect_held"])
    elif not ok:
        out["failure"] = "not every node verified (%d/%d)" % (len(sim.verified_at), NODES)
    out["resumed"] = out.get("held_after_boot", 0) > 0
    return sim


def _steps_in_copy(root, action):
    """The steps `action(cut)` passes on a copy of the node's folder (the
    random cut point is drawn among them); the folder itself is untouched."""
    copy = root + ".count"
    shutil.copytree(root, copy)
    seen = []
    try:
        with _InNode(copy):
            action(lambda step: seen.append(step))
    finally:
        shutil.rmtree(copy)
    return seen


def _install(part, cut=None):
    from meshport import ota_stage
    ota_stage.install(part.store, part.manifest, part.board.running,
                      part.page_buffer(part.manifest.page_size), 30, cut)


def _cut_run(root, rng, action, out, key):
    """Run action(cut) cut before a random one of its steps -> the steps
    passed; out[key] names the step cut (None: the action had no step)."""
    steps = _steps_in_copy(root, action)
    out[key] = None
    if not steps:
        with _InNode(root):
            action(None)
        return
    k = rng.randrange(len(steps))
    seen = []
    with _InNode(root):
        try:
            action(_cut_at(k, seen))
            out["failure"] = "no cut at step %d" % k
        except Cut:
            out[key] = "%d/%d %s" % (k, len(steps), seen[-1])


def _install_cut(rng, sim, node, out, rollback):
    """Cut the node's install (or the boot that rolls back its trial)."""
    from meshport import ota_boot
    root, part = sim.roots[node], sim.parts[node]
    if not rollback:
        _cut_run(root, rng, lambda cut: _install(part, cut), out, "step")
        if rng.random() < 0.5:                  # the boot after it is cut too
            _cut_run(root, rng, ota_boot.run, out, "boot_step")
    else:
        with _InNode(root):
            _install(part)
            for _ in range(ota_boot.MAX_BOOTS):     # trial boots, never confirmed
                ota_boot.run()
        _cut_run(root, rng, ota_boot.run, out, "step")
    with _InNode(root):
        ota_boot.run()                          # the boot after the cut
    out["after_cut"] = tree_state(root, sim.bundle)


def tree_state(root, bundle):
    """'old' or 'new' when the node's tree is wholly one firmware and
    ota/running.json says so, else 'unbootable: ...' or 'mixed: ...'."""
    import json
    for path, data in USER.items():
        if _read(root, path) != data:
            return "mixed: user file %s changed" % path
    new = bundle.files
    for path in ("main.py", "boot.py"):
        if _read(root, path) not in (OLD[path], new[path]):
            return "unbootable: %s %s" % (path, "missing" if _read(root, path) is None else "damaged")
    is_old = all(_read(root, p) == d for p, d in OLD.items()) and \
        all(_read(root, p) is None for p in new if p not in OLD)
    is_new = all(_read(root, p) == d for p, d in new.items())
    if not (is_old or is_new):
        odd = sorted(p for p in set(OLD) | set(new)
                     if _read(root, p) not in (OLD.get(p), new.get(p) if p in new else None))
        mix = sorted(p for p in new if _read(root, p) == new[p])
        return "mixed: new %s, neither %s" % (mix, odd)
    running = _read(root, "ota/running.json")
    bundle_id = json.loads(running).get("bundle") if running else None
    if bundle_id != (bundle.bundle_id if is_new else None):
        return "mixed: running.json says %s, the tree is %s" % (bundle_id, "new" if is_new else "old")
    return "new" if is_new else "old"


def _install_everywhere(sim, node, out):
    """Every node installs and boots; the cut node again if the cut left it
    on the old tree (not after a rollback: it never installs that again)."""
    from meshport import ota_boot
    states = {}
    for i, root in enumerate(sim.roots):
        if i == node and out["phase"] != "transfer":
            if out["phase"] == "rollback" or out["after_cut"] != "old":
                states[i] = tree_state(root, sim.bundle)
                continue
            sim.parts[i] = boot(root, sim.nodes[i].proto, sim.bundle.pub_hex, sim.q.now_ms)
        with _InNode(root):
            _install(sim.parts[i])
            ota_boot.run()
        states[i] = tree_state(root, sim.bundle)
    return states


def run(seed, bundle=None, workdir=None):
    """One run: -> {seed, node, phase, step or at_ms, outcome, resumed, ok,
    failure}. `bundle` (a Bundle) is reused across runs when given."""
    bundle = bundle or Bundle()
    rng = random.Random("nowmesh-powercut/%d" % seed)
    node = rng.randrange(1, NODES)
    phase = rng.choices([p for p, _w in PHASES], [w for _p, w in PHASES])[0]
    out = {"seed": seed, "node": node, "phase": phase, "failure": None}
    base = tempfile.mkdtemp(prefix="nm-powercut-%d-" % seed, dir=workdir)
    try:
        if phase == "transfer":
            sim = _transfer_cut(seed, rng, bundle, base, node, out)
        else:
            sim = _make_sim(seed, bundle, base)
            if not sim.run_until_verified():
                out["failure"] = "not every node verified (%d/%d)" % (len(sim.verified_at), NODES)
            else:
                _install_cut(rng, sim, node, out, phase == "rollback")
        if sim is not None and len(sim.verified_at) == NODES:
            out["all_verified_s"] = round(max(sim.verified_at.values()) / 1000.0 - OFFER_AT_S, 1)
        if sim is not None and out["failure"] is None:
            _finish(sim, node, out)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    out["ok"] = out["failure"] is None
    return out


def _finish(sim, node, out):
    states = _install_everywhere(sim, node, out)
    out["outcome"] = states[node]
    out["unbootable"] = sorted(i for i, s in states.items() if s.startswith("unbootable"))
    out["mixed"] = sorted(i for i, s in states.items() if s.startswith("mixed"))
    want = {i: "new" for i in states}
    if out["phase"] == "rollback":
        want[node] = "old"                      # rolled back, and never installed again
    wrong = {i: s for i, s in states.items() if s != want[i]}
    if wrong:
        out["failure"] = "; ".join("node %d: %s" % kv for kv in sorted(wrong.items()))
