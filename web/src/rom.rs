//! Raw ROM images (test386) in the WebAssembly build: `node web/node/smoke-test386.mjs` runs the
//! release `.wasm` through this class, the same module the page loads.

use wasm_bindgen::prelude::*;
use webx86::rom::{check_rom, rom_cpu, run_rom, CapturedOutput, RomEnd};
use webx86_cpu::Cpu;

/// What [`RomSession::run`] returns.
pub mod status {
    /// The instruction budget was used up; call `run` again to go on.
    pub const RUNNING: u32 = 0;
    /// HLT with interrupts disabled: the ROM has finished.
    pub const HALTED: u32 = 1;
    /// Triple fault.
    pub const SHUTDOWN: u32 = 2;
    /// HLT with interrupts enabled: nothing in a ROM run can wake the CPU.
    pub const IDLE_FOREVER: u32 = 3;
}

/// A ROM image mapped as the BIOS (as `webx86 rom` does), with the CPU at its reset vector.
/// Bytes the guest writes to port 0xE9 and POST codes written to the POST port are collected
/// until taken.
#[wasm_bindgen]
pub struct RomSession {
    cpu: Cpu,
    output: CapturedOutput,
}

impl RomSession {
    /// The session, or the sentence saying why `image` cannot be a ROM.
    pub fn open(image: &[u8], post_port: u16) -> Result<RomSession, String> {
        check_rom("the ROM image", image).map_err(|e| e.to_string())?;
        let output = CapturedOutput::default();
        let cpu = rom_cpu(image, output.clone(), post_port);
        Ok(RomSession { cpu, output })
    }
}

#[wasm_bindgen]
impl RomSession {
    /// Maps `image` (a whole number of 4 KiB pages, at most 1 MiB) and resets the CPU; writes
    /// to `post_port` are collected as POST codes.
    #[wasm_bindgen(constructor)]
    pub fn new(image: &[u8], post_port: u16) -> Result<RomSession, JsError> {
        RomSession::open(image, post_port).map_err(|e| JsError::new(&e))
    }

    /// Runs at most `budget` more instructions; returns a [`status`] code.
    pub fn run(&mut self, budget: u32) -> u32 {
        let until = self.cpu.state.retired.saturating_add(u64::from(budget));
        match run_rom(&mut self.cpu, until) {
            RomEnd::Budget => status::RUNNING,
            RomEnd::Halted => status::HALTED,
            RomEnd::Shutdown => status::SHUTDOWN,
            RomEnd::IdleForever => status::IDLE_FOREVER,
        }
    }

    /// Instructions retired since reset (exact below 2^53).
    pub fn retired(&self) -> f64 {
        self.cpu.state.retired as f64
    }

    /// The bytes written to port 0xE9 since the last call.
    pub fn take_debug(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output.buffers().debug)
    }

    /// The POST codes written since the last call, one byte each.
    pub fn take_post(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.output.buffers().post)
    }
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

    #[test]
    fn runs_a_rom_in_slices() {
        let mut session = RomSession::open(&spinning_rom(), 0x190).unwrap();
        assert_eq!(session.run(1000), status::RUNNING);
        assert_eq!(session.retired(), 1000.0);
        assert_eq!(session.run(234), status::RUNNING);
        assert_eq!(session.retired(), 1234.0);
        assert!(session.take_debug().is_empty());
    }

    #[test]
    fn halts_with_interrupts_disabled() {
        // cli; hlt at the reset vector.
        let mut rom = vec![0xF4; 0x1000];
        rom[0xFF0] = 0xFA;
        rom[0xFF1] = 0xF4;
        let mut session = RomSession::open(&rom, 0x190).unwrap();
        assert_eq!(session.run(1000), status::HALTED);
        assert_eq!(session.retired(), 2.0);
    }

    #[test]
    fn rejects_badly_sized_images() {
        let err = RomSession::open(&[0xF4; 100], 0x190).err().unwrap();
        assert!(err.contains("the ROM image"), "{err}");
        assert!(RomSession::open(&vec![0xF4; (1 << 20) + 4096], 0x190).is_err());
    }

    #[test]
    fn output_is_taken_once() {
        let mut session = RomSession::open(&spinning_rom(), 0x80).unwrap();
        let mut out = session.output.clone();
        out.debug_byte(b'h');
        out.debug_byte(b'i');
        out.post_code(0x42);
        assert_eq!(session.take_debug(), b"hi");
        assert_eq!(session.take_post(), [0x42]);
        assert!(session.take_debug().is_empty());
        assert!(session.take_post().is_empty());
    }
}
