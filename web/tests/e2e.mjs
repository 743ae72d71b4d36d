#!/usr/bin/env node
// End-to-end test of the page in Debian's headless Chromium (playwright-core), as a person
// would use it: serve web/dist/ under a path prefix with an image, open the page, wait for the
// root prompt, type commands, write a file, reload and find it again, reset to the image and
// find it gone; point the page at a missing image and at an image with a corrupt chunk and
// read the error text. Saves screenshots of the terminal in web/test-results/.
//
//   node web/tests/e2e.mjs [--image DIR] [--boot-timeout SECONDS] [--chromium PATH] [--only NAME]
//
// --image defaults to target/guest/debian (the page's default image). Checks run in order;
// the closing line counts them as "N passed, N failed".

import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { serve } from '../serve.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const webDir = resolve(here, '..');
const repoRoot = resolve(webDir, '..');
const resultsDir = join(webDir, 'test-results');

function parseArgs(argv) {
  const args = {
    image: join(repoRoot, 'target', 'guest', 'debian'),
    bootTimeout: 900,
    chromium: null,
    only: null,
  };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) {
        throw new Error(`${argv[i]} needs a value`);
      }
      return argv[++i];
    };
    switch (argv[i]) {
      case '--image': args.image = resolve(value()); break;
      case '--boot-timeout': args.bootTimeout = Number(value()); break;
      case '--chromium': args.chromium = value(); break;
      case '--only': args.only = value(); break;
      default: throw new Error(`unexpected argument ${argv[i]}`);
    }
  }
  return args;
}

/** Debian's chromium: /usr/bin/chromium is a wrapper script; playwright wants the binary. */
function findChromium(explicit) {
  const candidates = explicit ? [explicit] : ['/usr/lib/chromium/chromium', '/usr/bin/chromium'];
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(`Chromium not found (tried ${candidates.join(', ')}); apt-get install chromium`);
  }
  return found;
}

const LAUNCH_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-default-apps',
  '--disable-domain-reliability',
  '--disable-sync',
  '--no-first-run',
  '--no-default-browser-check',
  '--metrics-recording-only',
  '--disable-features=Translate,OptimizationHints,MediaRouter',
];

/** A line that starts with the autologin root shell's prompt (a command may follow it). */
const PROMPT_LINE = /^root@webx86:[^\n#]*# ?/;

const log = (text) => console.log(`[e2e ${new Date().toISOString().slice(11, 19)}] ${text}`);

/** The page's view (main.js exposes window.webx86). */
const pageView = (page) => page.evaluate(() => ({
  text: window.webx86.text(),
  state: window.webx86.state,
  status: window.webx86.status,
  errors: window.webx86.errors,
}));

/**
 * Waits until `predicate(view)` holds, failing early when the page shows a fatal error.
 * Logs the status line now and then, so a slow boot shows where it is.
 */
async function waitFor(page, what, predicate, timeoutS) {
  const deadline = Date.now() + timeoutS * 1000;
  let nextLog = Date.now() + 15000;
  for (;;) {
    const view = await pageView(page);
    if (predicate(view)) {
      return view;
    }
    if (view.state === 'stopped') {
      throw new Error(`the page stopped while waiting for ${what}: ${view.errors.join(' | ')}`);
    }
    if (Date.now() > deadline) {
      const tail = view.text.trimEnd().split('\n').slice(-8).join('\n');
      throw new Error(`timed out after ${timeoutS} s waiting for ${what}; state ${view.state}; `
        + `errors: ${view.errors.join(' | ') || 'none'}; terminal ends with:\n${tail}`);
    }
    if (Date.now() > nextLog) {
      const s = view.status;
      const o = s?.overlay;
      log(`  waiting for ${what}: ${s ? `${s.state}, ${s.mips.toFixed(0)} MIPS, ${(s.retired / 1e9).toFixed(2)} G instructions, `
        + `fetched ${(s.netBytes / 1048576).toFixed(1)} MiB, from cache ${(s.cacheBytes / 1048576).toFixed(1)} MiB`
        + `${o ? `, overlay ${o.reads} reads ${o.writes} writes ${o.syncs} syncs in ${(o.ms / 1000).toFixed(1)} s` : ''}` : view.state}`);
      nextLog = Date.now() + 15000;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

const prompts = (text) => text.split('\n').filter((l) => PROMPT_LINE.test(l)).length;

/** Waits for the root prompt; returns the seconds it took. */
async function waitForPrompt(page, timeoutS) {
  const started = Date.now();
  await waitFor(page, 'the root prompt', (v) => prompts(v.text) > 0, timeoutS);
  return (Date.now() - started) / 1000;
}

/**
 * Types `command` and Enter into the terminal (real key events), waits for the next prompt,
 * and returns the lines the command printed.
 */
async function run(page, command, timeoutS = 60) {
  const before = prompts((await pageView(page)).text);
  await page.locator('#terminal').click();
  await page.keyboard.type(command, { delay: 5 });
  await page.keyboard.press('Enter');
  const view = await waitFor(page, `\`${command}\` to finish`, (v) => prompts(v.text) > before, timeoutS);
  // The output sits between the prompt line holding the command and the next prompt line.
  const lines = view.text.split('\n');
  const promptLines = lines.flatMap((l, i) => (PROMPT_LINE.test(l) ? [i] : []));
  const [start, end] = promptLines.slice(before - 1, before + 1);
  return lines.slice(start + 1, end).map((l) => l.trimEnd());
}

function expectLine(lines, expected, what) {
  if (!lines.includes(expected)) {
    throw new Error(`${what}: expected a line "${expected}", got ${JSON.stringify(lines)}`);
  }
}

/** Saves the terminal as NAME.png and its whole text as NAME.txt in web/test-results/. */
async function screenshot(page, name) {
  mkdirSync(resultsDir, { recursive: true });
  const path = join(resultsDir, `${name}.png`);
  await page.locator('#terminal').screenshot({ path });
  writeFileSync(join(resultsDir, `${name}.txt`), `${(await pageView(page)).text.trimEnd()}\n`);
  log(`  screenshot: ${path}`);
}

/** A copy of the image (links) whose first chunk is corrupt: the kernel reads it first. */
function corruptImage(image) {
  const dir = mkdtempSync(join(tmpdir(), 'webx86-corrupt-'));
  const manifest = JSON.parse(readFileSync(join(image, 'manifest.json'), 'utf8'));
  const first = manifest.chunks.find((c) => c);
  mkdirSync(join(dir, 'sha256'));
  symlinkSync(join(image, 'manifest.json'), join(dir, 'manifest.json'));
  for (const hex of new Set([manifest.kernel?.sha256, manifest.initrd?.sha256, ...manifest.chunks])) {
    if (hex && hex !== first) {
      symlinkSync(join(image, 'sha256', hex), join(dir, 'sha256', hex));
    }
  }
  const bytes = readFileSync(join(image, 'sha256', first));
  bytes[100] ^= 0xFF;
  writeFileSync(join(dir, 'sha256', first), bytes);
  return dir;
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(join(webDir, 'dist', 'index.html'))) {
    throw new Error('web/dist/index.html is missing: build the site first (bash web/build.sh)');
  }
  if (!existsSync(join(args.image, 'manifest.json'))) {
    throw new Error(`${args.image}/manifest.json is missing: build the image (images/build-debian.sh)`);
  }
  const corrupt = corruptImage(args.image);
  const server = await serve({
    dir: join(webDir, 'dist'),
    image: args.image,
    port: 0,
    prefix: '/e2e/webx86/', // the site must work under any path prefix
    extraMounts: [{ at: 'corrupt/', dir: corrupt }],
    quiet: true,
  });
  log(`serving ${server.url} (image ${args.image})`);
  const browser = await chromium.launch({
    executablePath: findChromium(args.chromium),
    headless: true,
    args: LAUNCH_ARGS,
  });
  const results = [];
  const check = async (name, body) => {
    if (args.only && args.only !== name) {
      return;
    }
    log(`${name}: start`);
    const started = Date.now();
    try {
      await body();
      results.push({ name, ok: true });
      log(`${name}: ok (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    } catch (e) {
      results.push({ name, ok: false });
      log(`${name}: FAILED: ${e.message}`);
    }
  };
  const objectPaths = () => server.requests.filter((p) => p.includes('/image/sha256/'));
  const objectRequests = () => objectPaths().length;

  try {
    const context = await browser.newContext({ viewport: { width: 1100, height: 700 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => log(`  page error: ${e.message}`));
    page.on('dialog', (d) => d.accept()); // "Reset to image" asks for confirmation

    await check('boot-and-persist', async () => {
      await page.goto(server.url);
      const first = await waitForPrompt(page, args.bootTimeout);
      log(`  first visit: root prompt after ${first.toFixed(1)} s (${objectRequests()} objects fetched)`);
      expectLine(await run(page, 'uname -m'), 'i686', 'uname -m');
      // The terminal's size reaches the guest's console (virtio-console), also after a resize.
      for (const viewport of [null, { width: 900, height: 560 }]) {
        if (viewport) {
          await page.setViewportSize(viewport);
          await page.waitForTimeout(500);
        }
        const { cols, rows } = await page.evaluate(() => window.webx86.size());
        expectLine(await run(page, 'stty size'), `${rows} ${cols}`, 'stty size');
      }
      await run(page, 'echo kept-$((6*7)) > /root/keep.txt; sync');
      expectLine(await run(page, 'cat /root/keep.txt'), 'kept-42', 'the new file');
      await screenshot(page, 'terminal-first-boot');

      const fetchedBefore = objectRequests();
      await page.reload();
      const second = await waitForPrompt(page, args.bootTimeout);
      // The second boot reads more than the first (e2fsck checks the ext2 root, which a reload
      // left unclean), so new objects may be fetched; none may be fetched twice.
      const paths = objectPaths();
      const again = paths.slice(fetchedBefore).filter((p) => paths.indexOf(p) < fetchedBefore);
      log(`  after reload: root prompt after ${second.toFixed(1)} s, ${paths.length - fetchedBefore} objects `
        + `fetched from the server, ${again.length} of them fetched before`);
      expectLine(await run(page, 'cat /root/keep.txt'), 'kept-42', 'the file after a reload');
      if (again.length !== 0) {
        throw new Error(`the second visit fetched ${again.length} objects again (${again[0]}, ...); the cache should hold them`);
      }
      const view = await pageView(page);
      if (view.errors.length > 0) {
        throw new Error(`the page shows errors: ${view.errors.join(' | ')}`);
      }
      await screenshot(page, 'terminal-after-reload');

      await page.click('#reset');
      const third = await waitFor(page, 'the terminal to clear', (v) => prompts(v.text) === 0, 30)
        .then(() => waitForPrompt(page, args.bootTimeout));
      log(`  after reset: root prompt after ${third.toFixed(1)} s`);
      const lines = await run(page, 'cat /root/keep.txt');
      if (!lines.some((l) => l.includes('No such file or directory'))) {
        throw new Error(`after "Reset to image" the file is still there: ${JSON.stringify(lines)}`);
      }
      await screenshot(page, 'terminal');
      await page.screenshot({ path: join(resultsDir, 'page.png') });
    });
    await context.close();

    await check('missing-image', async () => {
      const ctx = await browser.newContext();
      const p = await ctx.newPage();
      const started = Date.now();
      await p.goto(`${server.url}?image=no-such-image/`);
      await p.waitForSelector('#errors:not([hidden])', { timeout: 10000 });
      const text = await p.textContent('#errors');
      log(`  error shown after ${((Date.now() - started) / 1000).toFixed(1)} s: ${text}`);
      if (!/manifest/.test(text) || !/no-such-image\/manifest\.json/.test(text) || !/404/.test(text)) {
        throw new Error(`the error does not name the manifest URL and the 404: ${text}`);
      }
      await ctx.close();
    });

    await check('corrupt-chunk', async () => {
      const ctx = await browser.newContext();
      const p = await ctx.newPage();
      await p.goto(`${server.url}?image=corrupt/`);
      await p.waitForFunction(() => window.webx86?.errors.some((e) => e.includes('SHA-256')),
        null, { timeout: args.bootTimeout * 1000, polling: 500 });
      const text = await p.textContent('#errors');
      log(`  error shown: ${text.split('\n')[0]}`);
      if (!/corrupt\/manifest\.json/.test(text)) {
        throw new Error(`the error does not name the image: ${text}`);
      }
      await ctx.close();
    });
  } finally {
    await browser.close();
    await server.close();
    rmSync(corrupt, { recursive: true, force: true });
  }
  const passed = results.filter((r) => r.ok).length;
  const failed = results.length - passed;
  console.log(`web-e2e: ${passed} passed, ${failed} failed`);
  return failed === 0 && results.length > 0 ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (e) {
  console.error(`e2e: ${e.message}`);
  process.exitCode = 2;
}
