// Unit tests of the page's JavaScript that need no browser: the development server (MIME
// types, Range, path safety, prefixes) and the object fetcher (concurrency, retries, SHA-256
// checks, the cache). Run with: node --test web/tests/
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { parseRange, serve } from '../serve.mjs';
import { FetchFailure, HttpSource, ObjectFetcher, sha256Hex } from '../site/objects.js';

describe('parseRange', () => {
  test('forms of a single range', () => {
    assert.equal(parseRange(undefined, 100), null);
    assert.deepEqual(parseRange('bytes=0-9', 100), { start: 0, end: 9 });
    assert.deepEqual(parseRange('bytes=90-', 100), { start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=-10', 100), { start: 90, end: 99 });
    assert.deepEqual(parseRange('bytes=-1000', 100), { start: 0, end: 99 });
    assert.deepEqual(parseRange('bytes=50-1000', 100), { start: 50, end: 99 });
  });
  test('unsatisfiable and ignored ranges', () => {
    assert.equal(parseRange('bytes=100-', 100), 'unsatisfiable');
    assert.equal(parseRange('bytes=-0', 100), 'unsatisfiable');
    assert.equal(parseRange('bytes=0-0', 0), 'unsatisfiable');
    assert.equal(parseRange('bytes=9-3', 100), null);
    assert.equal(parseRange('bytes=0-1,5-6', 100), null);
    assert.equal(parseRange('items=0-1', 100), null);
  });
});

describe('serve', () => {
  let root;
  let server;
  const hex = 'ab'.repeat(32);
  before(async () => {
    root = mkdtempSync(join(tmpdir(), 'webx86-serve-'));
    mkdirSync(join(root, 'site', 'pkg'), { recursive: true });
    mkdirSync(join(root, 'img', 'sha256'), { recursive: true });
    writeFileSync(join(root, 'site', 'index.html'), '<!doctype html>hi');
    writeFileSync(join(root, 'site', 'pkg', 'm.wasm'), Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
    writeFileSync(join(root, 'site', 'main.js'), 'export {};');
    writeFileSync(join(root, 'secret.txt'), 'outside');
    writeFileSync(join(root, 'img', 'manifest.json'), '{}');
    writeFileSync(join(root, 'img', 'sha256', hex), '0123456789');
    server = await serve({ dir: join(root, 'site'), image: join(root, 'img'), port: 0, prefix: '/a/b/', quiet: true });
  });
  after(async () => {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  });
  const get = (path, headers = {}) => fetch(new URL(path, server.url), { headers, redirect: 'manual' });

  test('MIME types', async () => {
    assert.equal((await get('pkg/m.wasm')).headers.get('content-type'), 'application/wasm');
    assert.match((await get('main.js')).headers.get('content-type'), /^text\/javascript/);
    assert.match((await get('')).headers.get('content-type'), /^text\/html/);
    assert.equal((await get('image/manifest.json')).headers.get('content-type'), 'application/json');
    const object = await get(`image/sha256/${hex}`);
    assert.equal(object.headers.get('content-type'), 'application/octet-stream');
    assert.match(object.headers.get('cache-control'), /immutable/);
  });
  test('Range requests', async () => {
    const part = await get(`image/sha256/${hex}`, { range: 'bytes=2-5' });
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), 'bytes 2-5/10');
    assert.equal(await part.text(), '2345');
    const tail = await get(`image/sha256/${hex}`, { range: 'bytes=-3' });
    assert.equal(await tail.text(), '789');
    const bad = await get(`image/sha256/${hex}`, { range: 'bytes=10-' });
    assert.equal(bad.status, 416);
    assert.equal(bad.headers.get('content-range'), 'bytes */10');
  });
  test('only files under the prefix, never outside the roots', async () => {
    assert.equal((await get('/secret.txt')).status, 404);
    assert.equal((await get('%2e%2e/secret.txt')).status, 404);
    assert.equal((await get('image/..%2f..%2fsecret.txt')).status, 404);
    assert.equal((await get('nothing-here')).status, 404);
    const redirect = await get('/a/b');
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.get('location'), '/a/b/');
  });
  test('conditional GET', async () => {
    const first = await get('image/manifest.json');
    const again = await get('image/manifest.json', { 'if-modified-since': first.headers.get('last-modified') });
    assert.equal(again.status, 304);
  });
});

describe('ObjectFetcher', () => {
  const bytesOf = (text) => new TextEncoder().encode(text);

  /** A source whose objects answer after a tick; counts concurrency and attempts. */
  function fakeSource(objects, failures = {}) {
    const source = {
      inFlight: 0,
      maxInFlight: 0,
      attempts: {},
      locate: (rel) => `mem:${rel}`,
      async read(rel) {
        source.attempts[rel] = (source.attempts[rel] ?? 0) + 1;
        source.inFlight++;
        source.maxInFlight = Math.max(source.maxInFlight, source.inFlight);
        await new Promise((r) => setTimeout(r, 2));
        source.inFlight--;
        const failure = failures[rel]?.shift();
        if (failure) {
          throw failure;
        }
        if (!(rel in objects)) {
          throw new FetchFailure(`mem:${rel}`, 'HTTP 404 Not Found', false);
        }
        return objects[rel];
      },
    };
    return source;
  }

  test('at most six in flight, each object verified', async () => {
    const objects = {};
    const hashes = [];
    for (let i = 0; i < 20; i++) {
      const bytes = bytesOf(`object ${i}`);
      const hex = await sha256Hex(bytes);
      objects[`sha256/${hex}`] = bytes;
      hashes.push(hex);
    }
    const source = fakeSource(objects);
    const fetcher = new ObjectFetcher(source, null);
    const got = await Promise.all(hashes.map((h) => fetcher.get(h)));
    assert.ok(got.every((g) => g.verified));
    assert.equal(source.maxInFlight, 6);
    assert.equal(fetcher.stats.netObjects, 20);
    assert.equal(fetcher.pending, 0);
  });

  test('transient failures are retried, a 404 is not', async () => {
    const bytes = bytesOf('x');
    const hex = await sha256Hex(bytes);
    const rel = `sha256/${hex}`;
    const source = fakeSource({ [rel]: bytes }, {
      [rel]: [new FetchFailure('mem:x', 'HTTP 503', true)],
    });
    const fetcher = new ObjectFetcher(source, null);
    assert.ok((await fetcher.get(hex)).verified);
    assert.equal(source.attempts[rel], 2);
    const missing = 'cd'.repeat(32);
    await assert.rejects(fetcher.get(missing), (e) => e.reason === 'HTTP 404 Not Found');
    assert.equal(source.attempts[`sha256/${missing}`], 1);
  });

  test('only verified objects are cached, and the cache is used', async () => {
    const good = bytesOf('good');
    const goodHex = await sha256Hex(good);
    const badHex = 'ef'.repeat(32);
    const store = new Map();
    const cache = {
      get: async (k) => store.get(k) ?? null,
      put: async (k, v) => { store.set(k, v); },
      delete: async (k) => { store.delete(k); },
    };
    const source = fakeSource({ [`sha256/${goodHex}`]: good, [`sha256/${badHex}`]: bytesOf('bad') });
    const fetcher = new ObjectFetcher(source, cache);
    assert.equal((await fetcher.get(badHex)).verified, false);
    assert.equal((await fetcher.get(goodHex)).verified, true);
    assert.deepEqual([...store.keys()], [`mem:sha256/${goodHex}`]);
    await fetcher.get(goodHex);
    assert.equal(source.attempts[`sha256/${goodHex}`], 1);
    assert.equal(fetcher.stats.cacheObjects, 1);
    // A damaged cache entry is dropped and fetched again.
    store.set(`mem:sha256/${goodHex}`, bytesOf('damaged'));
    assert.ok((await fetcher.get(goodHex)).verified);
    assert.equal(source.attempts[`sha256/${goodHex}`], 2);
  });

  test('HttpSource names the URL and the status', async () => {
    const root = mkdtempSync(join(tmpdir(), 'webx86-http-'));
    writeFileSync(join(root, 'index.html'), '');
    const server = await serve({ dir: root, port: 0, quiet: true });
    try {
      const source = new HttpSource(`${server.url}img`);
      await assert.rejects(source.read('manifest.json'), (e) => e instanceof FetchFailure
        && e.location === `${server.url}img/manifest.json` && e.reason === 'HTTP 404 Not Found'
        && !e.transient);
    } finally {
      await server.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
