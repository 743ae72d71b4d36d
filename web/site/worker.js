// The Web Worker that owns the machine. The page sends it messages (start, input, resize,
// close, reset) and gets back console output, progress, status and errors; the guest runs here
// in time slices (guest.js), so the page stays responsive.

import init, * as bindings from './pkg/webx86_web.js';
import { Guest } from './guest.js';
import { BrowserObjectCache, HttpSource } from './objects.js';
import { openOverlay, removeOverlay } from './opfs.js';

let guest = null;
let overlay = null;

/** Calls fn after the events already queued, without setTimeout's 4 ms clamp. */
const channel = new MessageChannel();
const soon = [];
channel.port1.onmessage = () => soon.shift()?.();
function yieldNow(fn) {
  soon.push(fn);
  channel.port2.postMessage(null);
}

const post = (message, transfer) => self.postMessage(message, transfer ?? []);

async function start({ imageUrl, memMib, cols, rows }) {
  try {
    await init({ module_or_path: new URL('./pkg/webx86_web_bg.wasm', import.meta.url) });
  } catch (e) {
    post({ type: 'error', fatal: true, message: `Could not load the emulator (webx86_web_bg.wasm): ${e.message}` });
    return;
  }
  guest = new Guest({
    bindings,
    source: new HttpSource(imageUrl),
    cache: await BrowserObjectCache.open(),
    openOverlay: async (name) => {
      overlay = await openOverlay(name);
      return overlay;
    },
    memMib,
    realtime: true,
    cols,
    rows,
    yieldNow,
    events: {
      output: (bytes) => post({ type: 'output', bytes }, [bytes.buffer]),
      status: (status) => post({ type: 'status', status }),
      progress: (progress) => post({ type: 'progress', progress }),
      error: (message, fatal) => post({ type: 'error', message, fatal }),
      note: (message) => post({ type: 'note', message }),
      stopped: (message) => post({ type: 'stopped', message }),
    },
  });
  try {
    await guest.start();
    post({ type: 'booted', overlay: guest.overlayName, persistent: Boolean(overlay?.file) });
  } catch (e) {
    guest.close();
    post({ type: 'error', fatal: true, message: e.message });
  }
}

function close() {
  guest?.close();
  overlay?.close();
  overlay = null;
}

self.onmessage = async ({ data: message }) => {
  switch (message.type) {
    case 'start':
      await start(message);
      break;
    case 'input':
      guest?.input(message.bytes);
      break;
    case 'resize':
      guest?.resize(message.cols, message.rows);
      break;
    case 'close':
      close();
      post({ type: 'closed' });
      break;
    case 'reset': {
      const name = guest?.overlayName;
      close();
      try {
        if (name) {
          await removeOverlay(name);
        }
        post({ type: 'closed' });
      } catch (e) {
        post({ type: 'error', fatal: true, message: e.message });
      }
      break;
    }
    default:
      break;
  }
};
