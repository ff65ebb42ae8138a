"""`nowmesh image` end to end on fake firmware: the images, their LittleFS
(read back with littlefs-python and with MicroPython's own VfsLfs2), the
manifest, the shared key file, and what it refuses."""
import hashlib
import json
import os
import stat
import subprocess

import pytest

from imagefakes import APP, DATA, POST_126, PRE_126, firmware
from nowmesh.bundle import LIBRARY_FILES, firmware_dir
from nowmesh.bundle.keys import ota_public_key
from nowmesh.cli import main
from nowmesh.emulation.board.pty_board import default_micropython
from nowmesh.image import fsimage
from nowmesh.bundle import core

core.load()     # the firmware's `mesh` on the host (the admin module reads operator keys)
from mesh import admin  # noqa: E402

FIRMWARE = firmware_dir()


def firmware_paths():
    """What the filesystem must hold besides config and board profile."""
    paths = {"boot.py", "main.py"} | set(LIBRARY_FILES)     # micropython-lib modules the manifest requires
    for package in ("mesh", "meshport"):
        for root, _dirs, files in os.walk(os.path.join(FIRMWARE, package)):
            rel = os.path.relpath(root, FIRMWARE).replace(os.sep, "/")
            paths |= {"%s/%s.mpy" % (rel, f[:-3]) for f in files if f.endswith(".py")}
    return paths


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Images for two nodes from a v1.26 firmware (the filesystem is the rest of the flash)."""
    tmp = tmp_path_factory.mktemp("image")
    fw = tmp / "micropython.bin"
    fw.write_bytes(firmware(version="v1.26.0", table=POST_126))
    key_file = tmp / "key.json"
    code = main(["image", "--board", "esp32-devkitc", "--firmware", str(fw), "--name", "barn",
                 "--name", "field-1", "--out", str(tmp / "out"), "--key-file", str(key_file),
                 "--channel", "6", "--interval", "5"])
    assert code == 0
    manifest = json.loads((tmp / "out" / "manifest.json").read_text())
    return {"dir": tmp / "out", "fw": fw.read_bytes(), "manifest": manifest, "key_file": key_file}


def region_of(built, name):
    image = (built["dir"] / (name + ".bin")).read_bytes()
    fs = built["manifest"]["filesystem"]
    start = fs["offset"] - built["manifest"]["flash_offset"]
    return image, image[start:start + fs["size"]]


def test_manifest_describes_every_image(built):
    manifest = built["manifest"]
    assert manifest["board"] == "esp32-devkitc" and manifest["flash_offset"] == 0x1000
    assert manifest["firmware"]["version"] == "v1.26.0"
    assert manifest["filesystem"]["offset"] == 0x220000
    assert manifest["filesystem"]["block_count"] == (0x400000 - 0x220000) // 4096
    assert set(manifest["nodes"]) == {"barn", "field-1"}
    for name, node in manifest["nodes"].items():
        data = (built["dir"] / node["file"]).read_bytes()
        assert node["size"] == len(data) == 0x400000 - 0x1000       # up to the end of the 4 MB flash
        assert node["sha256"] == hashlib.sha256(data).hexdigest()
    key = json.loads(built["key_file"].read_text())["key"]
    assert key not in json.dumps(manifest)


def test_image_is_firmware_then_erased_gap_then_filesystem(built):
    image, region = region_of(built, "barn")
    fw = built["fw"]
    assert image[:len(fw)] == fw
    gap = image[len(fw):0x220000 - 0x1000]
    assert gap == b"\xff" * len(gap)
    assert len(region) == 0x1E0000


def test_filesystem_holds_exactly_the_compiled_firmware_and_config(built):
    _, region = region_of(built, "field-1")
    files = fsimage.read(region)
    assert set(files) == firmware_paths() | {"nowmesh.json", "board.json"}
    assert all(files[p][:2] == b"M\x06" for p in files if p.endswith(".mpy"))   # .mpy v6
    with open(os.path.join(FIRMWARE, "main.py"), "rb") as f:
        assert files["main.py"] == f.read()
    config = json.loads(files["nowmesh.json"])
    key = json.loads(built["key_file"].read_text())["key"]
    # the node's own admin key, derived from the operator key made beside the network key
    operator_file = built["key_file"].parent / "nowmesh-operator-key.json"
    operator = json.loads(operator_file.read_text())["operator_key"]
    assert oct(operator_file.stat().st_mode & 0o777) == "0o600"
    admin_key = admin.node_admin_key(bytes.fromhex(operator), "image:field-1").hex()
    assert config == {"name": "field-1", "key": key, "channel": 6, "board": "esp32-devkitc", "interval_s": 5,
                      "admin_key": admin_key, "admin_id": "image:field-1",
                      # the operator's LMS public key: what OTA manifests are checked with (docs/ota.md)
                      "ota_key": ota_public_key(operator)}
    assert operator not in files["nowmesh.json"].decode()        # the master key stays on the laptop
    assert json.loads(files["board.json"])["name"] == "esp32-devkitc"
    assert fsimage.disk_version(region) == 0x00020000


def test_the_user_app_goes_into_every_image(tmp_path):
    fw = tmp_path / "micropython.bin"
    fw.write_bytes(firmware(version="v1.26.0", table=POST_126))
    greenhouse = os.path.join(os.path.dirname(__file__), "..", "..", "examples", "greenhouse")
    assert main(["image", "--board", "esp32-devkitc", "--firmware", str(fw), "--name", "fan", "--out",
                 str(tmp_path / "out"), "--key-file", str(tmp_path / "key.json"), "--app", greenhouse]) == 0
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    fs = manifest["filesystem"]
    image = (tmp_path / "out" / "fan.bin").read_bytes()
    start = fs["offset"] - manifest["flash_offset"]
    files = fsimage.read(image[start:start + fs["size"]])
    assert set(files) == firmware_paths() | {"nowmesh.json", "board.json", "app.mpy"}
    assert files["app.mpy"][:2] == b"M\x06"


def test_each_node_gets_its_own_config(built):
    names = {json.loads(fsimage.read(region_of(built, n)[1])["nowmesh.json"])["name"]
             for n in ("barn", "field-1")}
    assert names == {"barn", "field-1"}


def test_micropython_itself_mounts_the_filesystem(built, tmp_path):
    """MicroPython's VfsLfs2 (readsize/progsize/lookahead 32, as on ESP32) mounts it."""
    _, region = region_of(built, "barn")
    (tmp_path / "fs.bin").write_bytes(region)
    script = tmp_path / "mount.py"
    script.write_text(
        "import vfs, os, json\n"
        "class Dev:\n"
        "    def __init__(s, p):\n"
        "        s.f = open(p, 'rb'); s.f.seek(0, 2); s.n = s.f.tell() // 4096\n"
        "    def readblocks(s, b, buf, off=0):\n"
        "        s.f.seek(b * 4096 + off); s.f.readinto(buf)\n"
        "    def writeblocks(s, b, buf, off=0):\n"
        "        raise OSError(30)\n"
        "    def ioctl(s, op, arg):\n"
        "        return s.n if op == 4 else 4096 if op == 5 else 0\n"
        "vfs.mount(vfs.VfsLfs2(Dev('fs.bin'), readsize=32, progsize=32, lookahead=32), '/f')\n"
        "print(sorted(os.listdir('/f')), json.load(open('/f/nowmesh.json'))['name'])\n")
    out = subprocess.run([default_micropython(), str(script)], cwd=tmp_path, capture_output=True,
                         text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    tops = {"board.json", "boot.py", "main.py", "mesh", "meshport", "nowmesh.json"}
    assert out.stdout.strip() == "%s barn" % sorted(tops | set(p.split("/")[0] for p in LIBRARY_FILES))


def test_the_key_file_is_private_and_reused(built, tmp_path):
    assert stat.S_IMODE(os.stat(built["key_file"]).st_mode) == 0o600
    fw = tmp_path / "fw.bin"
    fw.write_bytes(firmware(version="v1.25.0", table=PRE_126))
    assert main(["image", "--board", "esp32-devkitc", "--firmware", str(fw), "--name", "n9",
                 "--out", str(tmp_path / "o"), "--key-file", str(built["key_file"])]) == 0
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["filesystem"]["offset"] == 0x200000          # the v1.25 vfs partition
    region = (tmp_path / "o" / "n9.bin").read_bytes()[0x200000 - 0x1000:]
    config = json.loads(fsimage.read(region)["nowmesh.json"])
    assert config["key"] == json.loads(built["key_file"].read_text())["key"]


def run_image(tmp_path, capsys, fw_bytes, *extra, names=("n1",)):
    fw = tmp_path / "fw.bin"
    fw.write_bytes(fw_bytes)
    argv = ["image", "--board", "esp32-devkitc", "--firmware", str(fw), "--out", str(tmp_path / "out"),
            "--key-file", str(tmp_path / "k.json")]
    for name in names:
        argv += ["--name", name]
    code = main(argv + list(extra))
    return code, capsys.readouterr().err


@pytest.mark.parametrize("fw_kw, extra, message", [
    (dict(version="v1.25.0", table=POST_126), (), "no filesystem without one"),
    (dict(version="v1.26.0", table=POST_126), ("--flash-size", "2MB"), "no room for a filesystem"),
    (dict(version="v1.26.0", table=POST_126), ("--flash-size", "3MB"), "flash size must be one of"),
    (dict(version="v1.25.0", table=POST_126[:2] + [("factory", APP, 0, 0x10000, 0x1F0000),
                                                     ("vfs", DATA, 0x81, 0x200000, 0x10000)]),
     (), "do not fit in a 64 KB filesystem"),
    (dict(project="blink"), (), "not MicroPython"),
])
def test_what_cannot_work_is_refused_with_one_line(tmp_path, capsys, fw_kw, extra, message):
    code, err = run_image(tmp_path, capsys, firmware(**fw_kw), *extra)
    assert code == 2
    assert message in err and err.count("\n") == 1
    assert not list(tmp_path.glob("out/*.bin"))
    if "do not fit" not in message:               # refused before anything was made
        assert not (tmp_path / "k.json").exists() and not (tmp_path / "out").exists()


@pytest.mark.parametrize("names, message", [
    (("n1", "n1"), "given twice"), (("bad name",), "letters, digits"), (("x" * 17,), "letters, digits")])
def test_bad_node_names(tmp_path, capsys, names, message):
    code, err = run_image(tmp_path, capsys, firmware(), names=names)
    assert code == 2 and message in err


def test_missing_firmware_file(tmp_path, capsys):
    code = main(["image", "--board", "esp32-devkitc", "--firmware", str(tmp_path / "nope.bin"),
                 "--name", "a", "--out", str(tmp_path / "o"), "--key-file", str(tmp_path / "k.json")])
    assert code == 2 and "cannot read the firmware" in capsys.readouterr().err


def test_bad_channel_is_checked_like_the_node_does(tmp_path, capsys):
    code, err = run_image(tmp_path, capsys, firmware(), "--channel", "15")
    assert code == 2 and "channel" in err
