// Runs tests/core/test_mesh_heap.py's measurement on MicroPython's WebAssembly
// port (32-bit: wasm32 pointers are 4 bytes) and prints one JSON line.
// Usage: node bench/heap32_runner.mjs PACKAGE_DIR REPO_ROOT [PYSTACK_WORDS]
//   PACKAGE_DIR: node_modules/@micropython/micropython-webassembly-pyscript
//   PYSTACK_WORDS: the Python stack, malloc'd before the GC heap; its size
//   moves the heap's address, which bench/heap32.py varies (see there).
//
// Why several runPython calls: this port grows its heap on demand
// (MICROPY_GC_SPLIT_HEAP_AUTO), so gc.collect() inside Python only marks a
// collection pending; it really runs when control returns to JavaScript, with
// no stack roots. Each gc.mem_alloc() is therefore read in a call of its own,
// after the previous call has returned and collected.
import path from "path";
import { loadUpy } from "./wasm_upy.mjs";

const [packageDir, root, pystackWords] = process.argv.slice(2);
// pystack: the Python stack, malloc'd before the heap (moves the heap's address)
const upy = await loadUpy(packageDir, pystackWords || "2048");
const { lines } = upy;
const run = (code) => upy.run(code);
upy.copyTree(path.join(root, "firmware"), "/nowmesh/firmware");
upy.copyTree(path.join(root, "tests", "core"), "/nowmesh/tests/core");

// 1. Import everything (code is not state) and bind every global used below,
//    so later calls only rebind names: no new globals or qstrs in the window.
run(`
import gc, json, sys
sys.path[:0] = ["/nowmesh/firmware", "/nowmesh/tests/core"]
import heapmodel, test_mesh_heap
from mesh import crypto
node = None
before = after = 0
gc.collect()
`);
// 2 and 4 are the same shape, so their own (live) bytecode cancels out.
run("before = gc.mem_alloc(); gc.collect()");
// 3. The test's own builder: one node holding a converged 100-node mesh.
//    (Its internal gc.mem_alloc() figure is meaningless here, see above.)
run("node = test_mesh_heap.heap_for_mesh()[0]; gc.collect()");
run("after = gc.mem_alloc(); gc.collect()");
run(`
priced = heapmodel.price_state(node)
print(json.dumps({
    "heap_bytes": after - before,
    "model_32bit_bytes": priced["model_32bit_bytes"],
    "model_64bit_bytes": priced["model_64bit_bytes"],
    "allocations": priced["allocations"],
    "maxsize": sys.maxsize,
    "version": ".".join([str(v) for v in sys.implementation.version[:3]]),
    "build": getattr(sys.implementation, "_build", ""),
    "has_cryptolib": crypto.cryptolib is not None,
    "readings": len(node.readings),
    "neighbours": len(node.neighbours),
    "routes": len(node.policy.routes),
}))
`);
console.log(lines[lines.length - 1]);
