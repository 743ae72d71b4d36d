//! A CPU in flat 32-bit protected mode for the integer instruction tests (no descriptor tables
//! needed: the segment caches are set directly), one instruction at a time from a fresh state,
//! and the register and operand helpers those tests share.

use webx86_cpu::mmu::{Mmu, PhysAddr, PhysMemory};
use webx86_cpu::state::{flag, CpuState};
use webx86_cpu::{Cpu, Fault, NullPlatform, RunExit};

pub use super::host::{fl, host_matches_undefined_flags};
use super::runner::{self, CodeSlots};
use super::segments;
pub use super::Rng;

/// Code slots: the last 32 bytes of each page from here to the end of RAM, so decoding reads
/// few bytes and a decoded block stays valid while its slot holds the same code.
const CODE_PAGES: u32 = 0x10_0000;
const RAM: u32 = 0x20_0000;
const SLOT_OFFSET: u32 = 0xFE0;
/// Where memory operands live (ESI points here in the tests' ModRM encodings).
pub const DATA: u32 = 0x2_0000;
/// The six arithmetic flags.
pub const ARITH: u32 = flag::ARITH;

/// A CPU with 2 MiB of RAM in flat 32-bit protected mode at CPL 0, paging off.
pub struct Machine {
    pub cpu: Cpu,
    slots: CodeSlots,
    /// Address of the instruction under test.
    pub code_at: u32,
}

/// The state a test starts an instruction from.
pub fn flat32_state(eip: u32, regs: [u32; 8], eflags: u32) -> CpuState {
    let mut s = segments::flat32_state(eip);
    s.regs = regs;
    s.eflags = flag::FIXED | (eflags & !flag::FIXED);
    s
}

impl Default for Machine {
    fn default() -> Self {
        Self::new()
    }
}

impl Machine {
    pub fn new() -> Self {
        let mmu = Mmu::new(PhysMemory::new(RAM));
        Self {
            cpu: Cpu::new(mmu, Box::new(NullPlatform)),
            slots: CodeSlots::new(
                CODE_PAGES + SLOT_OFFSET,
                0x1000,
                ((RAM - CODE_PAGES) / 0x1000) as usize,
            ),
            code_at: 0,
        }
    }

    /// Places `code` in a code slot and loads the starting state.
    fn load(&mut self, code: &[u8], regs: [u32; 8], eflags: u32) {
        self.code_at = self.slots.place(&mut self.cpu, code);
        self.cpu.state = flat32_state(self.code_at, regs, eflags);
        self.cpu.sync_paging();
    }

    /// Runs the single instruction `code` with `cpu.run(1)` from `regs`/`eflags`; panics if it
    /// did not complete. Returns the final state with EFLAGS computed.
    pub fn step(&mut self, code: &[u8], regs: [u32; 8], eflags: u32) -> CpuState {
        self.load(code, regs, eflags);
        let exit = self.cpu.run(1);
        let s = &mut self.cpu.state;
        assert!(
            exit == RunExit::Budget && s.eip == self.code_at + code.len() as u32,
            "{code:02x?} did not complete (exit {exit:?}, eip {:#x})",
            s.eip
        );
        s.materialize_flags();
        self.cpu.state
    }

    /// Runs `code` by calling its handler directly (as the execution loop does) so a fault is
    /// returned as a value: on `Err` EIP is back at the instruction, as the loop leaves it.
    pub fn step_direct(&mut self, code: &[u8], regs: [u32; 8], eflags: u32) -> Result<(), Fault> {
        self.load(code, regs, eflags);
        let Some(instr) = runner::decode(code, 32, self.code_at) else {
            return Err(Fault::new(webx86_cpu::fault::vector::UD));
        };
        let result = runner::execute(&mut self.cpu, &instr, self.code_at);
        self.cpu.state.materialize_flags();
        result
    }

    pub fn write(&mut self, addr: u32, size: usize, value: u32) {
        let bytes = value.to_le_bytes();
        self.cpu
            .mmu
            .phys
            .write_bytes(PhysAddr(addr), &bytes[..size]);
    }

    pub fn read(&mut self, addr: u32, size: usize) -> u32 {
        let mut bytes = [0u8; 4];
        self.cpu
            .mmu
            .phys
            .read_bytes(PhysAddr(addr), &mut bytes[..size]);
        u32::from_le_bytes(bytes)
    }
}

impl Rng {
    /// An operand of `size` bytes: an edge value a third of the time, else random.
    pub fn operand(&mut self, size: usize) -> u32 {
        let m = mask(size);
        let sign = 1u32 << (8 * size - 1);
        let edges = [
            0,
            1,
            2,
            0xF,
            0x10,
            sign - 1,
            sign,
            sign + 1,
            m - 1,
            m,
            0x0F0F_0F0F & m,
        ];
        if self.below(3) == 0 {
            edges[self.below(edges.len() as u32) as usize]
        } else {
            self.next_u32() & m
        }
    }
    /// Random arithmetic flags.
    pub fn flags(&mut self) -> u32 {
        self.next_u32() & ARITH
    }
    /// Random contents for all eight registers.
    pub fn regs(&mut self) -> [u32; 8] {
        core::array::from_fn(|_| self.next_u32())
    }
}

pub fn mask(size: usize) -> u32 {
    match size {
        1 => 0xFF,
        2 => 0xFFFF,
        _ => u32::MAX,
    }
}

/// ModRM byte.
pub fn modrm(md: u8, reg: u8, rm: u8) -> u8 {
    md << 6 | (reg & 7) << 3 | (rm & 7)
}

/// ModRM for `[esi]`.
pub fn mem_esi(reg: u8) -> u8 {
    modrm(0, reg, 6)
}

/// The operand-size prefix a 16-bit form needs.
pub fn prefix(size: usize) -> &'static [u8] {
    if size == 2 {
        &[0x66]
    } else {
        &[]
    }
}

/// Reads register `r` of `size` bytes from a register file (byte registers 4..=7 are AH..BH).
pub fn get_reg(regs: &[u32; 8], size: usize, r: u8) -> u32 {
    match size {
        1 => (regs[(r & 3) as usize] >> ((r & 4) * 2)) & 0xFF,
        2 => regs[r as usize] & 0xFFFF,
        _ => regs[r as usize],
    }
}

/// Writes register `r` of `size` bytes into a register file.
pub fn put_reg(regs: &mut [u32; 8], size: usize, r: u8, v: u32) {
    match size {
        1 => {
            let shift = (r & 4) * 2;
            let slot = &mut regs[(r & 3) as usize];
            *slot = (*slot & !(0xFF << shift)) | ((v & 0xFF) << shift);
        }
        2 => regs[r as usize] = (regs[r as usize] & 0xFFFF_0000) | (v & 0xFFFF),
        _ => regs[r as usize] = v,
    }
}

/// A general register to use as an operand: any of the eight byte registers, or a 16/32-bit
/// register other than ESP and ESI (ESI holds the memory operand's address).
pub fn pick_reg(rng: &mut Rng, size: usize) -> u8 {
    const WIDE: [u8; 6] = [0, 1, 2, 3, 5, 7];
    if size == 1 {
        rng.below(8) as u8
    } else {
        WIDE[rng.below(6) as usize]
    }
}

/// Two distinct registers that do not overlap (for byte registers, not AL and AH of one
/// register pair either... they may share a 32-bit register, which is fine, but never the
/// same byte).
pub fn pick_two(rng: &mut Rng, size: usize) -> (u8, u8) {
    loop {
        let (a, b) = (pick_reg(rng, size), pick_reg(rng, size));
        if a != b {
            return (a, b);
        }
    }
}

/// Registers for a test: random contents with ESI pointing at [`DATA`].
pub fn regs_with_esi(rng: &mut Rng) -> [u32; 8] {
    let mut regs = rng.regs();
    regs[6] = DATA;
    regs[4] = 0x8000;
    regs
}
