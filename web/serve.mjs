#!/usr/bin/env node
// A static file server for developing the page: serves web/dist/ (the built site) and an
// image directory, with the MIME types browsers insist on (application/wasm, text/javascript),
// HTTP Range requests, conditional GETs, and long cache lifetimes for the objects named by
// their SHA-256. Only for local use; any static host or CDN serves the same layout.
//
//   node web/serve.mjs [--port 8086] [--host 127.0.0.1] [--dir web/dist]
//                      [--image DIR] [--prefix /some/path/]
//
// The site appears under --prefix (default /), and the image directory at <prefix>image/,
// which is where the page looks by default (web/dist/image, a link the build makes to
// target/guest/debian, unless --image names another directory).

import { createReadStream, promises as fs } from 'node:fs';
import http from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

/** The MIME type for a file name (objects under sha256/ have no extension). */
export function mimeType(path) {
  return MIME[extname(path).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * Parses a Range header against a file of `size` bytes. Returns null (no or unsupported
 * header: send everything), 'unsatisfiable', or { start, end } (inclusive).
 */
export function parseRange(header, size) {
  const m = /^bytes=(\d*)-(\d*)$/.exec((header ?? '').trim());
  if (!m || (m[1] === '' && m[2] === '')) {
    return null; // absent, several ranges, or another unit: a full response is allowed
  }
  let start;
  let end;
  if (m[1] === '') {
    const suffix = Number(m[2]);
    if (suffix === 0) {
      return 'unsatisfiable';
    }
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
    if (m[2] !== '' && Number(m[2]) < start) {
      return null; // syntactically invalid: ignore the header
    }
  }
  if (start >= size || start > end) {
    return 'unsatisfiable';
  }
  return { start, end };
}

/** Maps a URL path to a file under one of `mounts` ([{ at: '/image/', dir }], longest first). */
function locate(mounts, urlPath) {
  let path;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (path.includes('\0')) {
    return null;
  }
  for (const { at, dir } of mounts) {
    if (path === at.slice(0, -1) || path.startsWith(at)) {
      const rest = path.slice(at.length);
      const file = resolve(dir, `.${sep}${rest}`);
      const root = resolve(dir);
      if (file !== root && !file.startsWith(root + sep)) {
        return null; // `..` out of the mount
      }
      return file;
    }
  }
  return null;
}

/**
 * Starts the server (`extraMounts`: more [{ at: 'path/', dir }] under the prefix). Resolves to { url, server, requests, close() }; `requests` lists every
 * request's path (the end-to-end test checks that a second visit fetches no objects).
 */
export async function serve({
  dir, image, port = 8086, host = '127.0.0.1', prefix = '/', quiet = false, extraMounts = [],
}) {
  const base = prefix.endsWith('/') ? prefix : `${prefix}/`;
  // Longest first, so a mount inside the site wins over the site itself.
  const mounts = extraMounts.map(({ at, dir: d }) => ({ at: `${base}${at.replace(/^\/|\/$/g, '')}/`, dir: d }));
  if (image) {
    mounts.push({ at: `${base}image/`, dir: image });
  }
  mounts.push({ at: base, dir });
  mounts.sort((a, b) => b.at.length - a.at.length);
  const requests = [];

  const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, 'http://localhost');
    requests.push(url.pathname);
    const send = (status, text, headers = {}) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
      res.end(req.method === 'HEAD' ? undefined : `${text}\n`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      send(405, 'Method Not Allowed', { allow: 'GET, HEAD' });
      return;
    }
    if (url.pathname === base.slice(0, -1)) {
      res.writeHead(301, { location: base });
      res.end();
      return;
    }
    let file = locate(mounts, url.pathname);
    if (!file) {
      send(404, 'Not Found');
      return;
    }
    let stat;
    try {
      stat = await fs.stat(file);
      if (stat.isDirectory()) {
        if (!url.pathname.endsWith('/')) {
          res.writeHead(301, { location: `${url.pathname}/${url.search}` });
          res.end();
          return;
        }
        file = join(file, 'index.html');
        stat = await fs.stat(file);
      }
    } catch {
      send(404, 'Not Found');
      return;
    }
    if (!stat.isFile()) {
      send(404, 'Not Found');
      return;
    }
    const lastModified = stat.mtime.toUTCString();
    const immutable = /\/sha256\/[0-9a-f]{64}$/.test(url.pathname);
    const headers = {
      'content-type': mimeType(file),
      'accept-ranges': 'bytes',
      'last-modified': lastModified,
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    };
    const since = req.headers['if-modified-since'];
    if (since && !req.headers.range && Date.parse(since) >= Math.floor(stat.mtimeMs / 1000) * 1000) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    const range = parseRange(req.headers.range, stat.size);
    if (range === 'unsatisfiable') {
      send(416, 'Range Not Satisfiable', { 'content-range': `bytes */${stat.size}` });
      return;
    }
    let status = 200;
    let start = 0;
    let end = stat.size - 1;
    if (range) {
      status = 206;
      ({ start, end } = range);
      headers['content-range'] = `bytes ${start}-${end}/${stat.size}`;
    }
    headers['content-length'] = String(Math.max(0, end - start + 1));
    res.writeHead(status, headers);
    if (req.method === 'HEAD' || stat.size === 0) {
      res.end();
      return;
    }
    const stream = createReadStream(file, { start, end });
    stream.on('error', () => res.destroy());
    stream.pipe(res);
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, host, ok);
  });
  const address = server.address();
  const url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}${base}`;
  if (!quiet) {
    console.log(`serving ${resolve(dir)} at ${url}`);
    if (image) {
      console.log(`serving the image ${resolve(image)} at ${url}image/`);
    }
  }
  return {
    url,
    server,
    requests,
    close: () => new Promise((ok) => {
      server.closeAllConnections?.();
      server.close(ok);
    }),
  };
}

function parseArgs(argv) {
  const args = { dir: join(here, 'dist'), port: 8086, host: '127.0.0.1', prefix: '/' };
  for (let i = 0; i < argv.length; i++) {
    const value = () => {
      if (i + 1 >= argv.length) {
        throw new Error(`${argv[i]} needs a value`);
      }
      return argv[++i];
    };
    switch (argv[i]) {
      case '--dir': args.dir = value(); break;
      case '--image': args.image = value(); break;
      case '--port': args.port = Number(value()); break;
      case '--host': args.host = value(); break;
      case '--prefix': args.prefix = value(); break;
      case '-h':
      case '--help':
        console.log('usage: node web/serve.mjs [--port N] [--host H] [--dir DIR] [--image DIR] [--prefix /path/]');
        process.exit(0);
        break;
      default:
        throw new Error(`unexpected argument ${argv[i]}`);
    }
  }
  if (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535) {
    throw new Error('--port must be a port number');
  }
  if (!args.prefix.startsWith('/')) {
    throw new Error('--prefix must start with /');
  }
  return args;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let args;
  try {
    args = parseArgs(process.argv.slice(2));
    await fs.access(join(args.dir, 'index.html'));
  } catch (e) {
    console.error(`serve: ${e.code === 'ENOENT' ? `${args.dir} has no index.html: build the site first (bash web/build.sh)` : e.message}`);
    process.exit(2);
  }
  try {
    await serve(args);
  } catch (e) {
    console.error(`serve: cannot listen on ${args.host}:${args.port}: ${e.message}`);
    process.exit(1);
  }
}
