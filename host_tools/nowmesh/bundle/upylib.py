"""micropython-lib modules the firmware uses, taken from their PyPI releases.

`micropython-umqtt.simple` 1.3.4 is an sdist holding only `umqtt/simple.py`
(no setup.py, so pip cannot install it): we fetch that exact file from PyPI,
check its sha256 against the pin below, and keep the extracted module in a
cache folder (NOWMESH_CACHE or ~/.cache/nowmesh). Nothing but PyPI is asked.
"""
import hashlib
import io
import os
import tarfile
import urllib.request

from nowmesh.errors import ToolError

PINS = {
    "umqtt.simple": {
        "dist": "micropython-umqtt.simple", "version": "1.3.4",
        "url": "https://files.pythonhosted.org/packages/bd/cf/697e3418b2f44222b3e848078b1e33ee76aedca9b6c2430ca1b1aec1ce1d/"
               "micropython-umqtt.simple-1.3.4.tar.gz",
        "sha256": "b6a2520239e3992c63a7de9370ee9b3d9d27819a90359c521f1c0f7ccab8d12f",
        "member": "micropython-umqtt.simple-1.3.4/umqtt/simple.py",
        "path": "umqtt/simple.py",
    },
}


def cache_dir():
    return os.environ.get("NOWMESH_CACHE") or os.path.join(os.path.expanduser("~"), ".cache", "nowmesh")


def lib_dir(name="umqtt.simple"):
    """A folder to put on MICROPYPATH (or copy to a board's lib/) holding the
    pinned module; fetched and checked on first use."""
    pin = PINS[name]
    folder = os.path.join(cache_dir(), "upylib", "%s-%s" % (pin["dist"], pin["version"]))
    target = os.path.join(folder, pin["path"])
    if not os.path.exists(target):
        data = _fetch(pin)
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            source = tar.extractfile(pin["member"]).read()
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target + ".tmp", "wb") as f:
            f.write(source)
        os.replace(target + ".tmp", target)
    return folder


def _fetch(pin):
    try:
        with urllib.request.urlopen(pin["url"], timeout=60) as response:
            data = response.read()
    except OSError as exc:
        raise ToolError("cannot fetch %s %s from PyPI: %s" % (pin["dist"], pin["version"], exc)) from None
    if hashlib.sha256(data).hexdigest() != pin["sha256"]:
        raise ToolError("%s %s from PyPI does not match its pinned sha256" % (pin["dist"], pin["version"]))
    return data
