// Runs raw ROM images (test386) in webx86's WebAssembly module under Node, through the
// wasm-bindgen bindings web/build.sh generates (web/dist/pkg): the module the page loads.

import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is web/node/webx86.mjs). */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The release module after wasm-bindgen (bash web/build.sh). */
export const defaultWasm = join(repoRoot, 'web', 'dist', 'pkg', 'webx86_web_bg.wasm');

/** RomSession.run's return codes (rom_status in web/src/rom.rs). */
export const Status = Object.freeze({
  RUNNING: 0,
  HALTED: 1,
  SHUTDOWN: 2,
  IDLE_FOREVER: 3,
});

/** Instructions per run call: small enough to drain output often, large enough to be cheap. */
const SLICE = 1 << 20;

/**
 * Loads the bindings (web/dist/pkg/webx86_web.js) and instantiates the module at `wasmPath`
 * (any build of the same crate and wasm-bindgen version); returns the bindings.
 */
export async function loadWebx86(wasmPath = defaultWasm) {
  let bytes;
  try {
    bytes = readFileSync(wasmPath);
  } catch (e) {
    throw new Error(`cannot read the webx86 WebAssembly module ${wasmPath} (build it with bash web/build.sh): ${e.message}`);
  }
  let bindings;
  try {
    bindings = await import('../dist/pkg/webx86_web.js');
  } catch (e) {
    throw new Error(`cannot load web/dist/pkg/webx86_web.js (build it with bash web/build.sh): ${e.message}`);
  }
  bindings.initSync({ module: bytes });
  return bindings;
}

/**
 * Runs `image` (a Uint8Array) as the BIOS ROM until the CPU halts, shuts down or retires
 * `maxInstructions`. `onDebug(bytes)` and `onPost(code)` see the guest's output as it comes;
 * `shouldStop(retired)` is asked between slices. Returns { end, retired, seconds } where `end`
 * is 'halted', 'shutdown', 'idle-forever', 'budget' or 'stopped'.
 */
export function runRom(webx86, image, options = {}) {
  const {
    postPort = 0x190,
    maxInstructions = Number.MAX_SAFE_INTEGER,
    onDebug = () => {},
    onPost = () => {},
    shouldStop = () => false,
  } = options;
  // Throws an Error saying why when the image is not a whole number of 4 KiB pages up to 1 MiB.
  const session = new webx86.RomSession(image, postPort);
  const drain = () => {
    const debug = session.take_debug();
    if (debug.length > 0) {
      onDebug(debug);
    }
    session.take_post().forEach((code) => onPost(code));
  };
  const started = process.hrtime.bigint();
  let end = 'budget';
  try {
    for (;;) {
      const left = maxInstructions - session.retired();
      if (left <= 0) {
        break;
      }
      const status = session.run(Math.min(left, SLICE));
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
        throw new Error(`RomSession.run returned unexpected status ${status}`);
      }
      if (shouldStop(session.retired())) {
        end = 'stopped';
        break;
      }
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return { end, retired: session.retired(), seconds };
  } finally {
    session.free();
  }
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
