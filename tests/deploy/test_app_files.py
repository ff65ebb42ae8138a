"""The user app's files as a deploy sends them (nowmesh.bundle.app_files),
and the plan's handling of them: owned one by one only with --app."""
import hashlib

import pytest

from nowmesh.bundle import Compiler
from nowmesh.bundle.app_files import MANAGED_FILES, app_files
from nowmesh.deploy.plan import make_plan
from nowmesh.errors import InputError


def test_a_module_a_folder_and_a_package_become_mpy_files(tmp_path):
    compiler = Compiler.native()
    single = tmp_path / "mine.py"
    single.write_text("async def main(mesh):\n    pass\n")
    assert list(app_files(str(single), compiler)) == ["app.mpy"]
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "app.py").write_text("async def main(mesh):\n    pass\n")
    (folder / "test_app.py").write_text("def test(): pass\n")      # the folder's tests stay home
    files = app_files(str(folder), compiler)
    assert list(files) == ["app.mpy"] and files["app.mpy"][:1] == b"M"
    package = tmp_path / "pkg" / "app"
    (package / "drivers").mkdir(parents=True)
    (package / "__init__.py").write_text("from app.drivers.soil import main\n")
    (package / "drivers" / "__init__.py").write_text("")
    (package / "drivers" / "soil.py").write_text("async def main(mesh):\n    pass\n")
    assert sorted(app_files(str(tmp_path / "pkg"), compiler)) == [
        "app/__init__.mpy", "app/drivers/__init__.mpy", "app/drivers/soil.mpy"]


def test_what_is_not_an_app_is_one_clear_error(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(InputError, match="not a .py file"):
        app_files(str(tmp_path / "notes.txt"), Compiler.native())
    with pytest.raises(InputError, match="neither app.py nor an app/ package"):
        app_files(str(tmp_path), Compiler.native())


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def test_the_plan_removes_the_other_app_form_only_when_it_owns_the_app():
    board = {"main.py": _sha(b"m"), "app.mpy": _sha(b"old"), "app.py": _sha(b"src")}
    keep = make_plan({"main.py": b"m"}, board, [], ("mesh", "meshport"))
    assert keep.nothing_to_do                     # a nowmesh deploy without --app
    local = {"main.py": b"m", "app/__init__.mpy": b"new"}
    plan = make_plan(local, board, [], ("mesh", "meshport", "app"), MANAGED_FILES)
    assert sorted(plan.remove) == ["app.mpy", "app.py"]
    assert [path for path, _, _ in plan.send] == ["app/__init__.mpy"] and plan.mkdirs == ["app"]
