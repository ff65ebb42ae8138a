// The heap the user app API (issue #15) adds, on MicroPython's 32-bit
// WebAssembly port (as bench/heap32_runner.mjs; see there for why every
// gc.mem_alloc() is read in a runPython call of its own). Prints one JSON line.
// Usage: node bench/app_heap_runner.mjs PACKAGE_DIR REPO_ROOT BEFORE_APP_PY
//   BEFORE_APP_PY: meshport/app.py before the API (git show), imported as
//   meshport.app_before beside today's, so both are priced in one run.
import fs from "fs";
import path from "path";
import { loadUpy } from "./wasm_upy.mjs";

const [packageDir, root, beforeApp] = process.argv.slice(2);
const upy = await loadUpy(packageDir);
const { lines } = upy;
const run = (code) => upy.run(code);
upy.copyTree(path.join(root, "firmware"), "/nowmesh/firmware");
upy.copyTree(path.join(root, "tests", "port"), "/nowmesh/tests/port");
upy.mp.FS.writeFile("/nowmesh/firmware/meshport/app_before.py", fs.readFileSync(beforeApp));

// Window i: what one statement leaves on the heap, read before and after in calls of their own.
const names = [];
function measure(name, code) {
    run(`m.append(gc.mem_alloc()); gc.collect()`);
    run(code + "\ngc.collect()");
    run(`m.append(gc.mem_alloc()); gc.collect()`);
    names.push(name);
}

run(`
import gc, json, sys
sys.path[:0] = ["/nowmesh/firmware", "/nowmesh/tests/port"]
import portfakes
portfakes.install()
import mesh.node, mesh.channels, meshport.commands, meshport.gateway, meshport.sensors
import meshport.console, meshport.radio, meshport.settings, meshport.store, meshport.led, meshport.clock
m = []
held = []
class Fake:
    pass
def fake_app():
    a = Fake()
    a.node = Fake()
    a.node.id = b"\\x02NM\\x00\\x00\\x01"
    a.node.name = "n1"
    a.port = {"interval_s": 10}
    a.name_of = lambda node_id: "n2"
    return a
VALUES = [("temp", 21.5, "C"), ("rh", 40.5, "%"), ("temp_mcu", 41.0, "C"), ("uptime", 1234, "s"),
          ("heap", 40000, "B")]
gc.collect()
`);
run("preloaded = [k for k in ('asyncio', 'asyncio.core') if k in sys.modules]");
measure("asyncio", "import asyncio");
measure("port_loop_before", "import meshport.app_before");
measure("port_loop_now", "import meshport.app");
measure("api_code", "import meshport.userapp");       // with usertask and appapi: every app loads these
measure("api_part_readings", "import meshport.app_readings");   // only an app that names readings()
measure("api_part_requests", "import meshport.app_requests");   // only an app that names request()
measure("api_objects", `
app = fake_app()
user = meshport.userapp.UserApp(app)
app.user = user
held.append(user)
`);
measure("readings_queue_full", `
sub = user.mesh.readings()
for seq in range(meshport.app_readings.QUEUE_LEN):
    user.on_reading(bytes([2, 78, 77, 0, 0, seq]), seq, VALUES)
`);
run("print(json.dumps({'preloaded': preloaded, 'm': m, 'maxsize': sys.maxsize, 'version': '.'.join([str(v) for v in sys.implementation.version[:3]])}))");
const out = JSON.parse(lines[lines.length - 1]);
const result = { maxsize: out.maxsize, version: out.version, preloaded: out.preloaded };
names.forEach((name, i) => { result[name] = out.m[2 * i + 1] - out.m[2 * i]; });
console.log(JSON.stringify(result));
