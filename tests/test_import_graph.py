"""The import graph keeps the layers apart (docs/architecture.md).

Every import statement counts, those inside functions too: a module that
imports another only when called still depends on it.
- the core (firmware/mesh) imports nothing from the host side;
- the radio library (nowmesh.radio) imports nothing from the simulator or the emulation;
- the emulation imports the radio library, never the simulator;
- the image and bundle tools never import the emulation (it builds on them);
- outside nowmesh/emulation, only the emulation's public modules are imported;
- no module imports itself through others (no circle).
"""
import ast
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOST = os.path.join(REPO, "host_tools")
FIRMWARE = os.path.join(REPO, "firmware")
# What the rest of the host package may import from the emulation.
EMULATION_PUBLIC = {"nowmesh.emulation", "nowmesh.emulation.mesh", "nowmesh.emulation.control",
                    "nowmesh.emulation.registry", "nowmesh.emulation.capture", "nowmesh.emulation.replay",
                    "nowmesh.emulation.live_demo", "nowmesh.emulation.rom", "nowmesh.emulation.board"}
# Not host modules: they run inside the emulated boards' micropython.
DEVICE_DIR = os.path.join(HOST, "nowmesh", "emulation", "device")


def _modules(root, skip=None):
    """{dotted name: path} of the Python modules under root."""
    found = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__" and not d.endswith(".egg-info")
                   and os.path.join(folder, d) != skip]
        for name in files:
            if name.endswith(".py"):
                rel = os.path.relpath(os.path.join(folder, name), root)[:-3].split(os.sep)
                if rel[-1] == "__init__":
                    rel = rel[:-1]
                found[".".join(rel)] = os.path.join(folder, name)
    return found


def _imports(name, path, known):
    """The known modules `name` imports (every statement, nested ones too)."""
    tree = ast.parse(open(path, encoding="utf-8").read(), path)
    package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            # `from X import a`: the module X.a if there is one, else X itself
            # (a package's own __init__ runs either way, as for any submodule).
            targets = [base + "." + alias.name if base + "." + alias.name in known else base
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def _graph(modules):
    return {name: _imports(name, path, modules) for name, path in modules.items()}


HOST_MODULES = _modules(HOST, skip=DEVICE_DIR)
HOST_GRAPH = _graph(HOST_MODULES)


def _violations(graph, source_prefix, forbidden):
    return sorted((src, dst) for src, dsts in graph.items() if _under(src, source_prefix)
                  for dst in dsts if any(_under(dst, f) for f in forbidden))


def _under(name, prefix):
    return name == prefix or name.startswith(prefix + ".")


def test_the_core_imports_nothing_from_the_host_side():
    core = {name: path for name, path in _modules(FIRMWARE).items() if _under(name, "mesh")}
    assert core, "no core modules found"
    for name, path in core.items():
        tree = ast.parse(open(path, encoding="utf-8").read(), path)
        for node in ast.walk(tree):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            for target in names:
                assert not _under(target, "nowmesh") and not _under(target, "meshport"), (name, target)


def test_the_radio_library_imports_neither_simulator_nor_emulation():
    assert any(_under(n, "nowmesh.radio") for n in HOST_GRAPH)
    assert _violations(HOST_GRAPH, "nowmesh.radio", ["nowmesh.sim", "nowmesh.emulation"]) == []


def test_the_emulation_depends_on_the_radio_not_on_the_simulator():
    assert _violations(HOST_GRAPH, "nowmesh.emulation", ["nowmesh.sim"]) == []


def test_image_and_bundle_do_not_import_the_emulation():
    assert _violations(HOST_GRAPH, "nowmesh.image", ["nowmesh.emulation"]) == []
    assert _violations(HOST_GRAPH, "nowmesh.bundle", ["nowmesh.emulation"]) == []


def test_only_the_emulation_imports_its_internals():
    outside = [(src, dst) for src, dsts in HOST_GRAPH.items() if not _under(src, "nowmesh.emulation")
               for dst in dsts if _under(dst, "nowmesh.emulation") and dst not in EMULATION_PUBLIC]
    assert outside == []


def test_no_import_circle():
    cycles = []
    state = {}

    def visit(name, stack):
        state[name] = "open"
        stack.append(name)
        for dst in sorted(HOST_GRAPH.get(name, ())):
            if state.get(dst) == "open":
                cycles.append(stack[stack.index(dst):] + [dst])
            elif dst not in state:
                visit(dst, stack)
        stack.pop()
        state[name] = "done"

    for name in sorted(HOST_GRAPH):
        if name not in state:
            visit(name, [])
    assert cycles == []
