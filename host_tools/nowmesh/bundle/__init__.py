"""The firmware bundle: everything a board gets, from one place.

- tree: where the firmware tree, board profiles and examples are (package
  data of this package: `nowmesh.bundle.firmware`, `.boards`, `.examples`;
  setup.py maps them to firmware/, boards/ and examples/ of a checkout, so
  a built wheel carries them and nothing is copied in git);
- manifest: what ships (firmware/manifest.py: module() and package(), as
  micropython-lib's manifests) and the one walk over the tree;
- build: board_files(Compiler) -> {board path: bytes}, packages compiled with
  mpy-cross, cached per .mpy version;
- keys: the network and operator key files, the nodes' admin keys;
- node_files: nowmesh.json and the board profile;
- core: load(), the explicit loader of the mesh core for CPython (the simulator).

Deploy (nowmesh.deploy), image (nowmesh.image) and the emulator take their
files from here:

    from nowmesh.bundle import Compiler, board_files, node_files
    files = board_files(Compiler.native())          # boot.py, main.py, mesh/*.mpy, ...
    files.update(node_files({"name": "n1", "key": key, "channel": 1}, profile))
"""
from nowmesh.bundle.build import Compiler, board_files  # noqa: F401
from nowmesh.bundle.manifest import LIBRARY_FILES, PACKAGES, SOURCE_FILES  # noqa: F401
from nowmesh.bundle.keys import (KEY_FILE, OPERATOR_KEY_FILE, admin_fields, load_or_create_key,  # noqa: F401
                                 load_or_create_operator_key, load_operator_key, mac_admin_id,
                                 write_key_file)
from nowmesh.bundle.node_files import CONFIG, check_config, config_bytes, node_config, node_files  # noqa: F401
from nowmesh.bundle.tree import boards_dir, examples_dir, firmware_dir  # noqa: F401
