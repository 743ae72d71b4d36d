// The copy-on-write overlay in the origin private file system (OPFS), through a synchronous
// access handle: only a worker can open one, and then the Rust side reads and writes it
// synchronously (web/src/overlay_file.rs). The guest's files therefore survive a reload.

/** How long to wait for a handle the previous page's worker may still hold (a reload). */
const LOCK_WAIT_MS = 5000;
const RETRY_MS = 200;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Error text for a DOMException or Error, as one string (what the Rust side reports). */
function describe(e) {
  return e && e.name && e.message ? `${e.name}: ${e.message}` : String(e);
}

/**
 * Opens (creating it if needed) the overlay file `name`. Resolves to { file, close, note }:
 * `file` is the OverlayFile object for WebMachine.attach_image, or null with `note` saying
 * why the guest's changes will not be kept.
 */
export async function openOverlay(name) {
  const label = `the overlay file ${name} in this site's private storage`;
  if (!globalThis.navigator?.storage?.getDirectory) {
    return { file: null, close() {}, note: 'This browser has no origin private file system: files you change are not kept after a reload.' };
  }
  let handle;
  try {
    const dir = await navigator.storage.getDirectory();
    const fileHandle = await dir.getFileHandle(name, { create: true });
    const deadline = performance.now() + LOCK_WAIT_MS;
    for (;;) {
      try {
        handle = await fileHandle.createSyncAccessHandle();
        break;
      } catch (e) {
        if (e.name !== 'NoModificationAllowedError' || performance.now() > deadline) {
          throw e;
        }
        await sleep(RETRY_MS);
      }
    }
  } catch (e) {
    const why = e.name === 'NoModificationAllowedError'
      ? 'another tab has this image open'
      : describe(e);
    return { file: null, close() {}, note: `Could not open ${label} (${why}): files you change are not kept after a reload.` };
  }
  const stats = { reads: 0, writes: 0, syncs: 0, ms: 0 };
  const timed = (counter, body) => {
    const t0 = performance.now();
    try {
      return body();
    } catch (e) {
      throw describe(e);
    } finally {
      stats[counter]++;
      stats.ms += performance.now() - t0;
    }
  };
  const file = {
    name: label,
    size() {
      return timed('reads', () => handle.getSize());
    },
    readAt(offset, buf) {
      timed('reads', () => {
        const n = handle.read(buf, { at: offset });
        if (n < buf.length) {
          buf.fill(0, n); // past the end reads as zeros
        }
      });
    },
    writeAt(offset, data) {
      const n = timed('writes', () => handle.write(data, { at: offset }));
      if (n !== data.length) {
        throw `wrote ${n} of ${data.length} bytes (storage full?)`;
      }
    },
    sync() {
      timed('syncs', () => handle.flush());
    },
  };
  return {
    file,
    /** Calls into the file and the time they took, for the status line. */
    stats,
    close() {
      try {
        handle.flush();
        handle.close();
      } catch {
        // already closed
      }
    },
    note: null,
  };
}

/** Deletes the overlay file `name` (reset to image). A missing file is not an error. */
export async function removeOverlay(name) {
  if (!globalThis.navigator?.storage?.getDirectory) {
    return;
  }
  const dir = await navigator.storage.getDirectory();
  try {
    await dir.removeEntry(name);
  } catch (e) {
    if (e.name !== 'NotFoundError') {
      throw new Error(`Could not delete the overlay ${name}: ${describe(e)}`);
    }
  }
}
