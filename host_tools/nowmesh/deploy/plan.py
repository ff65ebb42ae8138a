"""What a deploy has to do: compare the local tree with the hashes the board
computed, and decide what to send, what to commit and what to remove.

Safety rule: nothing the running firmware uses is touched until everything
new is staged ("<path>.nmnew", hash-checked on the board). The commit renames
packages first and main.py last, so an unplug at any moment leaves either the
old or the new firmware (or, for the few milliseconds of the commit, a mix
that main.py reports and the next deploy completes) - never no main.py.
"""
from nowmesh.bundle.build import sha256
from nowmesh.deploy.device import STAGED

# Commit order: lower first. main.py last: it is what boots.
_LAST = {"board.json": 1, "nowmesh.json": 2, "boot.py": 3, "main.py": 4}


def commit_order(path):
    return (_LAST.get(path, 0), path)


class Plan:
    def __init__(self):
        self.send = []         # [(path, bytes, sha256)] to stage
        self.commit = []       # paths whose staged copy is renamed into place
        self.remove = []       # stale files of ours, stray staged files, then empty stale dirs
        self.mkdirs = []       # directories to create before staging
        self.unchanged = []    # paths already identical on the board

    @property
    def bytes_to_send(self):
        return sum(len(data) for _, data, _ in self.send)

    @property
    def nothing_to_do(self):
        return not (self.send or self.commit or self.remove or self.mkdirs)


def _parents(path):
    parts = path.split("/")[:-1]
    return ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]


def make_plan(local, board_files, board_dirs, our_dirs, our_files=()):
    """local: {path: bytes}; board_files: {path: sha256} as listed on the
    board (staged copies included); board_dirs: our directories that exist
    there; our_dirs: top-level directories the deploy owns (stale files are
    removed only inside them); our_files: top-level files it removes when
    `local` does not have them (the other form of the user's app)."""
    plan = Plan()
    wanted = {path: sha256(data) for path, data in local.items()}
    for path in sorted(local, key=commit_order):
        digest = wanted[path]
        if board_files.get(path) == digest:
            plan.unchanged.append(path)
            continue
        if board_files.get(path + STAGED) != digest:
            plan.send.append((path, local[path], digest))
        plan.commit.append(path)
    staged_ok = set(p + STAGED for p in plan.commit)
    for path in sorted(board_files):
        if path in wanted or path in staged_ok:
            continue
        if path.endswith(STAGED) or path.split("/")[0] in our_dirs or path in our_files:
            plan.remove.append(path)
    needed_dirs = set(d for path in local for d in _parents(path))
    stale_dirs = [d for d in board_dirs if d not in needed_dirs and d.split("/")[0] in our_dirs]
    plan.remove.extend(sorted(stale_dirs, key=lambda d: -d.count("/")))     # deepest first
    existing = set(board_dirs) | set(d for path in board_files for d in _parents(path))
    plan.mkdirs = sorted(needed_dirs - existing, key=lambda d: d.count("/"))
    return plan
