#!/usr/bin/env node
// Smoke test of the release WebAssembly build: runs the test386 conformance ROM inside the
// .wasm under Node and judges it as ../shared/conformance/test386/check-test386.py does:
//   1. the POST codes are exactly check-test386.py's EXPECTED_POST (read from that script, so
//      there is one list), ending in FF;
//   2. the CPU halts with interrupts disabled;
//   3. the port 0xE9 output equals test386-EE-reference.txt byte for byte (the first differing
//      line is printed otherwise).
// Prints guest MIPS. Exit status: 0 pass, 1 fail, 2 the test could not run.
//
//   node web/node/smoke-test386.mjs [--wasm FILE] [--dir TEST386_DIR] [--max-instructions N]
//                                   [--timeout SECONDS]

import { join } from 'node:path';

import { defaultWasm, loadWebx86, readInput, repoRoot, runRom, statsLine } from './webx86.mjs';

/** test386 retires about 80 million instructions; a run past this is stuck. */
const DEFAULT_MAX_INSTRUCTIONS = 1_000_000_000;
/** After POST FF the ROM halts at once; allow a little slack, as check-test386.py's grace. */
const AFTER_FF_INSTRUCTIONS = 1_000_000;
/** Wall-clock limit, as check-test386.py's --timeout. */
const DEFAULT_TIMEOUT_SECONDS = 120;

function parseArgs(argv) {
  const args = {
    wasm: defaultWasm,
    dir: join(repoRoot, '..', 'shared', 'conformance', 'test386'),
    max: DEFAULT_MAX_INSTRUCTIONS,
    timeout: DEFAULT_TIMEOUT_SECONDS,
  };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) {
        throw new Error(`${argv[i]} needs a value`);
      }
      return argv[++i];
    };
    switch (argv[i]) {
      case '--wasm': args.wasm = value(); break;
      case '--dir': args.dir = value(); break;
      case '--max-instructions': args.max = Number(value()); break;
      case '--timeout': args.timeout = Number(value()); break;
      default: throw new Error(`unexpected argument ${argv[i]}`);
    }
  }
  if (!Number.isSafeInteger(args.max) || args.max <= 0) {
    throw new Error('--max-instructions must be a positive whole number');
  }
  if (!(args.timeout > 0)) {
    throw new Error('--timeout must be a positive number of seconds');
  }
  return args;
}

/** EXPECTED_POST from check-test386.py, so the list is kept in one place. */
function expectedPost(checkScript) {
  const text = readInput(checkScript, 'the test386 check script').toString('utf8');
  const match = /^EXPECTED_POST\s*=\s*\[([^\]]*)\]/m.exec(text);
  if (!match) {
    throw new Error(`no EXPECTED_POST list found in ${checkScript}`);
  }
  const codes = match[1].split(',').map((s) => s.trim()).filter((s) => s !== '').map(Number);
  if (codes.length === 0 || codes.some((c) => !Number.isInteger(c) || c < 0 || c > 0xFF)) {
    throw new Error(`cannot parse EXPECTED_POST in ${checkScript}`);
  }
  return codes;
}

const hex = (code) => code.toString(16).toUpperCase().padStart(2, '0');

/** Lines split at '\n' only, each keeping its '\n' (as check-test386.py's LINE_RE). */
function lines(buffer) {
  const out = [];
  let start = 0;
  while (start < buffer.length) {
    const nl = buffer.indexOf(0x0A, start);
    const end = nl < 0 ? buffer.length : nl + 1;
    out.push(buffer.subarray(start, end));
    start = end;
  }
  return out;
}

/** null if equal, else { line, expected, got } (a side past its end is null). */
function firstDifference(got, ref) {
  if (got.equals(ref)) {
    return null;
  }
  const g = lines(got);
  const r = lines(ref);
  for (let i = 0; i < Math.max(g.length, r.length); i++) {
    const gl = g[i] ?? null;
    const rl = r[i] ?? null;
    if (gl === null || rl === null || !gl.equals(rl)) {
      return { line: i + 1, expected: rl, got: gl };
    }
  }
  return null;
}

function show(line, endText) {
  if (line === null) {
    return endText;
  }
  const text = line.toString('latin1');
  return text.endsWith('\n')
    ? JSON.stringify(text.slice(0, -1))
    : `${JSON.stringify(text)} (no newline at end)`;
}

/** Failures of the POST sequence, as check-test386.py words them. */
function postFailures(posts, expected) {
  if (posts.length === expected.length && posts.every((c, i) => c === expected[i])) {
    return [];
  }
  let n = 0;
  while (n < Math.min(posts.length, expected.length) && posts[n] === expected[n]) {
    n++;
  }
  if (n === posts.length && n < expected.length) {
    const last = posts.length ? hex(posts[posts.length - 1]) : '(none)';
    return [`stopped after POST ${last}; next expected POST ${hex(expected[n])}`];
  }
  return [`POST sequence differs at position ${n + 1}: expected `
    + `${n < expected.length ? hex(expected[n]) : 'end'}, got ${n < posts.length ? hex(posts[n]) : 'end'}`];
}

async function main() {
  let args;
  let rom;
  let ref;
  let expected;
  let wasm;
  try {
    args = parseArgs(process.argv.slice(2));
    rom = readInput(join(args.dir, 'test386.bin'), 'the test386 ROM');
    ref = readInput(join(args.dir, 'test386-EE-reference.txt'), 'the test386 reference output');
    expected = expectedPost(join(args.dir, 'check-test386.py'));
    wasm = await loadWebx86(args.wasm);
  } catch (e) {
    console.error(`smoke-test386: ${e.message}`);
    return 2;
  }
  console.log(`running test386 in ${args.wasm}`);
  const posts = [];
  const debug = [];
  let ffAt = null;
  let timedOut = false;
  const deadline = Date.now() + args.timeout * 1000;
  const result = runRom(wasm, rom, {
    maxInstructions: args.max,
    onDebug: (bytes) => debug.push(bytes),
    onPost: (code) => {
      posts.push(code);
      if (code === 0xFF && ffAt === null) {
        ffAt = -1; // the count is taken at the end of this slice
      }
    },
    shouldStop: (retired) => {
      if (ffAt === -1) {
        ffAt = retired;
      }
      timedOut = Date.now() > deadline;
      return timedOut || (ffAt !== null && retired - ffAt > AFTER_FF_INSTRUCTIONS);
    },
  });
  const out = Buffer.concat(debug);
  console.log(`run ended: ${timedOut ? `timeout (${args.timeout} s)` : result.end}`);
  console.log(`POST codes seen (${posts.length}): ${posts.map(hex).join(' ') || '-'}`);
  console.log(`port 0xE9 output: ${out.length} bytes, ${lines(out).length} lines `
    + `(reference: ${ref.length} bytes, ${lines(ref).length} lines)`);
  console.log(`webx86 (wasm): ${statsLine(result.retired, result.seconds)}`);

  const failures = postFailures(posts, expected);
  if (result.end !== 'halted') {
    failures.push('the CPU did not halt with interrupts disabled (run ended: '
      + `${timedOut ? `timeout after ${args.timeout} s` : result.end})`);
  }
  const diff = firstDifference(out, ref);
  if (diff) {
    failures.push(`E9 output differs from reference at line ${diff.line}:\n`
      + `  expected: ${show(diff.expected, '<end of reference>')}\n`
      + `  got:      ${show(diff.got, '<end of output>')}`);
  }
  if (failures.length) {
    failures.forEach((f) => console.log(`FAIL: ${f}`));
    console.log(`FAIL (last POST code ${posts.length ? hex(posts[posts.length - 1]) : 'none'})`);
    console.log('test386-wasm: 0 passed, 1 failed');
    return 1;
  }
  console.log('PASS (POST FF reached, halted, E9 output identical to reference)');
  console.log('test386-wasm: 1 passed, 0 failed');
  return 0;
}

process.exitCode = await main();
