//! Running a raw ROM image the way a PC maps its BIOS, for conformance ROMs such as test386.

use std::cell::{RefCell, RefMut};
use std::io::Write;
use std::rc::Rc;

use thiserror::Error;
use webx86_cpu::mmu::{Mmu, PhysAddr, PhysMemory};
use webx86_cpu::{Cpu, Platform, RunExit};

/// Guest RAM for ROM runs: 4 MiB, as test386's reference runs had.
pub const ROM_RAM_BYTES: u32 = 4 << 20;

#[derive(Debug, Error)]
pub enum RomError {
    #[error("cannot read ROM image {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error(
        "ROM image {path} is {len} bytes; it must be a whole number of 4 KiB pages, at most 1 MiB"
    )]
    Size { path: String, len: usize },
}

/// Where a ROM run sends what the guest writes to the debug ports.
pub trait RomOutput {
    /// A byte written to port 0xE9.
    fn debug_byte(&mut self, byte: u8);
    /// A byte written to the POST code port.
    fn post_code(&mut self, code: u8);
}

/// The platform of a ROM run: port 0xE9 and the POST port go to `out`; other ports float.
pub struct RomPlatform<O: RomOutput> {
    pub out: O,
    pub post_port: u16,
}

impl<O: RomOutput + 'static> Platform for RomPlatform<O> {
    fn io_read(&mut self, _port: u16, size: u8) -> u32 {
        u32::MAX >> (32 - 8 * u32::from(size.clamp(1, 4)))
    }

    fn io_write(&mut self, port: u16, size: u8, value: u32) {
        for i in 0..u16::from(size) {
            let byte = (value >> (8 * i)) as u8;
            match port.wrapping_add(i) {
                0xE9 => self.out.debug_byte(byte),
                p if p == self.post_port => self.out.post_code(byte),
                _ => {}
            }
        }
    }
}

/// Output to the process: port 0xE9 to stdout (buffered), POST codes as `POST xx` lines on stderr.
pub struct StdioOutput {
    stdout: std::io::BufWriter<std::io::Stdout>,
}

impl Default for StdioOutput {
    fn default() -> Self {
        Self {
            stdout: std::io::BufWriter::with_capacity(1 << 16, std::io::stdout()),
        }
    }
}

impl RomOutput for StdioOutput {
    fn debug_byte(&mut self, byte: u8) {
        let _ = self.stdout.write_all(&[byte]);
    }
    fn post_code(&mut self, code: u8) {
        let _ = self.stdout.flush();
        eprintln!("POST {code:02X}");
    }
}

impl Drop for StdioOutput {
    fn drop(&mut self) {
        let _ = self.stdout.flush();
    }
}

/// Output kept in memory for the caller to read while the CPU runs (the CPU owns its platform,
/// so the buffers are shared): used by tests and by the WebAssembly build.
#[derive(Clone, Default)]
pub struct CapturedOutput(Rc<RefCell<Captured>>);

/// What a ROM run has written so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Captured {
    /// Bytes written to port 0xE9.
    pub debug: Vec<u8>,
    /// Bytes written to the POST port, in order.
    pub post: Vec<u8>,
}

impl CapturedOutput {
    /// The buffers, for reading or draining.
    pub fn buffers(&self) -> RefMut<'_, Captured> {
        self.0.borrow_mut()
    }
}

impl RomOutput for CapturedOutput {
    fn debug_byte(&mut self, byte: u8) {
        self.0.borrow_mut().debug.push(byte);
    }
    fn post_code(&mut self, code: u8) {
        self.0.borrow_mut().post.push(code);
    }
}

/// Builds physical memory with `image` mapped at the top of the first MiB and at the top of
/// 4 GiB, as a PC maps its BIOS.
pub fn rom_memory(image: &[u8]) -> PhysMemory {
    let mut phys = PhysMemory::new(ROM_RAM_BYTES);
    let len = image.len() as u32;
    phys.map_rom(PhysAddr(0x10_0000 - len), image);
    phys.map_rom(PhysAddr(0u32.wrapping_sub(len)), image);
    phys
}

/// Reads and checks a ROM image file.
pub fn load_rom(path: &str) -> Result<Vec<u8>, RomError> {
    let image = std::fs::read(path).map_err(|source| RomError::Read {
        path: path.to_string(),
        source,
    })?;
    check_rom(path, &image)?;
    Ok(image)
}

/// Checks that `image` (called `name` in errors) can be mapped as a BIOS: a whole number of
/// 4 KiB pages, at most 1 MiB.
pub fn check_rom(name: &str, image: &[u8]) -> Result<(), RomError> {
    let len = image.len();
    if len == 0 || len > 0x10_0000 || !len.is_multiple_of(0x1000) {
        return Err(RomError::Size {
            path: name.to_string(),
            len,
        });
    }
    Ok(())
}

/// A CPU at its reset vector with `image` mapped as the BIOS.
pub fn rom_cpu<O: RomOutput + 'static>(image: &[u8], out: O, post_port: u16) -> Cpu {
    let mmu = Mmu::new(rom_memory(image));
    let mut cpu = Cpu::new(mmu, Box::new(RomPlatform { out, post_port }));
    cpu.reset();
    cpu
}

/// How a ROM run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RomEnd {
    /// HLT with interrupts disabled.
    Halted,
    /// The instruction budget ran out first.
    Budget,
    /// HLT with interrupts enabled: nothing in a ROM run raises an interrupt, so the CPU
    /// would wait forever.
    IdleForever,
    /// Triple fault.
    Shutdown,
}

/// Runs until the CPU halts with interrupts off, shuts down, or `cpu.state.retired` (counted
/// from reset) reaches `max`.
pub fn run_rom(cpu: &mut Cpu, max: u64) -> RomEnd {
    const SLICE: u64 = 1 << 20;
    loop {
        let left = max.saturating_sub(cpu.state.retired);
        if left == 0 {
            return RomEnd::Budget;
        }
        match cpu.run(left.min(SLICE)) {
            RunExit::HaltedForever => return RomEnd::Halted,
            // No ROM-run device asks for a reset; treat one like the shutdown it would follow.
            RunExit::Shutdown | RunExit::Reset => return RomEnd::Shutdown,
            RunExit::Idle => return RomEnd::IdleForever,
            RunExit::Budget => {}
        }
    }
}
