// Drives one WebMachine (the WebAssembly PC) from JavaScript: loads a chunked image (manifest,
// kernel, initrd), boots it, then runs the guest in time slices, yielding to the event loop
// between them so console input, chunk downloads and messages are handled; sleeps while the
// guest idles. The browser worker (worker.js) and the Node runner (../cli.mjs) both use it.

import { ObjectFetcher, sha256Hex } from './objects.js';

/** WebMachine.run's return codes (run_status in web/src/machine.rs). */
export const RunStatus = Object.freeze({ BUSY: 0, IDLE: 1, POWERED_OFF: 2, RESET: 3, TRIPLE_FAULT: 4 });

/** Host time one run call may take before yielding (one frame: input stays responsive). */
const SLICE_MS = 16;
/** How often the status (MIPS, bytes fetched) is reported. */
const STATUS_INTERVAL_MS = 500;

/**
 * One guest. Options:
 *   bindings    the initialised wasm-bindgen module (WebMachine)
 *   source      where the image's objects are (objects.js HttpSource, or cli.mjs's directory)
 *   cache       a persistent object cache (BrowserObjectCache) or null
 *   openOverlay async (name) => { file, note } where file is an OverlayFile for
 *               web/src/overlay_file.rs or null (the overlay then lives in memory) and note
 *               says why, if it is null
 *   memMib, realtime, cols, rows
 *   yieldNow    (fn) => void: call fn soon, after pending events (MessageChannel, setImmediate)
 *   events      { output(bytes), status(s), progress(p), error(message, fatal), note(text),
 *                 stopped(reason) }
 */
export class Guest {
  constructor(options) {
    this.o = options;
    this.fetcher = new ObjectFetcher(options.source, options.cache);
    this.machine = null;
    /** Bumped whenever the machine is replaced, so late chunk answers go nowhere. */
    this.generation = 0;
    this.pendingInput = [];
    this.size = { cols: options.cols ?? 80, rows: options.rows ?? 25 };
    this.idleTimer = null;
    this.idle = false;
    this.stopped = false;
    this.state = 'starting';
    this.lastStatus = { at: 0, retired: 0, busyMs: 0 };
    /** Host time spent inside WebMachine.run: guest MIPS is measured over it, not over idling. */
    this.busyMs = 0;
    this.mips = 0;
  }

  /** Loads the image and boots it; rejects with an Error whose message is for the user. */
  async start() {
    const { source, events } = this.o;
    this.setState('loading the image manifest');
    this.manifestUrl = source.locate('manifest.json');
    let manifestBytes;
    try {
      manifestBytes = await source.read('manifest.json', undefined, { httpCache: 'no-cache' });
    } catch (e) {
      throw new Error(`Could not fetch the image manifest ${this.manifestUrl}: ${e.reason ?? e.message}.`);
    }
    this.manifestBytes = manifestBytes;
    this.imageId = (await sha256Hex(manifestBytes)).slice(0, 16);
    this.overlayName = `overlay-${this.imageId}.cow`;
    const overlay = await this.o.openOverlay(this.overlayName);
    this.overlay = overlay;
    if (overlay.note) {
      events.note(overlay.note);
    }
    this.createMachine();
    // The manifest passed the Rust side's checks in attach_image: its fields are usable.
    this.manifest = JSON.parse(new TextDecoder().decode(manifestBytes));
    this.bootFiles = await this.fetchBootFiles();
    this.boot();
  }

  createMachine() {
    const { bindings, memMib, realtime } = this.o;
    this.generation++;
    const machine = new bindings.WebMachine(memMib, Date.now() / 1000, realtime);
    try {
      machine.attach_image(this.manifestBytes, this.manifestUrl, this.overlay.file ?? undefined);
    } catch (e) {
      machine.free();
      throw e;
    }
    machine.set_console_size(this.size.cols, this.size.rows);
    this.machine = machine;
  }

  /** The kernel and initrd, with progress in bytes. */
  async fetchBootFiles() {
    const { kernel, initrd } = this.manifest;
    const files = [kernel, initrd].filter((f) => f);
    const total = files.reduce((sum, f) => sum + f.size, 0);
    const loaded = files.map(() => 0);
    const report = () => this.o.events.progress({
      what: 'kernel and initrd', loaded: loaded.reduce((a, b) => a + b, 0), total,
    });
    this.setState('downloading the kernel and initrd');
    report();
    const fetched = await Promise.all(files.map((f, i) => this.fetcher.get(f.sha256, (n) => {
      loaded[i] = n;
      report();
    }).catch((e) => {
      throw new Error(`Could not fetch the ${i === 0 ? 'kernel' : 'initrd'} of ${this.manifestUrl} `
        + `from ${e.location ?? this.o.source.locate(`sha256/${f.sha256}`)}: ${e.reason ?? e.message}.`);
    })));
    loaded.forEach((_, i) => { loaded[i] = files[i].size; });
    report();
    return { kernel: fetched[0]?.bytes, initrd: fetched[1]?.bytes };
  }

  boot() {
    // boot_image checks both files against the manifest's sizes and SHA-256 digests.
    this.machine.boot_image(this.bootFiles.kernel, this.bootFiles.initrd);
    this.setState('running');
    this.lastStatus = { at: performance.now(), retired: 0, busyMs: this.busyMs };
    for (const bytes of this.pendingInput.splice(0)) {
      this.machine.send_input(bytes);
    }
    this.soon();
  }

  /** Keyboard (or pasted) bytes for the guest's console. */
  input(bytes) {
    if (!this.machine || !this.bootFiles) {
      this.pendingInput.push(bytes);
      return;
    }
    this.machine.send_input(bytes);
    this.wake();
  }

  /** The terminal's size, for the guest's virtio console (and so for `stty size`). */
  resize(cols, rows) {
    this.size = { cols, rows };
    if (this.machine) {
      this.machine.set_console_size(cols, rows);
      this.wake();
    }
  }

  /** Stops running and frees the machine. The overlay's contents stay in its store. */
  close() {
    this.stopped = true;
    clearTimeout(this.idleTimer);
    if (this.machine) {
      this.machine.free();
      this.machine = null;
    }
    this.generation++;
  }

  setState(state) {
    this.state = state;
    this.reportStatus(true);
  }

  soon() {
    const generation = this.generation;
    this.o.yieldNow(() => {
      if (generation === this.generation) {
        this.tick();
      }
    });
  }

  /** Ends an idle wait early (input, a chunk arrived). */
  wake() {
    if (this.idle && !this.stopped) {
      this.idle = false;
      clearTimeout(this.idleTimer);
      this.idleTimer = null;
      this.soon();
    }
  }

  tick() {
    if (this.stopped || !this.machine) {
      return;
    }
    const machine = this.machine;
    let status;
    const t0 = performance.now();
    try {
      status = machine.run(SLICE_MS);
      this.busyMs += performance.now() - t0;
    } catch (e) {
      // A Rust panic is a bug in webx86, never the guest's doing; stop and say so.
      this.fail(`The emulator stopped on an internal error: ${e.message}`);
      return;
    }
    this.exchange(machine);
    this.idle = status === RunStatus.IDLE;
    this.reportStatus(false);
    switch (status) {
      case RunStatus.BUSY:
        this.soon();
        break;
      case RunStatus.IDLE: {
        const ms = machine.idle_ms();
        if (Number.isFinite(ms)) {
          this.idleTimer = setTimeout(() => this.wake(), Math.max(0, ms));
        }
        break;
      }
      case RunStatus.RESET:
        this.reboot();
        break;
      case RunStatus.POWERED_OFF:
        this.stop('powered off', 'The guest powered off.');
        break;
      default:
        this.fail('The guest CPU shut down after a triple fault.');
    }
  }

  /** Console bytes out, chunk requests out, disk errors to the page. */
  exchange(machine) {
    const out = machine.take_output();
    if (out.length > 0) {
      this.o.events.output(out);
    }
    for (const hex of machine.wanted_chunks()) {
      this.fetchChunk(hex);
    }
    for (const message of machine.take_disk_errors()) {
      this.o.events.error(`Disk error: ${message}.`, false);
    }
  }

  fetchChunk(hex) {
    const generation = this.generation;
    this.fetcher.get(hex).then(({ bytes }) => {
      if (generation === this.generation) {
        this.machine.deliver_chunk(hex, bytes); // verified on the Rust side
      }
    }, (e) => {
      if (generation === this.generation) {
        this.machine.fail_chunk(hex, e.location ?? this.o.source.locate(`sha256/${hex}`),
          e.reason ?? e.message);
      }
    }).finally(() => this.wake());
  }

  /** The guest asked for a reboot: a new machine on the same image and overlay. */
  reboot() {
    this.setState('rebooting');
    this.machine.free();
    this.machine = null;
    try {
      this.createMachine();
      this.boot();
    } catch (e) {
      this.fail(e.message);
    }
  }

  stop(state, message) {
    this.setState(state);
    this.stopped = true;
    this.o.events.stopped(message);
  }

  fail(message) {
    this.setState('stopped');
    this.stopped = true;
    this.o.events.error(message, true);
  }

  reportStatus(force) {
    const now = performance.now();
    if (!force && now - this.lastStatus.at < STATUS_INTERVAL_MS) {
      return;
    }
    const retired = this.machine ? this.machine.retired() : 0;
    const busy = this.busyMs - this.lastStatus.busyMs;
    if (this.machine && busy > 50 && retired >= this.lastStatus.retired) {
      this.mips = (retired - this.lastStatus.retired) / busy / 1000;
    }
    if (busy > 50 || retired < this.lastStatus.retired) {
      this.lastStatus = { at: now, retired, busyMs: this.busyMs };
    } else {
      this.lastStatus.at = now;
    }
    let state = this.state;
    if (state === 'running' && this.idle) {
      state = this.fetcher.pending > 0 ? 'waiting for the disk' : 'idle';
    }
    this.o.events.status({
      state,
      mips: this.mips,
      retired,
      ...this.fetcher.stats,
      chunksPending: this.fetcher.pending,
      overlay: this.overlay?.stats ?? null,
    });
  }
}
