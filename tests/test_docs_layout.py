"""The README's layout table and docs/architecture.md match the tree: every
folder they name exists, and every package is on the map."""
import os
import re

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = os.path.join(REPO, "host_tools", "nowmesh")


def _read(path):
    with open(os.path.join(REPO, path), encoding="utf-8") as f:
        return f.read()


def _table_paths(text, heading):
    """Backticked paths in the first column of the table under `heading`."""
    section = text.split(heading, 1)[1].split("\n## ", 1)[0]
    paths = []
    for line in section.splitlines():
        if line.startswith("| `"):
            paths += re.findall(r"`([^`]+)`", line.split("|")[1])
    return paths


def _host_packages():
    found = []
    for name in sorted(os.listdir(HOST)):
        if os.path.isfile(os.path.join(HOST, name, "__init__.py")):
            found.append(name)
    return found


def _resolve(path, previous, roots=("",)):
    """A table entry as an existing repo path, or None. An entry may be short
    for a sibling or a child of the one before it (`query/` after
    `host_tools/nowmesh/console/`, `commands/` after `host_tools/nowmesh/`)."""
    candidates = [os.path.join(root, path) for root in roots]
    if previous:
        candidates += [os.path.join(os.path.dirname(previous.rstrip("/")), path),
                       os.path.join(previous.rstrip("/"), path)]
    return next((c for c in candidates if os.path.exists(os.path.join(REPO, c))), None)


def test_every_folder_in_the_readme_table_exists():
    previous = None
    paths = _table_paths(_read("README.md"), "## What is here")
    assert len(paths) >= 10
    for path in paths:
        previous = _resolve(path, previous)
        assert previous, path


def test_every_host_package_is_in_the_readme_table_and_the_architecture_map():
    readme = " ".join(_table_paths(_read("README.md"), "## What is here"))
    architecture = " ".join(_table_paths(_read("docs/architecture.md"), "## Which folder owns what"))
    for package in _host_packages():
        assert package + "/" in readme, "README's layout table does not name host_tools/nowmesh/%s/" % package
        assert package + "/" in architecture, "docs/architecture.md does not name %s/" % package


def test_every_folder_on_the_architecture_map_exists():
    previous = None
    paths = _table_paths(_read("docs/architecture.md"), "## Which folder owns what")
    assert len(paths) >= 15
    for path in paths:
        previous = _resolve(path, previous, roots=("", "host_tools/nowmesh", "firmware"))
        assert previous, path
