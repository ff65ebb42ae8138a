# The app API's parts (meshport.appapi.PARTS): userapp.preload imports at
# boot the parts the app's code names, and only those, from app.py, app.mpy
# or an app/ package (docs/app-api.md "Budget").
import os

import portfakes

portfakes.install()

from meshport import userapp  # noqa: E402
# imported from the repository root (MICROPYPATH is relative and the tests
# chdir into fake flash dirs): preload finds them in sys.modules
from meshport import app_readings, app_requests  # noqa: E402,F401

from test_port import BASE, _fresh_dir  # noqa: E402


def _preload(files):
    d = _fresh_dir("parts")
    os.chdir(d)
    try:
        for path, text in files.items():
            if "/" in path:
                try:
                    os.mkdir(path.split("/")[0])
                except OSError:
                    pass
            with open(path, "wb") as f:
                f.write(text)
        return sorted(userapp.preload())
    finally:
        for path in files:
            os.remove(path)
        if any("/" in path for path in files):
            os.rmdir("app")
        os.chdir(BASE)


def test_only_the_parts_the_app_names_are_imported():
    assert _preload({"app.py": b"async def main(mesh):\n    mesh.publish({'a': 1})\n"}) == []
    assert _preload({"app.py": b"async def main(mesh):\n    async for r in mesh.readings():\n        pass\n"}) \
        == ["app_readings"]
    both = b"async def main(mesh):\n    await mesh.request('barn', 'x')\n    mesh.readings()\n"
    assert _preload({"app.mpy": both}) == ["app_readings", "app_requests"]


def test_an_app_package_is_scanned_module_by_module():
    files = {"app/__init__.py": b"from .pump import main\n",
             "app/pump.py": b"async def main(mesh):\n    await mesh.request('barn', 'x')\n"}
    assert _preload(files) == ["app_requests"]
