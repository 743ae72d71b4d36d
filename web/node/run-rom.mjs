#!/usr/bin/env node
// `webx86 rom` for the WebAssembly build: runs a raw ROM image inside the release .wasm under
// Node, with the same protocol and exit codes as the native command, so check-test386.py can
// judge it too:
//   node web/node/run-rom.mjs [--wasm FILE] [--post-port P] [--max-instructions N] [--stats] ROM
// Port 0xE9 bytes go to stdout, POST codes to stderr as "POST xx". Exit status: 0 halted with
// interrupts disabled; 1 error, triple fault or halt with interrupts enabled; 2 budget exhausted
// or a command-line error.

import { defaultWasm, loadWebx86, readInput, runRom, statsLine } from './webx86.mjs';

const USAGE = 'usage: node web/node/run-rom.mjs [--wasm FILE] [--post-port P] '
  + '[--max-instructions N] [--stats] ROM';

function parseArgs(argv) {
  const args = { wasm: defaultWasm, postPort: 0x190, max: Number.MAX_SAFE_INTEGER, stats: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) {
        throw new Error(`${arg} needs a value`);
      }
      return argv[++i];
    };
    if (arg === '--wasm') {
      args.wasm = value();
    } else if (arg === '--post-port') {
      args.postPort = Number(value());
      if (!Number.isInteger(args.postPort) || args.postPort < 0 || args.postPort > 0xFFFF) {
        throw new Error('--post-port must be a port number (0-65535 or 0x0-0xFFFF)');
      }
    } else if (arg === '--max-instructions') {
      args.max = Number(value());
      if (!Number.isSafeInteger(args.max) || args.max < 0) {
        throw new Error('--max-instructions must be a whole number');
      }
    } else if (arg === '--stats') {
      args.stats = true;
    } else if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else if (arg.startsWith('-') || args.rom !== undefined) {
      throw new Error(`unexpected argument ${arg}`);
    } else {
      args.rom = arg;
    }
  }
  if (args.rom === undefined) {
    throw new Error('no ROM file given');
  }
  return args;
}

async function main() {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (e) {
    console.error(`run-rom: ${e.message}\n${USAGE}`);
    return 2;
  }
  let image;
  let wasm;
  try {
    image = readInput(args.rom, 'ROM image');
    wasm = await loadWebx86(args.wasm);
  } catch (e) {
    console.error(`run-rom: ${e.message}`);
    return 1;
  }
  let result;
  try {
    result = runRom(wasm, image, {
      postPort: args.postPort,
      maxInstructions: args.max,
      onDebug: (bytes) => process.stdout.write(bytes),
      onPost: (code) => process.stderr.write(`POST ${code.toString(16).toUpperCase().padStart(2, '0')}\n`),
    });
  } catch (e) {
    console.error(`run-rom: ${args.rom}: ${e.message}`);
    return 1;
  }
  if (args.stats) {
    console.error(`webx86 (wasm): ${statsLine(result.retired, result.seconds)}`);
  }
  switch (result.end) {
    case 'halted':
      return 0;
    case 'budget':
      console.error(`run-rom: ${args.rom}: stopped after ${result.retired} instructions `
        + '(--max-instructions) without halting');
      return 2;
    case 'idle-forever':
      console.error(`run-rom: ${args.rom}: the CPU halted with interrupts enabled after `
        + `${result.retired} instructions; nothing in a ROM run can wake it`);
      return 1;
    default:
      console.error(`run-rom: ${args.rom}: the CPU shut down after a triple fault `
        + `(${result.retired} instructions)`);
      return 1;
  }
}

process.exitCode = await main();
