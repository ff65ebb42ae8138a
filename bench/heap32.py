"""heap32: the mesh core's heap measured on a real 32-bit MicroPython.

tests/core/test_mesh_heap.py measures one node holding a 100-node mesh with
gc.mem_alloc() under the unix `micropython`, which is 64-bit; issue 3's
target (32 KB) is for an ESP32, which is 32-bit. MicroPython's WebAssembly
port is 32-bit too (wasm32: 4-byte pointers, 16-byte GC blocks, 31-bit small
ints, like an ESP32), and npm ships it. This runs the test's own builder
(heap_for_mesh) there, via bench/heap32_runner.mjs, and the same builder
under the unix port for the 64-bit figure, and prints both side by side.

    .venv/bin/python bench/run.py --only heap32
    .venv/bin/python bench/heap32.py [--root DIR]   # e.g. an exported commit

The npm package is installed into bench/.npm/ (gitignored) on first use.
Without node or npm the benchmark reports {"skipped": reason}.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NPM_DIR = os.path.join(HERE, ".npm")
PACKAGE = "@micropython/micropython-webassembly-pyscript"
VERSION = "1.27.0"
PACKAGE_DIR = os.path.join(NPM_DIR, "node_modules", *PACKAGE.split("/"))
TARGET = 32 * 1024
# MicroPython's GC is conservative: any word in a live block that looks like
# a pointer into the heap keeps that block alive. Where the heap sits changes
# which words look so, and moving it (by the Python stack's size, allocated
# before it) moves this port's figure by up to ~3% with the very same state
# (heapmodel prices it the same each time). So it is measured at several
# heap addresses and the median is quoted, with min and max.
PYSTACK_LAYOUTS = (2048, 3000, 4096, 6000, 8192, 16384)

# The 64-bit side: the very call the test makes, in a fresh process. With
# aes="off" the core runs its own no-cryptolib path (authenticated frames,
# Keys._ecb = None), exactly as in the wasm build, which has no cryptolib:
# that pair differs only in word size.
_UNIX_PROBE = """
import json
import heapmodel, test_mesh_heap
from mesh import crypto
if %r == "off":
    crypto.cryptolib = None
node, held = test_mesh_heap.heap_for_mesh()
print(json.dumps(dict(heapmodel.price_state(node), heap_bytes=held)))
"""
# In a function: new globals would grow __main__'s dict inside the window.
_AES_PROBE = """
import gc, cryptolib
def aes_bytes(key):
    gc.collect()
    before = gc.mem_alloc()
    ecb = cryptolib.aes(key, 1)
    gc.collect()
    return gc.mem_alloc() - before, ecb
print(aes_bytes(bytes(16))[0])
"""


def ensure_package():
    """-> None when the wasm MicroPython is ready, else why it can't be."""
    if shutil.which("node") is None:
        return "node (Node.js) is not installed"
    try:
        with open(os.path.join(PACKAGE_DIR, "package.json")) as f:
            if json.load(f).get("version") == VERSION:
                return None
    except (OSError, ValueError):
        pass
    if shutil.which("npm") is None:
        return "npm is not installed (needed once to fetch %s@%s)" % (PACKAGE, VERSION)
    print("  installing %s@%s into %s ..." % (PACKAGE, VERSION, os.path.relpath(NPM_DIR, ROOT)), flush=True)
    proc = subprocess.run(["npm", "install", "--prefix", NPM_DIR, "--no-audit", "--no-fund",
                           "--loglevel=error", "%s@%s" % (PACKAGE, VERSION)],
                          capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        return "npm install %s@%s failed: %s" % (PACKAGE, VERSION, (proc.stderr.strip().splitlines() or ["?"])[-1])
    return None


def measure_wasm(root, pystack_words):
    proc = subprocess.run(["node", os.path.join(HERE, "heap32_runner.mjs"), PACKAGE_DIR, root,
                           str(pystack_words)], capture_output=True, text=True, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError("wasm MicroPython run failed:\n" + proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_wasm_layouts(root):
    """-> the first run's details, with heap_bytes over every layout."""
    runs = [measure_wasm(root, words) for words in PYSTACK_LAYOUTS]
    if len(set(r["model_32bit_bytes"] for r in runs)) != 1:
        raise RuntimeError("the state differs between heap layouts: %r" % [r["model_32bit_bytes"] for r in runs])
    return dict(runs[0], runs=[r["heap_bytes"] for r in runs])


def _unix_micropython():
    upy = os.path.join(os.path.dirname(sys.executable), "micropython")
    return upy if os.path.exists(upy) else shutil.which("micropython")


def measure_unix(root, upy, code):
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([os.path.join(root, "firmware"),
                                                        os.path.join(root, "tests", "core")]))
    proc = subprocess.run([upy, "-X", "heapsize=2M", "-c", code], capture_output=True, text=True,
                          env=env, timeout=300)
    if proc.returncode != 0:
        raise RuntimeError("unix micropython run failed:\n" + proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(root=ROOT):
    why = ensure_package()
    if why:
        print("  heap32 skipped: %s" % why)
        return {"skipped": why}
    w = measure_wasm_layouts(root)
    if w["maxsize"] != 2 ** 31 - 1:
        raise RuntimeError("the wasm MicroPython is not 32-bit: sys.maxsize = %d" % w["maxsize"])
    runs = sorted(w["runs"])
    result = {
        "heap_bytes_32bit": runs[len(runs) // 2],
        "heap_bytes_32bit_min": runs[0],
        "heap_bytes_32bit_max": runs[-1],
        "heap_bytes_32bit_runs": dict(zip(["pystack_%d" % n for n in PYSTACK_LAYOUTS], w["runs"])),
        "model_32bit_bytes": w["model_32bit_bytes"],   # heapmodel walking the 32-bit state
        "allocations": w["allocations"],
        "state": {"readings": w["readings"], "neighbours": w["neighbours"], "routes": w["routes"]},
        "wasm": {"package": "%s@%s" % (PACKAGE, VERSION), "micropython": w["version"],
                 "build": w["build"], "sys_maxsize": w["maxsize"], "has_cryptolib": w["has_cryptolib"]},
        "target_bytes": TARGET,
        "target_met_32bit": runs[-1] <= TARGET,          # even the largest run
        "substituted": None if w["has_cryptolib"] else (
            "no cryptolib in the wasm build: the core's own fallback ran (frames authenticated, "
            "not encrypted; Keys._ecb is None), so the C AES object is not in heap_bytes_32bit"),
    }
    upy = _unix_micropython()
    if upy is None:
        print("  no unix micropython (make venv installs it): 64-bit figures left out")
        return result
    u = measure_unix(root, upy, _UNIX_PROBE % "on")
    bare = measure_unix(root, upy, _UNIX_PROBE % "off")
    result.update({
        "heap_bytes_64bit": u["heap_bytes"],                  # as tests/core/test_mesh_heap.py
        "heap_bytes_64bit_without_aes": bare["heap_bytes"],   # like for like with the wasm run
        "model_64bit_bytes": u["model_64bit_bytes"],
        "model_32bit_bytes_priced_on_64bit": u["model_32bit_bytes"],  # the test's 32-bit estimate
        "aes_object_bytes_64bit": int(subprocess.run([upy, "-c", _AES_PROBE], capture_output=True,
                                                     text=True, timeout=60).stdout.strip() or 0),
    })
    result["ratio_32_to_64bit"] = round(result["heap_bytes_32bit"] / bare["heap_bytes"], 3)
    return result


def print_table(r):
    if "skipped" in r:
        return
    rows = [("32-bit, wasm MicroPython %s (no AES object), median" % r["wasm"]["micropython"],
             r["heap_bytes_32bit"], r["model_32bit_bytes"])]
    if "heap_bytes_64bit" in r:
        rows += [("64-bit, unix micropython, no AES object", r["heap_bytes_64bit_without_aes"], None),
                 ("64-bit, unix micropython (as test_mesh_heap)", r["heap_bytes_64bit"], r["model_64bit_bytes"]),
                 ("32-bit model priced on 64-bit (the test's estimate)", None,
                  r["model_32bit_bytes_priced_on_64bit"])]
    print("  %-60s %12s %12s" % ("one node, 100-node mesh state", "gc.mem_alloc", "heapmodel"))
    for name, measured, model in rows:
        print("  %-60s %12s %12s" % (name, "" if measured is None else "{:,}".format(measured),
                                     "" if model is None else "{:,}".format(model)))
    print("  32-bit over %d heap addresses: min {:,}, max {:,} (conservative GC, see PYSTACK_LAYOUTS)".format(
        r["heap_bytes_32bit_min"], r["heap_bytes_32bit_max"]) % len(r["heap_bytes_32bit_runs"]))
    print("  32-bit target %s B: %s" % ("{:,}".format(r["target_bytes"]),
                                        "met (every run)" if r["target_met_32bit"] else "NOT met"))
    if r.get("substituted"):
        print("  note: %s (%s B on 64-bit)" % (r["substituted"], r.get("aes_object_bytes_64bit", "?")))


def run(quick=False):
    """bench/run.py's entry point (quick changes nothing: it all takes a few seconds)."""
    result = measure()
    print_table(result)
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=ROOT, help="tree holding firmware/ and tests/core/")
    args = parser.parse_args(argv)
    result = measure(os.path.abspath(args.root))
    print_table(result)
    print(json.dumps(result, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
