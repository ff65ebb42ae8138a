# Installing a held OTA bundle on a real filesystem (meshport/ota_stage.py,
# meshport/ota_install.py, meshport/ota_boot.py, docs/ota.md): staged, checked against the signed
# manifest, switched with main.py last, on trial until confirmed, rolled back
# after 3 unconfirmed boots -- and a power cut before every single change to
# the flash (install, roll-forward and rollback alike) boots the old tree or
# the new one, never a mix. Runs under micropython (make test-upy) and
# CPython (tests/ota/test_ota_install_cpython.py).
import os
import sys

for _folder in ("tests/core", "tests/port", "tests"):
    if _folder not in sys.path:
        sys.path.append(_folder)

from meshhelp import make_node  # noqa: E402
from meshport import ota_boot, ota_port, ota_stage  # noqa: E402
import ota_manifest_vectors as mv  # noqa: E402
from test_ota_port import PAGES, PUB_HEX, V100, _fresh_dir  # noqa: E402

OLD = {"main.py": b"# old main\n", "boot.py": b"# old boot\n", "mesh/a.mpy": b"old a",
       "mesh/gone.mpy": b"a file the new bundle does not have"}
USER = {"nowmesh.json": b'{"name": "n1"}', "app.py": b"# the user's app\n", "lib/x.py": b"# mip\n"}
NEW = mv.FILES                     # main.py, boot.py, mesh/a.mpy of the signed V100


HOME = os.getcwd()                 # each test runs in a board's root, then comes back


def _at_home(test):
    def run():
        try:
            test()
        finally:
            os.chdir(HOME)
    return run


class Cut(Exception):
    pass


def _write(path, data):
    parts = path.split("/")
    for i in range(1, len(parts)):
        try:
            os.mkdir("/".join(parts[:i]))
        except OSError:
            pass
    with open(path, "wb") as f:
        f.write(data)


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


class Board:
    """A board's flash with the old tree, the user's files and the whole of
    V100 held in ota/ (as dissemination leaves it); cwd is its root."""

    def __init__(self):
        self.root = _fresh_dir()
        os.chdir(self.root)
        for path, data in list(OLD.items()) + list(USER.items()):
            _write(path, data)
        self.part = self.attach()
        assert self.part.offer_manifest(V100, 0) is None
        for index, data in enumerate(PAGES):
            assert self.part.offer_page(index, data, 0) is None

    def attach(self):
        if self.root != os.getcwd():
            os.chdir(self.root)
        return ota_port.attach(make_node(1), PUB_HEX, 0, "ota")

    def install(self, cut=None):
        part = self.part
        ota_stage.install(part.store, part.manifest, part.board.running,
                            part.page_buffer(part.manifest.page_size), 30, cut)

    def tree(self):
        """'old' or 'new' (every file of the one, user files untouched), else a description."""
        for path, data in USER.items():
            assert _read(path) == data, path
        if all(_read(p) == d for p, d in OLD.items()):
            return "old"
        if all(_read(p) == d for p, d in NEW.items()):
            return "new"
        return dict((p, _read(p)) for p in list(OLD) + list(NEW))


def _steps(run):
    names = []
    run(lambda name: names.append(name))
    return names


def _cut_at(k):
    seen = [0]

    def cut(name):
        if seen[0] == k:
            raise Cut(name)
        seen[0] += 1
    return cut


def _running():
    return (ota_boot.read_json(ota_boot.RUNNING) or {}).get("bundle")


@_at_home
def test_install_switches_every_file_and_keeps_the_old_ones_and_the_users():
    board = Board()
    board.install()
    assert board.tree() == "new"
    assert _read("ota/prev/main.py") == OLD["main.py"] and _read("ota/prev/mesh/a.mpy") == OLD["mesh/a.mpy"]
    assert _read("mesh/gone.mpy") == OLD["mesh/gone.mpy"]       # not ours to remove (deploy does)
    assert _running() == board.part.manifest.bundle
    assert ota_boot.run() == "trial"                            # the first boot of the new bundle
    again = board.attach()
    assert again.board.status() == "trial" and again.board.fw() == board.part.manifest.bundle
    assert again.board.step(0, make_node(1)) is None            # no neighbour yet: still on trial
    ota_boot.remove(ota_boot.JOURNAL)                          # what the board does once it hears the mesh
    assert ota_boot.run() is None and board.tree() == "new"


@_at_home
def test_a_power_cut_before_any_change_of_the_install_boots_old_or_new():
    steps = _steps(lambda cut: Board().install(cut))
    assert steps[-1] == "write " + ota_boot.JOURNAL and "write " + ota_boot.JOURNAL in steps[:-1]
    seen = set()
    for k in range(len(steps)):
        board = Board()
        try:
            board.install(_cut_at(k))
            raise AssertionError("no cut at step %d" % k)
        except Cut:
            pass
        ota_boot.run()                                          # the next boot
        state = board.tree()
        assert state in ("old", "new"), (k, steps[k], state)
        assert _running() == (board.part.manifest.bundle if state == "new" else None), (k, steps[k])
        seen.add(state)
    assert seen == {"old", "new"}                              # the commit point is inside the steps


@_at_home
def test_a_cut_during_the_boot_that_finishes_a_switch_still_ends_new():
    board = Board()
    switch_at = _steps(lambda cut: Board().install(cut)).index("write " + ota_boot.JOURNAL)
    try:
        board.install(_cut_at(switch_at + 1))                  # journal "switch" written, no rename yet
    except Cut:
        pass
    journal = _read(ota_boot.JOURNAL)
    files = _read(ota_boot.FILES)
    staged = dict((p, _read(p + ota_boot.STAGED)) for p in NEW)
    boot_steps = _steps(ota_boot.run)
    assert board.tree() == "new" and len(boot_steps) > len(NEW)   # a rename per file, then the states
    for j in range(len(boot_steps)):
        # put the flash back as the install's cut left it, then cut the boot at j
        for p, d in OLD.items():
            _write(p, d)
        for p, d in staged.items():
            _write(p + ota_boot.STAGED, d)
        _write(ota_boot.JOURNAL, journal)
        _write(ota_boot.FILES, files)
        try:
            ota_boot.run(_cut_at(j))
        except Cut:
            pass
        ota_boot.run()
        assert board.tree() == "new", (j, boot_steps[j])


@_at_home
def test_three_unconfirmed_boots_roll_back_and_report_it():
    board = Board()
    board.install()
    for boot in range(3):
        assert ota_boot.run() == "trial", boot
    assert ota_boot.run() is None                               # the 4th boot rolls back
    assert board.tree() == "old" and _read("mesh/gone.mpy") == OLD["mesh/gone.mpy"]
    assert _running() is None
    rolled = ota_boot.read_json(ota_boot.ROLLED_BACK)
    assert rolled["version"] == 100 and "3 boots" in rolled["reason"]
    again = board.attach()
    assert again.board.status().startswith("rolled back 100")
    assert again.board.activate(100, 0) is not None             # never installed again


@_at_home
def test_a_power_cut_before_any_change_of_a_rollback_still_ends_old():
    board = Board()
    board.install()
    for _ in range(3):
        ota_boot.run()
    saved = dict((p, _read(p)) for p in ("ota/install.json", "ota/running.json", "ota/files.txt",
                                          "main.py", "boot.py", "mesh/a.mpy",
                                          "ota/prev/main.py", "ota/prev/boot.py", "ota/prev/mesh/a.mpy"))
    steps = _steps(ota_boot.run)
    for k in range(len(steps)):
        for p, d in saved.items():
            _write(p, d)
        try:
            ota_boot.run(_cut_at(k))
        except Cut:
            pass
        ota_boot.run()
        assert board.tree() == "old", (k, steps[k])


@_at_home
def test_a_page_changed_on_flash_after_it_was_verified_is_not_installed():
    board = Board()
    page = bytearray(PAGES[1])
    page[3] ^= 1
    _write("ota/p1", bytes(page))                               # flash went bad after the check
    try:
        board.install()
        raise AssertionError("installed")
    except ota_stage.InstallError as exc:
        assert "page 1" in str(exc)
    assert board.tree() == "old" and _read(ota_boot.JOURNAL) is None


class _Files:
    def __init__(self, files):
        self._files = files

    def files(self):
        return iter(self._files)


@_at_home
def test_a_bundle_that_would_write_the_users_files_is_refused():
    board = Board()
    for path in ("nowmesh.json", "app.py", "app/__init__.mpy", "ota/install.json", "board.json"):
        try:
            ota_stage.install(board.part.store, _Files([(path, 3)]), {}, bytearray(64))
            raise AssertionError(path)
        except ota_stage.InstallError as exc:
            assert path in str(exc)
    assert board.tree() == "old"


@_at_home
def test_an_install_without_room_for_two_copies_is_refused_with_its_reason():
    board = Board()
    events = []

    class Console:
        def event(self, kind, **fields):
            events.append(fields["args"])
    board.part.board.console = Console()
    board.part.board.free_flash = lambda: 2 * len(mv.IMAGE) - 1
    assert board.part.board.activate(100, 0) is None
    assert board.part.board.step(10 ** 6, make_node(1)) is None
    assert events[-1] == ["refused", 100, "space"] and board.tree() == "old"
    assert board.part.board.status() == "refused 100: space"


@_at_home
def test_a_board_restarted_for_memory_installs_first_thing_after_boot():
    board = Board()
    _write("ota/go.json", b'{"version": 100}')     # an install found no memory and restarted
    again = board.attach()
    assert _read("ota/go.json") is None             # used up: a second failure is final
    assert again.board.step(0, make_node(1)) == "reset"
    ota_boot.run()
    assert board.tree() == "new"
    _write("ota/go.json", b'{"version": 99}')       # a marker for another version does nothing
    assert board.attach().board.install_at is None
