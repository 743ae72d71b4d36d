#!/usr/bin/env node
// The page's emulator in Node: the same WebAssembly module (web/dist/pkg, built by
// web/build.sh) and the same driver (site/guest.js), with the guest's console on stdin/stdout.
// For scripting, and for benchmarks in the same JavaScript engine as other emulators.
//
//   node web/cli.mjs --image DIR_OR_URL [--overlay FILE] [--mem MIB] [--deterministic] [--stats]
//
// --image     an image directory (manifest.json + sha256/) or its URL
// --overlay   keep the guest's disk writes in FILE (created if missing) instead of in memory
// --mem       guest RAM in MiB (default 256)
// --deterministic  guest time follows retired instructions (reproducible runs), not the host
// --stats     print instructions, time and guest MIPS at the end
//
// From a terminal the console is raw (every key goes to the guest); Ctrl-A x quits. Exit
// status: 0 when the guest powers off or you quit, 1 on an error.

import { closeSync, fsyncSync, fstatSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { Guest } from './site/guest.js';
import { FetchFailure, HttpSource } from './site/objects.js';

const here = dirname(fileURLToPath(import.meta.url));
const USAGE = 'usage: node web/cli.mjs --image DIR_OR_URL [--overlay FILE] [--mem MIB] '
  + '[--deterministic] [--stats] [--wasm FILE]';

/** Objects in a local image directory. */
class DirectorySource {
  constructor(dir) {
    this.dir = resolve(dir);
  }

  locate(rel) {
    return join(this.dir, rel);
  }

  async read(rel, onProgress = () => {}) {
    const path = this.locate(rel);
    try {
      const bytes = new Uint8Array(await readFile(path));
      onProgress(bytes.length);
      return bytes;
    } catch (e) {
      throw new FetchFailure(path, e.code === 'ENOENT' ? 'no such file' : e.message, false);
    }
  }
}

/** An overlay in a host file, with the interface web/src/overlay_file.rs expects. */
function fileOverlay(path) {
  const fd = openSync(path, 'a+'); // create if missing, keep contents
  closeSync(fd);
  const handle = openSync(path, 'r+');
  const name = resolve(path);
  const fail = (what, e) => `${what} ${name}: ${e.message}`;
  return {
    file: {
      name,
      size() {
        try {
          return fstatSync(handle).size;
        } catch (e) {
          throw fail('cannot stat', e);
        }
      },
      readAt(offset, buf) {
        try {
          let done = 0;
          while (done < buf.length) {
            const n = readSync(handle, buf, done, buf.length - done, offset + done);
            if (n === 0) {
              buf.fill(0, done);
              break;
            }
            done += n;
          }
        } catch (e) {
          throw fail('cannot read', e);
        }
      },
      writeAt(offset, data) {
        try {
          let done = 0;
          while (done < data.length) {
            done += writeSync(handle, data, done, data.length - done, offset + done);
          }
        } catch (e) {
          throw fail('cannot write', e);
        }
      },
      sync() {
        try {
          fsyncSync(handle);
        } catch (e) {
          throw fail('cannot sync', e);
        }
      },
    },
    close: () => closeSync(handle),
    note: null,
  };
}

function parseArgs(argv) {
  const args = {
    memMib: 256,
    deterministic: false,
    stats: false,
    wasm: join(here, 'dist', 'pkg', 'webx86_web_bg.wasm'),
  };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) {
        throw new Error(`${argv[i]} needs a value`);
      }
      return argv[++i];
    };
    switch (argv[i]) {
      case '--image': args.image = value(); break;
      case '--overlay': args.overlay = value(); break;
      case '--mem': args.memMib = Number(value()); break;
      case '--deterministic': args.deterministic = true; break;
      case '--stats': args.stats = true; break;
      case '--wasm': args.wasm = value(); break;
      case '-h':
      case '--help':
        console.log(USAGE);
        process.exit(0);
        break;
      default:
        throw new Error(`unexpected argument ${argv[i]}`);
    }
  }
  if (!args.image) {
    throw new Error('--image is required');
  }
  if (!Number.isInteger(args.memMib) || args.memMib < 16 || args.memMib > 3584) {
    throw new Error('--mem must be a whole number of MiB from 16 to 3584');
  }
  return args;
}

/** Ctrl-A x quits; Ctrl-A Ctrl-A sends one Ctrl-A (as `webx86 boot`). */
function escapeFilter() {
  let armed = false;
  return (bytes) => {
    const out = [];
    for (const b of bytes) {
      if (armed) {
        armed = false;
        if (b === 0x78) {
          return { bytes: Uint8Array.from(out), quit: true };
        }
        out.push(b === 0x01 ? 0x01 : b);
      } else if (b === 0x01) {
        armed = true;
      } else {
        out.push(b);
      }
    }
    return { bytes: Uint8Array.from(out), quit: false };
  };
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`webx86: ${e.message}\n${USAGE}`);
    return 2;
  }
  const bindings = await import('./dist/pkg/webx86_web.js').catch((e) => {
    throw new Error(`cannot load web/dist/pkg/webx86_web.js (build it with bash web/build.sh): ${e.message}`);
  });
  let wasmBytes;
  try {
    wasmBytes = readFileSync(args.wasm);
  } catch (e) {
    console.error(`webx86: cannot read the WebAssembly module ${args.wasm}: ${e.message}`);
    return 1;
  }
  bindings.initSync({ module: wasmBytes });

  const source = /^https?:\/\//.test(args.image) ? new HttpSource(args.image) : new DirectorySource(args.image);
  const overlay = args.overlay ? fileOverlay(args.overlay) : { file: null, close() {}, note: null };
  const stdin = process.stdin;
  const stdout = process.stdout;
  let finish;
  const finished = new Promise((resolveFinish) => { finish = resolveFinish; });
  const started = performance.now();

  const guest = new Guest({
    bindings,
    source,
    cache: null,
    openOverlay: async () => overlay,
    memMib: args.memMib,
    realtime: !args.deterministic,
    cols: stdout.isTTY ? stdout.columns : 80,
    rows: stdout.isTTY ? stdout.rows : 25,
    yieldNow: setImmediate,
    events: {
      output: (bytes) => stdout.write(bytes),
      status: () => {},
      progress: () => {},
      error: (message, fatal) => {
        process.stderr.write(`\r\nwebx86: ${message}\r\n`);
        if (fatal) {
          finish(1);
        }
      },
      note: (message) => process.stderr.write(`webx86: ${message}\n`),
      stopped: () => finish(0),
    },
  });

  const filter = escapeFilter();
  if (stdin.isTTY) {
    stdin.setRawMode(true);
    stdout.on('resize', () => guest.resize(stdout.columns, stdout.rows));
  }
  stdin.on('data', (data) => {
    const { bytes, quit } = stdin.isTTY ? filter(data) : { bytes: new Uint8Array(data), quit: false };
    if (bytes.length > 0) {
      guest.input(bytes);
    }
    if (quit) {
      finish(0);
    }
  });

  let code;
  try {
    await guest.start();
    code = await finished;
  } catch (e) {
    process.stderr.write(`webx86: ${e.message}\n`);
    code = 1;
  }
  const retired = guest.machine ? guest.machine.retired() : 0;
  guest.close();
  overlay.close();
  if (stdin.isTTY) {
    stdin.setRawMode(false);
  }
  stdin.destroy();
  if (args.stats) {
    const seconds = (performance.now() - started) / 1000;
    const s = guest.fetcher.stats;
    const busy = guest.busyMs / 1000;
    process.stderr.write(`webx86 (wasm, node): ${retired} instructions in ${seconds.toFixed(3)} s, `
      + `${busy.toFixed(3)} s of it running the guest (${(retired / Math.max(busy, 1e-9) / 1e6).toFixed(1)} `
      + `guest MIPS while running), read ${s.netObjects} objects, ${s.netBytes} bytes\n`);
  }
  return code;
}

try {
  process.exitCode = await main();
} catch (e) {
  console.error(`webx86: ${e.message}`);
  process.exitCode = 1;
}
