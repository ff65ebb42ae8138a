// MicroPython's 32-bit WebAssembly port for the heap benchmarks
// (bench/heap32_runner.mjs, bench/app_heap_runner.mjs): load it, copy
// source trees into its in-memory filesystem, run code and stop on an error.
import fs from "fs";
import path from "path";
import { pathToFileURL } from "url";

export async function loadUpy(packageDir, pystackWords) {
    const { loadMicroPython } = await import(pathToFileURL(path.join(packageDir, "micropython.mjs")).href);
    const lines = [];
    const options = {
        heapsize: 2 * 1024 * 1024, // as `make test-upy`; the split heap grows past it anyway
        stdout: (line) => lines.push(line),
        stderr: (line) => process.stderr.write(line + "\n"),
    };
    if (pystackWords) {
        options.pystack = parseInt(pystackWords, 10); // words; 2048 is the package's default
    }
    const mp = await loadMicroPython(options);
    return {
        mp,
        lines,
        // Copy every .py of a host folder into MEMFS (which this port's VfsPosix sees as "/").
        copyTree(hostDir, vfsDir) {
            mp.FS.mkdirTree(vfsDir);
            for (const entry of fs.readdirSync(hostDir, { withFileTypes: true })) {
                const from = path.join(hostDir, entry.name);
                const to = vfsDir + "/" + entry.name;
                if (entry.isDirectory() && entry.name !== "__pycache__") {
                    this.copyTree(from, to);
                } else if (entry.isFile() && entry.name.endsWith(".py")) {
                    mp.FS.writeFile(to, fs.readFileSync(from));
                }
            }
        },
        run(code) {
            try {
                mp.runPython(code);
            } catch (error) {
                process.stderr.write(lines.join("\n") + "\n" + (error.message || error) + "\n");
                process.exit(1);
            }
        },
    };
}
