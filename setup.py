"""Packages of the nowmesh wheel (everything else is in pyproject.toml).

The host tools live in host_tools/. The firmware tree, the board profiles and
the examples are package data of nowmesh.bundle, mapped here from their
folders at the top of the checkout: a built wheel carries them, `pip install
-e .` maps the same names onto the checkout, and git holds one copy of each
file (nowmesh.bundle.tree finds them through the import system either way).
"""
from setuptools import find_namespace_packages, setup

DATA = {"nowmesh.bundle.firmware": "firmware", "nowmesh.bundle.boards": "boards",
        "nowmesh.bundle.examples": "examples"}
FIRMWARE_PACKAGES = ("mesh", "meshport")       # folders of the firmware tree (see firmware/manifest.py)

packages = find_namespace_packages("host_tools", include=["nowmesh", "nowmesh.*"])
packages += list(DATA) + ["nowmesh.bundle.firmware.%s" % name for name in FIRMWARE_PACKAGES]

setup(
    packages=packages,
    package_dir=dict({"": "host_tools"}, **DATA),
    package_data={"nowmesh.bundle.boards": ["*.json", "README.md"],
                  "nowmesh.bundle.examples": ["*.json", "*.yaml"]},
    include_package_data=False,
)
