"""The emulated board's heap follows what its flash holds, boot by boot
(nowmesh.emulation.mesh.heap_for_flash, docs/emulated-node.md "Heap")."""
import json

import pytest

from nowmesh.emulation.mesh import APP_HEAP, DEFAULT_HEAP, heap_for_flash


@pytest.mark.parametrize("files, want", [
    ({}, DEFAULT_HEAP),
    ({"nowmesh.json": {"name": "n1"}}, DEFAULT_HEAP),
    ({"app.py": "async def main(mesh): pass\n"}, APP_HEAP),
    ({"app.mpy": "M"}, APP_HEAP),
    ({"app/__init__.py": ""}, APP_HEAP),
    ({"nowmesh.json": {"name": "n1", "wifi": {"ssid": "home", "password": "x"}}}, APP_HEAP),
    ({"nowmesh.json": "{not json"}, DEFAULT_HEAP),
    ({"nowmesh.json": ["a", "list"]}, DEFAULT_HEAP),
])
def test_the_heap_follows_the_flash(tmp_path, files, want):
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content))
    assert heap_for_flash(str(tmp_path)) == want
