//! webx86 as a WebAssembly module (`wasm32-unknown-unknown`), for Node and, later, the browser.
//!
//! For now the module runs raw ROM images such as test386, through plain C-ABI exports (a later
//! issue replaces them with wasm-bindgen bindings). The module imports nothing and exports its
//! linear memory; `web/node/webx86.mjs` is the JavaScript side. The protocol:
//!
//! 1. [`webx86_rom_buffer`]`(len)` returns the address of `len` bytes of linear memory; the
//!    caller copies the ROM image there.
//! 2. [`webx86_rom_start`]`(post_port)` maps that image as the BIOS (as `webx86 rom` does) and
//!    resets the CPU.
//! 3. [`webx86_run`]`(n)` runs at most `n` more instructions and returns a [`status`] code.
//! 4. [`webx86_debug_ptr`]/[`webx86_debug_len`] and [`webx86_post_ptr`]/[`webx86_post_len`]
//!    locate the bytes written to port 0xE9 and to the POST port since the last
//!    [`webx86_output_clear`]; the caller copies them out, then clears.
//! 5. [`webx86_retired`] is the number of instructions retired since reset.
//!
//! One ROM session exists per module instance; starting a new one replaces it.

use std::cell::RefCell;

use webx86::rom::{check_rom, rom_cpu, run_rom, CapturedOutput, RomEnd};
use webx86_cpu::Cpu;

/// What [`webx86_run`] and [`webx86_rom_start`] return.
pub mod status {
    /// The instruction budget was used up; call [`super::webx86_run`] again to go on.
    pub const RUNNING: u32 = 0;
    /// HLT with interrupts disabled: the ROM has finished.
    pub const HALTED: u32 = 1;
    /// Triple fault.
    pub const SHUTDOWN: u32 = 2;
    /// HLT with interrupts enabled: nothing in a ROM run can wake the CPU.
    pub const IDLE_FOREVER: u32 = 3;
    /// No ROM session has been started.
    pub const NO_ROM: u32 = 4;
    /// The staged image is not a whole number of 4 KiB pages of at most 1 MiB.
    pub const BAD_ROM_SIZE: u32 = 5;
}

/// Largest ROM image [`webx86_rom_buffer`] stages (the BIOS window is at most 1 MiB).
const MAX_ROM_BYTES: u32 = 1 << 20;

/// The module's one ROM session.
#[derive(Default)]
struct Session {
    /// The image the caller is copying in, before [`webx86_rom_start`].
    staged: Vec<u8>,
    cpu: Option<Cpu>,
    output: CapturedOutput,
}

thread_local! {
    static SESSION: RefCell<Session> = RefCell::new(Session::default());
}

fn with_session<R>(f: impl FnOnce(&mut Session) -> R) -> R {
    SESSION.with(|session| f(&mut session.borrow_mut()))
}

/// Stages `len` zeroed bytes for a ROM image and returns their address in linear memory, or
/// null when `len` exceeds 1 MiB. The address is valid until the next call into the module.
#[no_mangle]
pub extern "C" fn webx86_rom_buffer(len: u32) -> *mut u8 {
    if len > MAX_ROM_BYTES {
        return std::ptr::null_mut();
    }
    with_session(|s| {
        s.staged = vec![0; len as usize];
        s.staged.as_mut_ptr()
    })
}

/// Starts a ROM session with the staged image: maps it as the BIOS, resets the CPU and clears
/// the output buffers. Writes to `post_port` are collected as POST codes. Returns
/// [`status::RUNNING`] or [`status::BAD_ROM_SIZE`].
#[no_mangle]
pub extern "C" fn webx86_rom_start(post_port: u32) -> u32 {
    with_session(|s| {
        let image = std::mem::take(&mut s.staged);
        if check_rom("staged ROM", &image).is_err() {
            s.cpu = None;
            return status::BAD_ROM_SIZE;
        }
        s.output = CapturedOutput::default();
        s.cpu = Some(rom_cpu(&image, s.output.clone(), post_port as u16));
        status::RUNNING
    })
}

/// Runs at most `budget` more instructions of the ROM session; returns a [`status`] code.
#[no_mangle]
pub extern "C" fn webx86_run(budget: u32) -> u32 {
    with_session(|s| {
        let Some(cpu) = s.cpu.as_mut() else {
            return status::NO_ROM;
        };
        let until = cpu.state.retired.saturating_add(u64::from(budget));
        match run_rom(cpu, until) {
            RomEnd::Budget => status::RUNNING,
            RomEnd::Halted => status::HALTED,
            RomEnd::Shutdown => status::SHUTDOWN,
            RomEnd::IdleForever => status::IDLE_FOREVER,
        }
    })
}

/// Instructions retired since the session started (exact below 2^53).
#[no_mangle]
pub extern "C" fn webx86_retired() -> f64 {
    with_session(|s| s.cpu.as_ref().map_or(0.0, |cpu| cpu.state.retired as f64))
}

/// Address of the bytes written to port 0xE9 since the last [`webx86_output_clear`].
#[no_mangle]
pub extern "C" fn webx86_debug_ptr() -> *const u8 {
    with_session(|s| s.output.buffers().debug.as_ptr())
}

/// How many bytes [`webx86_debug_ptr`] points at.
#[no_mangle]
pub extern "C" fn webx86_debug_len() -> u32 {
    with_session(|s| s.output.buffers().debug.len() as u32)
}

/// Address of the POST codes written since the last [`webx86_output_clear`], one byte each.
#[no_mangle]
pub extern "C" fn webx86_post_ptr() -> *const u8 {
    with_session(|s| s.output.buffers().post.as_ptr())
}

/// How many POST codes [`webx86_post_ptr`] points at.
#[no_mangle]
pub extern "C" fn webx86_post_len() -> u32 {
    with_session(|s| s.output.buffers().post.len() as u32)
}

/// Empties the port 0xE9 and POST buffers (after the caller has copied them out).
#[no_mangle]
pub extern "C" fn webx86_output_clear() {
    with_session(|s| {
        let mut buffers = s.output.buffers();
        buffers.debug.clear();
        buffers.post.clear();
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use webx86::rom::RomOutput;

    /// A 4 KiB ROM whose reset vector (offset 0xFF0) is `jmp $` (EB FE).
    fn spinning_rom() -> Vec<u8> {
        let mut rom = vec![0xF4; 0x1000];
        rom[0xFF0] = 0xEB;
        rom[0xFF1] = 0xFE;
        rom
    }

    fn stage(image: &[u8]) {
        let ptr = webx86_rom_buffer(image.len() as u32);
        assert!(!ptr.is_null());
        with_session(|s| s.staged.copy_from_slice(image));
    }

    #[test]
    fn runs_a_rom_in_slices() {
        assert_eq!(webx86_rom_buffer(MAX_ROM_BYTES + 1), std::ptr::null_mut());
        stage(&spinning_rom());
        assert_eq!(webx86_rom_start(0x190), status::RUNNING);
        assert_eq!(webx86_run(1000), status::RUNNING);
        assert_eq!(webx86_retired(), 1000.0);
        assert_eq!(webx86_run(234), status::RUNNING);
        assert_eq!(webx86_retired(), 1234.0);
        assert_eq!(webx86_debug_len(), 0);
    }

    #[test]
    fn rejects_badly_sized_images() {
        stage(&[0xF4; 100]);
        assert_eq!(webx86_rom_start(0x190), status::BAD_ROM_SIZE);
        assert_eq!(webx86_run(10), status::NO_ROM);
    }

    #[test]
    fn output_buffers_collect_and_clear() {
        stage(&spinning_rom());
        assert_eq!(webx86_rom_start(0x80), status::RUNNING);
        let mut out = with_session(|s| s.output.clone());
        out.debug_byte(b'h');
        out.debug_byte(b'i');
        out.post_code(0x42);
        let debug = with_session(|s| s.output.buffers().debug.clone());
        assert_eq!(debug, b"hi");
        assert_eq!(webx86_debug_len(), 2);
        assert_eq!(webx86_post_len(), 1);
        assert!(!webx86_post_ptr().is_null());
        webx86_output_clear();
        assert_eq!(webx86_debug_len(), 0);
        assert_eq!(webx86_post_len(), 0);
    }
}
