// The page: an xterm.js terminal wired to the worker that runs the PC (worker.js), a progress
// bar while the kernel and initrd download, a status line, errors in plain text, and "Reset to
// image". Every URL is relative to this module, so the site works under any path prefix.
//
// Query parameters: ?image=URL (the image directory holding manifest.json; default image/
// beside the page), ?mem=MiB (guest RAM, default 256).

import { Terminal } from './vendor/xterm.mjs';
import { FitAddon } from './vendor/addon-fit.mjs';

const DEFAULT_IMAGE = 'image/';
const DEFAULT_MEM_MIB = 256;

const params = new URLSearchParams(location.search);
const imageUrl = new URL(params.get('image') || DEFAULT_IMAGE, location.href).href;
const memMib = Math.min(Math.max(Number(params.get('mem')) || DEFAULT_MEM_MIB, 16), 2048);

const $ = (id) => document.getElementById(id);
const statusEl = $('status');
const errorsEl = $('errors');
const notesEl = $('notes');
const progressEl = $('progress');

const term = new Terminal({
  convertEol: false,
  cursorBlink: true,
  scrollback: 5000,
  fontFamily: 'ui-monospace, "DejaVu Sans Mono", monospace',
  fontSize: 15,
});
const fit = new FitAddon();
term.loadAddon(fit);
term.open($('terminal'));
fit.fit();
term.focus();

/** Ctrl+Shift+C copies the selection, Ctrl+Shift+V pastes (plain Ctrl+C goes to the guest). */
term.attachCustomKeyEventHandler((e) => {
  if (e.type !== 'keydown' || !e.ctrlKey || !e.shiftKey) {
    return true;
  }
  if (e.code === 'KeyC' && term.hasSelection()) {
    navigator.clipboard?.writeText(term.getSelection()).catch(() => {});
    return false;
  }
  if (e.code === 'KeyV') {
    navigator.clipboard?.readText().then((text) => term.paste(text)).catch(() => {});
    return false;
  }
  return true;
});

const encoder = new TextEncoder();
let worker = null;
let resetting = false;

/** What the page knows, for people and for the end-to-end test (tests/e2e.mjs). */
const view = {
  state: 'starting',
  status: null,
  errors: [],
  notes: [],
  booted: null,
  /** The terminal's size in characters. */
  size() {
    return { cols: term.cols, rows: term.rows };
  },
  /** The terminal's whole buffer (scrollback and screen) as text. */
  text() {
    const buffer = term.buffer.active;
    const lines = [];
    for (let i = 0; i < buffer.length; i++) {
      lines.push(buffer.getLine(i)?.translateToString(true) ?? '');
    }
    return lines.join('\n');
  },
};
window.webx86 = view;

function showError(message) {
  view.errors.push(message);
  errorsEl.hidden = false;
  errorsEl.textContent = view.errors.join('\n');
}

function showNote(message) {
  view.notes.push(message);
  notesEl.hidden = false;
  notesEl.textContent = view.notes.join('\n');
}

const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;

function showStatus(s) {
  view.status = s;
  view.state = s.state;
  const parts = [s.state];
  if (s.mips > 0) {
    parts.push(`${s.mips.toFixed(0)} MIPS`);
  }
  parts.push(`fetched ${mib(s.netBytes)} (${s.netObjects} objects)`);
  if (s.cacheObjects > 0) {
    parts.push(`from cache ${mib(s.cacheBytes)}`);
  }
  if (s.chunksPending > 0) {
    parts.push(`${s.chunksPending} downloading`);
  }
  statusEl.textContent = parts.join(' · ');
}

function showProgress({ what, loaded, total }) {
  progressEl.hidden = loaded >= total;
  const pct = total > 0 ? (100 * loaded) / total : 100;
  $('progress-text').textContent = `Downloading the ${what}: ${mib(loaded)} of ${mib(total)} (${pct.toFixed(0)}%)`;
  $('progress-bar').value = total > 0 ? loaded / total : 1;
}

function startWorker() {
  view.booted = null;
  worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  worker.onerror = (e) => {
    showError(`The emulator's worker failed to start: ${e.message || 'see the browser console'}.`);
    statusEl.textContent = 'stopped';
  };
  worker.onmessage = ({ data: m }) => {
    switch (m.type) {
      case 'output':
        term.write(m.bytes);
        break;
      case 'status':
        showStatus(m.status);
        break;
      case 'progress':
        showProgress(m.progress);
        break;
      case 'error':
        showError(m.message);
        if (m.fatal) {
          view.state = 'stopped';
          statusEl.textContent = `stopped: ${m.message}`;
        }
        break;
      case 'note':
        showNote(m.message);
        break;
      case 'stopped':
        term.write(`\r\n[${m.message}]\r\n`);
        break;
      case 'booted':
        view.booted = m;
        break;
      default:
        break;
    }
  };
  worker.postMessage({ type: 'start', imageUrl, memMib, cols: term.cols, rows: term.rows });
}

/** Waits for the worker to acknowledge `message` with 'closed' (at most 5 s), then ends it. */
function stopWorker(message) {
  return new Promise((resolve) => {
    const w = worker;
    worker = null;
    if (!w) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      w.terminate();
      resolve();
    };
    const timer = setTimeout(done, 5000);
    w.addEventListener('message', ({ data }) => {
      if (data.type === 'closed' || data.type === 'error') {
        if (data.type === 'error') {
          showError(data.message);
        }
        done();
      }
    });
    w.postMessage({ type: message });
  });
}

term.onData((data) => worker?.postMessage({ type: 'input', bytes: encoder.encode(data) }));
term.onBinary((data) => {
  const bytes = Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xFF);
  worker?.postMessage({ type: 'input', bytes });
});
term.onResize(({ cols, rows }) => worker?.postMessage({ type: 'resize', cols, rows }));
new ResizeObserver(() => fit.fit()).observe($('terminal'));

$('reset').addEventListener('click', async () => {
  if (resetting || !window.confirm('Delete every change made to the disk and boot the original image again?')) {
    term.focus();
    return;
  }
  resetting = true;
  statusEl.textContent = 'resetting to the image…';
  await stopWorker('reset');
  view.errors = [];
  errorsEl.hidden = true;
  term.reset();
  startWorker();
  resetting = false;
  term.focus();
});

// Let the worker flush and release the overlay before a reload opens it again.
window.addEventListener('pagehide', () => worker?.postMessage({ type: 'close' }));

startWorker();
