//! The PC as a JavaScript class. The browser's worker (`web/site/worker.js`) and the Node runner
//! (`web/cli.mjs`) own one each and drive it the same way (`web/site/guest.js`): run for a few
//! milliseconds, move console bytes and chunk requests, yield to the event loop, repeat; sleep
//! while the guest idles.

use wasm_bindgen::prelude::*;
use webx86::machine::{Clock, Machine, MachineConfig, SliceEnd};
use webx86_bios::Image;

use crate::host::{now_ms, CryptoRandom, PerformanceClock};
use crate::image::StreamedImage;
use crate::overlay_file::{OverlayFile, WebStore};

/// What [`WebMachine::run`] returns.
pub mod run_status {
    /// The time budget was used up with the guest still busy: yield, then call again.
    pub const BUSY: u32 = 0;
    /// The guest waits for an interrupt: call again after `idle_ms` or on input.
    pub const IDLE: u32 = 1;
    /// The guest switched the machine off (HLT with interrupts disabled).
    pub const POWERED_OFF: u32 = 2;
    /// The guest asked for a reboot.
    pub const RESET: u32 = 3;
    /// The CPU shut down after a triple fault.
    pub const TRIPLE_FAULT: u32 = 4;
}

/// A PC with its console and clock, for JavaScript.
#[wasm_bindgen]
pub struct WebMachine {
    machine: Machine,
    /// After an IDLE run: how long the guest has nothing to do (infinite: until input).
    idle_ms: f64,
    /// The streamed disk's handles, once [`WebMachine::attach_image`] gave it to the machine.
    image: Option<StreamedImage>,
}

#[wasm_bindgen]
impl WebMachine {
    /// A PC with `mem_mib` MiB of RAM whose RTC starts at `rtc_unix_time` (seconds). A
    /// `realtime` machine keeps guest time with `performance.now()` (interactive use); otherwise
    /// guest time follows retired instructions and runs are reproducible.
    #[wasm_bindgen(constructor)]
    pub fn new(mem_mib: u32, rtc_unix_time: f64, realtime: bool) -> WebMachine {
        let clock = if realtime {
            Clock::realtime(Box::new(PerformanceClock))
        } else {
            Clock::deterministic()
        };
        let config = MachineConfig {
            mem_mib,
            rtc_unix_time: rtc_unix_time as i64,
        };
        let mut machine = Machine::new(config, clock);
        machine.set_entropy(Box::new(CryptoRandom));
        WebMachine {
            machine,
            idle_ms: 0.0,
            image: None,
        }
    }

    /// Attaches the chunked image described by `manifest_json` (fetched from `manifest_url`) as
    /// the virtio disk, its writes kept in `overlay` (an OverlayFile, see
    /// web/src/overlay_file.rs) or, without one, in memory. The disk's chunks are then asked
    /// for through [`WebMachine::wanted_chunks`]. Fails with a sentence naming the URL when
    /// the manifest is unusable or the overlay belongs to another image.
    pub fn attach_image(
        &mut self,
        manifest_json: &[u8],
        manifest_url: &str,
        overlay: Option<OverlayFile>,
    ) -> Result<(), JsError> {
        if self.image.is_some() {
            return Err(JsError::new("this machine already has its disk"));
        }
        let store = match overlay {
            Some(file) => WebStore::Js(file),
            None => WebStore::Memory(Default::default()),
        };
        let (image, disk) = StreamedImage::open(manifest_json, manifest_url, store)
            .map_err(|e| JsError::new(&e.to_string()))?;
        self.machine
            .attach_disk(Box::new(disk))
            .map_err(|e| JsError::new(&e.to_string()))?;
        self.image = Some(image);
        Ok(())
    }

    /// Boots the attached image's kernel and initrd (fetched by the caller; both are checked
    /// against the manifest's sizes and SHA-256 digests) with the manifest's command line.
    pub fn boot_image(&mut self, kernel: &[u8], initrd: Option<Vec<u8>>) -> Result<(), JsError> {
        let image = self
            .image
            .as_ref()
            .ok_or_else(|| JsError::new("no image is attached to boot from"))?;
        image
            .verify_boot_files(kernel, initrd.as_deref())
            .map_err(|e| JsError::new(&e.to_string()))?;
        let kernel_name = format!("the kernel of {}", image.name);
        let initrd_name = format!("the initrd of {}", image.name);
        let cmdline = image.manifest.cmdline.clone();
        self.boot_linux(&kernel_name, kernel, &initrd_name, initrd, &cmdline)
    }

    /// SHA-256 digests (hex) of the image objects the disk needs, asked for since the last
    /// call: fetch each and answer with [`WebMachine::deliver_chunk`] or
    /// [`WebMachine::fail_chunk`].
    pub fn wanted_chunks(&mut self) -> Vec<String> {
        self.image.as_ref().map_or_else(Vec::new, |image| {
            image
                .queue
                .take_wanted()
                .iter()
                .map(|h| h.to_hex())
                .collect()
        })
    }

    /// The bytes of object `hex` (the disk verifies them against the digest).
    pub fn deliver_chunk(&mut self, hex: &str, bytes: Vec<u8>) -> Result<(), JsError> {
        let hash = parse_hash(hex)?;
        if let Some(image) = &self.image {
            image.queue.deliver(hash, bytes);
        }
        Ok(())
    }

    /// Object `hex` could not be fetched from `location` (`reason` says why); the guest's
    /// reads of it fail with an I/O error and the page is told.
    pub fn fail_chunk(
        &mut self,
        hex: &str,
        location: String,
        reason: String,
    ) -> Result<(), JsError> {
        let hash = parse_hash(hex)?;
        if let Some(image) = &self.image {
            image.queue.fail(hash, location, reason);
        }
        Ok(())
    }

    /// Disk errors not reported before, one sentence each (a chunk that failed its SHA-256
    /// check, a fetch that failed, an overlay write that failed).
    pub fn take_disk_errors(&mut self) -> Vec<String> {
        self.image
            .as_ref()
            .map_or_else(Vec::new, |image| image.errors.take_new())
    }

    /// The terminal's size in characters, for the guest's virtio console.
    pub fn set_console_size(&mut self, cols: u16, rows: u16) {
        self.machine.set_console_size(cols, rows);
    }

    /// Loads a Linux kernel (named `kernel_name` in messages) with an optional initrd and the
    /// command line, ready to run.
    pub fn boot_linux(
        &mut self,
        kernel_name: &str,
        kernel: &[u8],
        initrd_name: &str,
        initrd: Option<Vec<u8>>,
        cmdline: &str,
    ) -> Result<(), JsError> {
        let initrd = initrd
            .as_deref()
            .map(|bytes| Image::new(initrd_name, bytes));
        self.machine
            .boot_linux(Image::new(kernel_name, kernel), initrd, cmdline)
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(())
    }

    /// Keyboard bytes for the guest's console.
    pub fn send_input(&mut self, bytes: &[u8]) {
        self.machine.send_console_input(bytes);
    }

    /// What the guest wrote to its console since the last call.
    pub fn take_output(&mut self) -> Vec<u8> {
        self.machine.take_console_output()
    }

    /// Messages from the machine (unsupported device accesses and the like), for a log.
    pub fn take_log(&mut self) -> Vec<String> {
        self.machine.platform().take_log()
    }

    /// Runs slices until `budget_ms` of host time has passed or the guest idles or stops;
    /// returns a [`run_status`] code.
    pub fn run(&mut self, budget_ms: f64) -> u32 {
        let deadline = now_ms() + budget_ms;
        loop {
            match self.machine.run_slice() {
                SliceEnd::Ran => {
                    if now_ms() >= deadline {
                        return run_status::BUSY;
                    }
                }
                SliceEnd::Idle { until } => {
                    let now = self.machine.now();
                    self.idle_ms = until.map_or(f64::INFINITY, |until| {
                        until.saturating_sub(now) as f64 / 1e6
                    });
                    return run_status::IDLE;
                }
                SliceEnd::PoweredOff => return run_status::POWERED_OFF,
                SliceEnd::ResetRequested => return run_status::RESET,
                SliceEnd::TripleFault => return run_status::TRIPLE_FAULT,
            }
        }
    }

    /// After [`run_status::IDLE`]: milliseconds until the guest's next timer event (infinite if
    /// none: only input wakes it).
    pub fn idle_ms(&self) -> f64 {
        self.idle_ms
    }

    /// Instructions retired since power-on (exact below 2^53).
    pub fn retired(&self) -> f64 {
        self.machine.retired() as f64
    }

    /// Guest time since power-on, in milliseconds.
    pub fn guest_ms(&mut self) -> f64 {
        self.machine.now() as f64 / 1e6
    }
}

fn parse_hash(hex: &str) -> Result<webx86_disk::ContentHash, JsError> {
    hex.parse()
        .map_err(|_| JsError::new(&format!("{hex} is not a SHA-256 digest in hex")))
}
