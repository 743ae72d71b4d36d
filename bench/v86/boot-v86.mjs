#!/usr/bin/env node
// Boots a Linux bzImage + initrd in the npm `v86` package (its build/libv86.mjs and
// build/v86.wasm) under Node, with COM1 on stdout, so bench/v86.py can time it against
// webx86 the same way: spawn, watch stdout for the shell prompt, kill.
//
//   node bench/v86/boot-v86.mjs --kernel K --initrd I [--append CMDLINE] [--mem MIB]
//                               [--no-jit] [--bios FILE] [--vga-bios FILE]
//
// --no-jit passes v86's own `disable_jit` option: the CPU then never compiles x86 to wasm
// (jit.rs returns from jit_increase_hotness_and_maybe_compile before counting hotness) and
// every instruction goes through v86's interpreter. Stdin is forwarded to the guest's serial
// port so a shell can be used by hand. On exit (stdin closed or a signal) a line with the
// milliseconds from this script's start to the first serial byte goes to stderr.

import fs from "node:fs";
import path from "node:path";
import url from "node:url";
import { parseArgs } from "node:util";

const here = path.dirname(url.fileURLToPath(import.meta.url));
const build = path.join(here, "node_modules", "v86", "build");
const started = performance.now();

const { values: opts } = parseArgs({
    options: {
        kernel: { type: "string" },
        initrd: { type: "string" },
        append: {
            type: "string",
            default: "console=ttyS0 acpi=off nolapic pci=nomsi cryptomgr.notests noisapnp",
        },
        mem: { type: "string", default: "256" },
        "no-jit": { type: "boolean", default: false },
        bios: { type: "string", default: "/usr/share/seabios/bios.bin" },
        "vga-bios": { type: "string", default: "/usr/share/seabios/vgabios-stdvga.bin" },
    },
});

/** Reads a file the run needs, or exits with one sentence naming it. */
function readOrExit(what, file) {
    if (!file) {
        process.stderr.write(`boot-v86: --${what} is required\n`);
        process.exit(2);
    }
    try {
        const bytes = fs.readFileSync(file);
        return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    } catch (err) {
        process.stderr.write(`boot-v86: cannot read ${what} ${file}: ${err.message}\n`);
        process.exit(2);
    }
}

const libv86 = path.join(build, "libv86.mjs");
if (!fs.existsSync(libv86)) {
    process.stderr.write(`boot-v86: ${libv86} is missing; run npm ci in ${here}\n`);
    process.exit(2);
}
const { V86 } = await import(url.pathToFileURL(libv86));

const mem = Number.parseInt(opts.mem, 10);
// v86 puts the initrd at 64 MiB (src/kernel.js), so less RAM than that cannot boot with one.
if (!(mem >= 128 && mem <= 3072)) {
    process.stderr.write(`boot-v86: --mem ${opts.mem} is not a size in MiB from 128 to 3072\n`);
    process.exit(2);
}

// v86.wasm is instantiated here rather than by libv86, which silently falls back to
// v86-fallback.wasm (built without SIMD, bulk memory and multi-value) if v86.wasm fails: a
// benchmark must know which build it timed.
const wasmFile = path.join(build, "v86.wasm");
const wasmBytes = readOrExit("wasm", wasmFile);

const emulator = new V86({
    wasm_fn: async (imports) => {
        const { instance } = await WebAssembly.instantiate(wasmBytes, imports);
        return instance.exports;
    },
    bios: { buffer: readOrExit("bios", opts.bios) },
    vga_bios: { buffer: readOrExit("vga-bios", opts["vga-bios"]) },
    bzimage: { buffer: readOrExit("kernel", opts.kernel) },
    initrd: { buffer: readOrExit("initrd", opts.initrd) },
    cmdline: opts.append,
    memory_size: mem * 1024 * 1024,
    acpi: false,
    disable_jit: opts["no-jit"],
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
    autostart: true,
});

// Serial bytes are gathered and written once per turn of the event loop (v86 yields to it
// between slices of emulation), not one write per byte.
let firstByteMs = null;
let pending = [];
emulator.add_listener("serial0-output-byte", (byte) => {
    if (firstByteMs === null) {
        firstByteMs = performance.now() - started;
    }
    if (pending.length === 0) {
        setImmediate(() => {
            process.stdout.write(Uint8Array.from(pending));
            pending = [];
        });
    }
    pending.push(byte);
});

process.stdin.on("data", (chunk) => emulator.serial0_send(chunk.toString("latin1")));

function finish() {
    const first = firstByteMs === null ? "never" : `${firstByteMs.toFixed(0)} ms`;
    const jit = opts["no-jit"] ? "disabled" : "enabled";
    process.stderr.write(`boot-v86: first serial byte at ${first} (jit ${jit})\n`);
    emulator.destroy();
    process.exit(0);
}
process.stdin.on("end", finish);
process.on("SIGTERM", finish);
process.on("SIGINT", finish);
