// The JavaScript side of webx86's WebAssembly module (web/src/lib.rs) for Node: load the
// module, run a ROM image in it, collect what the guest writes to port 0xE9 and the POST port.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is web/node/webx86.mjs). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where `cargo build --profile release-wasm --target wasm32-unknown-unknown -p webx86-web` puts the module. */
export const defaultWasm = join(
  repoRoot, 'target', 'wasm32-unknown-unknown', 'release-wasm', 'webx86_web.wasm');

/** Return codes of webx86_run / webx86_rom_start (module `status` in web/src/lib.rs). */
export const Status = Object.freeze({
  RUNNING: 0,
  HALTED: 1,
  SHUTDOWN: 2,
  IDLE_FOREVER: 3,
  NO_ROM: 4,
  BAD_ROM_SIZE: 5,
});

/** Instructions per webx86_run call: small enough to drain output often, large enough to be cheap. */
const SLICE = 1 << 20;

/** Loads and instantiates the module at `wasmPath`; returns its exports. */
export async function loadWebx86(wasmPath = defaultWasm) {
  let bytes;
  try {
    bytes = readFileSync(wasmPath);
  } catch (e) {
    throw new Error(`cannot read the webx86 WebAssembly module ${wasmPath}: ${e.message}`);
  }
  const { instance } = await WebAssembly.instantiate(bytes, {});
  return instance.exports;
}

/**
 * Runs `image` (a Uint8Array) as the BIOS ROM until the CPU halts, shuts down or retires
 * `maxInstructions`. `onDebug(bytes)` and `onPost(code)` see the guest's output as it comes;
 * `shouldStop()` is asked between slices. Returns { end, retired, seconds } where `end` is
 * 'halted', 'shutdown', 'idle-forever', 'budget' or 'stopped'.
 */
export function runRom(wasm, image, options = {}) {
  const {
    postPort = 0x190,
    maxInstructions = Number.MAX_SAFE_INTEGER,
    onDebug = () => {},
    onPost = () => {},
    shouldStop = () => false,
  } = options;
  const staged = wasm.webx86_rom_buffer(image.length);
  if (staged === 0) {
    throw new Error(`ROM image of ${image.length} bytes is larger than 1 MiB`);
  }
  new Uint8Array(wasm.memory.buffer, staged, image.length).set(image);
  if (wasm.webx86_rom_start(postPort) !== Status.RUNNING) {
    throw new Error(
      `ROM image is ${image.length} bytes; it must be a whole number of 4 KiB pages, at most 1 MiB`);
  }
  const drain = () => {
    // Views are made after the calls: linear memory may have grown and moved.
    const debugLen = wasm.webx86_debug_len();
    const postLen = wasm.webx86_post_len();
    if (debugLen > 0) {
      onDebug(new Uint8Array(wasm.memory.buffer, wasm.webx86_debug_ptr(), debugLen).slice());
    }
    if (postLen > 0) {
      const codes = new Uint8Array(wasm.memory.buffer, wasm.webx86_post_ptr(), postLen).slice();
      codes.forEach((code) => onPost(code));
    }
    wasm.webx86_output_clear();
  };
  const started = process.hrtime.bigint();
  let end = 'budget';
  for (;;) {
    const left = maxInstructions - wasm.webx86_retired();
    if (left <= 0) {
      break;
    }
    const status = wasm.webx86_run(Math.min(left, SLICE));
    drain();
    if (status === Status.HALTED) {
      end = 'halted';
      break;
    } else if (status === Status.SHUTDOWN) {
      end = 'shutdown';
      break;
    } else if (status === Status.IDLE_FOREVER) {
      end = 'idle-forever';
      break;
    } else if (status !== Status.RUNNING) {
      throw new Error(`webx86_run returned unexpected status ${status}`);
    }
    if (shouldStop()) {
      end = 'stopped';
      break;
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { end, retired: wasm.webx86_retired(), seconds };
}

/** "N instructions retired in S s, X guest MIPS", as `webx86 rom --stats` words it. */
export function statsLine(retired, seconds) {
  const mips = retired / Math.max(seconds, 1e-9) / 1e6;
  return `${retired} instructions retired in ${seconds.toFixed(3)} s, ${mips.toFixed(1)} guest MIPS`;
}

/** Reads a file, with the path in the error message. */
export function readInput(path, what) {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new Error(`cannot read ${what} ${path}: ${e.message}`);
  }
}
