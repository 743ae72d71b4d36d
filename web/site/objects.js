// Objects of a chunked image (manifest.json, and the kernel, initrd and disk chunks stored at
// sha256/<hex> beside it), fetched several at a time, retried when the failure may pass,
// checked against their SHA-256 and kept in a persistent cache so a second visit downloads
// nothing. Shared by the browser worker and the Node runner (web/cli.mjs).

/** Requests in flight at once (a browser allows about six per host over HTTP/1.1). */
export const MAX_IN_FLIGHT = 6;
/** Attempts for a failure that may pass (network error, HTTP 5xx, 408, 429). */
const ATTEMPTS = 4;
/** A request that has not finished by then is abandoned (and retried). */
const REQUEST_TIMEOUT_MS = 60_000;

/** Why an object could not be fetched; `location` is the URL or path tried. */
export class FetchFailure extends Error {
  constructor(location, reason, transient) {
    super(`${location}: ${reason}`);
    this.location = location;
    this.reason = reason;
    this.transient = transient;
  }
}

/** Lower-case hex of bytes. */
export function toHex(bytes) {
  let hex = '';
  for (const b of bytes) {
    hex += b.toString(16).padStart(2, '0');
  }
  return hex;
}

/** SHA-256 of `bytes` as hex (Web Crypto: in workers and in Node 20+). */
export async function sha256Hex(bytes) {
  return toHex(new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)));
}

/**
 * Objects under an HTTP(S) URL. `read(rel, onProgress)` resolves to the bytes of `base/rel`,
 * calling `onProgress(bytesSoFar)` as they stream in.
 */
export class HttpSource {
  constructor(baseUrl) {
    this.base = baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`;
  }

  locate(rel) {
    return new URL(rel, this.base).href;
  }

  /**
   * `httpCache` is fetch's cache mode: 'no-cache' revalidates (the manifest), 'no-store'
   * keeps the browser's HTTP cache out of it (objects kept in the Cache API: once is enough).
   */
  async read(rel, onProgress = () => {}, { httpCache = 'default' } = {}) {
    const url = this.locate(rel);
    let response;
    try {
      response = await fetch(url, {
        cache: httpCache,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (e) {
      const reason = e.name === 'TimeoutError'
        ? `no answer within ${REQUEST_TIMEOUT_MS / 1000} s`
        : `network error (${e.message})`;
      throw new FetchFailure(url, reason, true);
    }
    if (!response.ok) {
      const transient = response.status >= 500 || response.status === 408 || response.status === 429;
      throw new FetchFailure(url, `HTTP ${response.status} ${response.statusText}`.trim(), transient);
    }
    if (!response.body) {
      return new Uint8Array(await response.arrayBuffer());
    }
    const parts = [];
    let length = 0;
    const reader = response.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) {
          break;
        }
        parts.push(value);
        length += value.length;
        onProgress(length);
      }
    } catch (e) {
      throw new FetchFailure(url, `the download broke off (${e.message})`, true);
    }
    const bytes = new Uint8Array(length);
    let at = 0;
    for (const part of parts) {
      bytes.set(part, at);
      at += part.length;
    }
    return bytes;
  }
}

/** Objects in the Cache API (browser), keyed by URL; they never change (named by content). */
export class BrowserObjectCache {
  static async open(name = 'webx86-objects-v1') {
    if (typeof caches === 'undefined') {
      return null;
    }
    try {
      return new BrowserObjectCache(await caches.open(name));
    } catch {
      return null; // e.g. storage disabled: run without a cache
    }
  }

  constructor(cache) {
    this.cache = cache;
  }

  async get(url) {
    const hit = await this.cache.match(url);
    return hit ? new Uint8Array(await hit.arrayBuffer()) : null;
  }

  async put(url, bytes) {
    try {
      await this.cache.put(url, new Response(bytes, {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) },
      }));
    } catch {
      // Quota exceeded or the like: the object is still used, just not kept.
    }
  }

  async delete(url) {
    await this.cache.delete(url);
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Fetches objects named by SHA-256 from `source` (an HttpSource or a directory source),
 * at most MAX_IN_FLIGHT at once, through `cache` (or none). Counts bytes for the status line.
 */
export class ObjectFetcher {
  constructor(source, cache) {
    this.source = source;
    this.cache = cache;
    this.queue = [];
    this.inFlight = 0;
    this.stats = { netBytes: 0, netObjects: 0, cacheBytes: 0, cacheObjects: 0 };
  }

  /** Objects waiting or being fetched. */
  get pending() {
    return this.queue.length + this.inFlight;
  }

  /**
   * Resolves to { bytes, verified } for the object `hex`; verified is false when the bytes do
   * not have that SHA-256 (the caller reports it; such bytes are never cached). Rejects with a
   * FetchFailure. `onProgress(bytesSoFar)` follows the download.
   */
  get(hex, onProgress) {
    return new Promise((resolve, reject) => {
      this.queue.push({ hex, onProgress, resolve, reject });
      this.pump();
    });
  }

  pump() {
    while (this.inFlight < MAX_IN_FLIGHT && this.queue.length > 0) {
      const job = this.queue.shift();
      this.inFlight++;
      this.fetchOne(job.hex, job.onProgress)
        .then(job.resolve, job.reject)
        .finally(() => {
          this.inFlight--;
          this.pump();
        });
    }
  }

  async fetchOne(hex, onProgress = () => {}) {
    const rel = `sha256/${hex}`;
    const key = this.source.locate(rel);
    if (this.cache) {
      const cached = await this.cache.get(key);
      if (cached) {
        if (await sha256Hex(cached) === hex) {
          this.stats.cacheBytes += cached.length;
          this.stats.cacheObjects++;
          onProgress(cached.length);
          return { bytes: cached, verified: true };
        }
        await this.cache.delete(key); // damaged in storage: fetch it again
      }
    }
    let bytes;
    for (let attempt = 1; ; attempt++) {
      try {
        bytes = await this.source.read(rel, onProgress, { httpCache: this.cache ? 'no-store' : 'default' });
        break;
      } catch (e) {
        if (!(e instanceof FetchFailure) || !e.transient || attempt >= ATTEMPTS) {
          throw e;
        }
        await sleep(250 * 2 ** attempt);
      }
    }
    this.stats.netBytes += bytes.length;
    this.stats.netObjects++;
    const verified = await sha256Hex(bytes) === hex;
    if (verified && this.cache) {
      await this.cache.put(key, bytes);
    }
    return { bytes, verified };
  }
}
