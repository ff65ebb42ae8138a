"""The core's parts talk through narrow interfaces (docs/architecture.md).

MeshPolicy's parts (Unicast, AntiEntropy) hold a PartServices, never the
policy: they call only what it lists. No core module reaches into another
object's private attributes (`other._name`). Checked on the source with ast
(CPython only: MicroPython has no ast module).
"""
import ast
import os

CORE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware", "mesh")
PARTS = ("unicast.py", "antientropy.py")


def _tree(name):
    with open(os.path.join(CORE, name), encoding="utf-8") as f:
        return ast.parse(f.read(), name)


def _services():
    """The attributes PartServices.__init__ sets."""
    for node in ast.walk(_tree("mesh.py")):
        if isinstance(node, ast.ClassDef) and node.name == "PartServices":
            return {t.attr for n in ast.walk(node) if isinstance(n, ast.Assign)
                    for t in n.targets if isinstance(t, ast.Attribute)}
    return set()


def test_the_parts_use_only_what_part_services_offers():
    offered = _services()
    assert {"send", "jitter", "routes"} <= offered
    for name in PARTS:
        used = {n.attr for n in ast.walk(_tree(name)) if isinstance(n, ast.Attribute)
                and isinstance(n.value, ast.Attribute) and n.value.attr == "p"
                and isinstance(n.value.value, ast.Name) and n.value.value.id == "self"}
        assert used and used <= offered, (name, used - offered)


def test_the_parts_are_not_handed_the_policy():
    for node in ast.walk(_tree("mesh.py")):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("Unicast", "AntiEntropy"):
            passed = [a.id for a in node.args if isinstance(a, ast.Name)]
            assert "self" not in passed, node.func.id


def test_no_core_module_reads_another_objects_private_attributes():
    for name in sorted(os.listdir(CORE)):
        if not name.endswith(".py"):
            continue
        for node in ast.walk(_tree(name)):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                owner = node.value
                assert isinstance(owner, ast.Name) and owner.id in ("self", "cls"), \
                    "%s:%d reaches into %s" % (name, node.lineno, ast.dump(node)[:80])
