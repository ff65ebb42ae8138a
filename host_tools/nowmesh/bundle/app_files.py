"""The user's app (docs/app-api.md): its files as a board gets them.

A board runs the app from `app.mpy` (one module) or the `app/` package
(compiled, `app/__init__.mpy` and its modules). The app is the user's: a
deploy without --app never touches it; a deploy with --app manages these
names one by one (the other of the two forms, and a leftover source `app.py`
that would shadow `app.mpy` on import, are removed).

    app_files("examples/greenhouse", Compiler.native())  # {"app.mpy": b"M..."}
"""
import os

from nowmesh.errors import InputError

APP_MODULE = "app.mpy"
APP_SOURCE = "app.py"         # never sent; removed if found (it would be imported instead)
APP_PACKAGE = "app"
MANAGED_FILES = (APP_MODULE, APP_SOURCE)


def _sources(path):
    """-> [(board path of the .mpy, source path)] for a file, a folder with
    app.py, or a folder with an app/ package."""
    if os.path.isfile(path):
        if not path.endswith(".py"):
            raise InputError("command line", "--app", "%s is not a .py file" % path)
        return [(APP_MODULE, path)]
    package = os.path.join(path, APP_PACKAGE)
    if os.path.isfile(os.path.join(package, "__init__.py")):
        found = []
        for folder, dirs, files in os.walk(package):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            rel = os.path.relpath(folder, path).replace(os.sep, "/")
            found.extend((rel + "/" + f[:-3] + ".mpy", os.path.join(folder, f))
                         for f in sorted(files) if f.endswith(".py"))
        return found
    module = os.path.join(path, APP_SOURCE)
    if os.path.isfile(module):
        return [(APP_MODULE, module)]
    raise InputError("command line", "--app",
                     "%s holds neither app.py nor an app/ package with __init__.py" % path)


def app_files(path, compiler):
    """-> {board path: .mpy bytes} of the app at `path` (mpy-cross, cached)."""
    return {board: compiler.compile(source, board[:-4] + ".py") for board, source in _sources(path)}
