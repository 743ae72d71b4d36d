//! String instructions: MOVS, CMPS, SCAS, LODS, STOS, INS, OUTS in byte, word and dword sizes,
//! with 16-bit (SI/DI/CX) or 32-bit (ESI/EDI/ECX) addressing and the REP/REPE/REPNE prefixes.
//! The source segment may be overridden; the destination is always ES (SDM vol. 1 §7.3.9).
//!
//! A repeated instruction runs at most [`REP_CHUNK`] iterations per call. If the count is not
//! exhausted by then, EIP is moved back to the instruction and the block ends, so the
//! execution loop can take interrupts before the next chunk, as hardware does between
//! iterations. A fault in iteration n keeps the register updates of iterations before n and
//! leaves EIP at the instruction, which then restarts with the remaining count.
//!
//! REP MOVS and REP STOS copy or fill whole runs of elements at once when source and
//! destination lie in ordinary RAM (see [`Cpu::movs_run`]).

use iced_x86::{Code, Instruction};

use crate::decode::Lowered;
use crate::fault::{Exec, Fault};
use crate::flags::op as lazy;
use crate::ir::{opflag, Handler, Op};
use crate::state::{flag, reg, size_mask, sreg};
use crate::Cpu;
use webx86_mmu::{Access, LinAddr};

const MOVS: u8 = 0;
const CMPS: u8 = 1;
const SCAS: u8 = 2;
const LODS: u8 = 3;
const STOS: u8 = 4;
const INS: u8 = 5;
const OUTS: u8 = 6;

/// Most iterations of a repeated string instruction per handler call. A bulk run of MOVS or
/// STOS counts its elements, so one call moves at most 16K elements (64 KiB of dwords).
const REP_CHUNK: u32 = 16 * 1024;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let (kind, size) = match i.code() {
        Code::Movsb_m8_m8 => (MOVS, 1),
        Code::Movsw_m16_m16 => (MOVS, 2),
        Code::Movsd_m32_m32 => (MOVS, 4),
        Code::Cmpsb_m8_m8 => (CMPS, 1),
        Code::Cmpsw_m16_m16 => (CMPS, 2),
        Code::Cmpsd_m32_m32 => (CMPS, 4),
        Code::Scasb_AL_m8 => (SCAS, 1),
        Code::Scasw_AX_m16 => (SCAS, 2),
        Code::Scasd_EAX_m32 => (SCAS, 4),
        Code::Lodsb_AL_m8 => (LODS, 1),
        Code::Lodsw_AX_m16 => (LODS, 2),
        Code::Lodsd_EAX_m32 => (LODS, 4),
        Code::Stosb_m8_AL => (STOS, 1),
        Code::Stosw_m16_AX => (STOS, 2),
        Code::Stosd_m32_EAX => (STOS, 4),
        Code::Insb_m8_DX => (INS, 1),
        Code::Insw_m16_DX => (INS, 2),
        Code::Insd_m32_DX => (INS, 4),
        Code::Outsb_DX_m8 => (OUTS, 1),
        Code::Outsw_DX_m16 => (OUTS, 2),
        Code::Outsd_DX_m32 => (OUTS, 4),
        _ => return None,
    };
    let mut op = Op::from_instr(i, super::raise_ud);
    op.handler = handler(kind, size, !op.has(opflag::ADDR16));
    // Port I/O may change a device's interrupt line, which the execution loop must see.
    Some(if kind == OUTS || kind == INS {
        Lowered::ending(op)
    } else {
        Lowered::op(op)
    })
}

fn handler(kind: u8, size: usize, a32: bool) -> Handler {
    macro_rules! pick {
        ($($k:ident),*) => {
            match (kind, size, a32) {
                $(
                    ($k, 1, false) => string::<$k, 1, false>,
                    ($k, 2, false) => string::<$k, 2, false>,
                    ($k, 1, true) => string::<$k, 1, true>,
                    ($k, 2, true) => string::<$k, 2, true>,
                    ($k, _, false) => string::<$k, 4, false>,
                    ($k, _, true) => string::<$k, 4, true>,
                )*
                _ => super::raise_ud,
            }
        };
    }
    pick!(MOVS, CMPS, SCAS, LODS, STOS, INS, OUTS)
}

impl Cpu {
    /// SI/ESI or DI/EDI as the address size sees it.
    #[inline(always)]
    fn index<const A32: bool>(&self, r: u8) -> u32 {
        let value = self.state.regs[r as usize];
        if A32 {
            value
        } else {
            value & 0xFFFF
        }
    }

    /// Advances SI/ESI or DI/EDI by `delta` elements of `SIZE` bytes (negative when DF is set),
    /// wrapping within the address size and keeping the upper half with 16-bit addressing.
    #[inline(always)]
    fn advance<const SIZE: usize, const A32: bool>(&mut self, r: u8, count: u32) {
        let bytes = count.wrapping_mul(SIZE as u32);
        let delta = if self.state.eflags & flag::DF != 0 {
            bytes.wrapping_neg()
        } else {
            bytes
        };
        let value = self.state.regs[r as usize].wrapping_add(delta);
        if A32 {
            self.state.regs[r as usize] = value;
        } else {
            self.state.set_reg::<2>(r, value);
        }
    }

    #[inline(always)]
    fn set_count<const A32: bool>(&mut self, value: u32) {
        if A32 {
            self.state.regs[reg::ECX as usize] = value;
        } else {
            self.state.set_reg::<2>(reg::ECX, value);
        }
    }
}

/// Every string instruction, specialised by kind, element size and address size.
fn string<const KIND: u8, const SIZE: usize, const A32: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    if KIND == INS || KIND == OUTS {
        let port = cpu.state.reg::<2>(reg::EDX) as u16;
        cpu.check_io(port, SIZE as u8)?;
    }
    if !op.has(opflag::REP | opflag::REPNE) {
        iterate::<KIND, SIZE, A32>(cpu, op.seg)?;
        return Ok(());
    }
    // With TF set each iteration ends in a single-step trap (SDM vol. 3B §17.3.1.4).
    let mut budget = if cpu.state.eflags & flag::TF != 0 {
        1
    } else {
        REP_CHUNK
    };
    let repne = op.has(opflag::REPNE) && !op.has(opflag::REP);
    loop {
        let count = cpu.index::<A32>(reg::ECX);
        if count == 0 {
            return Ok(());
        }
        if budget == 0 {
            cpu.state.eip = cpu.state.eip.wrapping_sub(u32::from(op.len));
            cpu.end_block = true;
            return Ok(());
        }
        if KIND == MOVS || KIND == STOS {
            let max = count.min(budget);
            let run = if KIND == MOVS {
                cpu.movs_run::<SIZE, A32>(op.seg, max)
            } else {
                cpu.stos_run::<SIZE, A32>(max)
            };
            match run {
                Run::Done(n) => {
                    cpu.set_count::<A32>(count - n);
                    budget -= n;
                    continue;
                }
                Run::Slow(n) => {
                    // Element by element through the checked accessors, which raise any fault
                    // at exactly the element that causes it.
                    for done in 0..n {
                        if let Err(fault) = iterate::<KIND, SIZE, A32>(cpu, op.seg) {
                            cpu.set_count::<A32>(count - done);
                            return Err(fault);
                        }
                    }
                    cpu.set_count::<A32>(count - n);
                    budget -= n;
                    continue;
                }
            }
        }
        let zf = iterate::<KIND, SIZE, A32>(cpu, op.seg)?;
        cpu.set_count::<A32>(count - 1);
        budget -= 1;
        if (KIND == CMPS || KIND == SCAS) && zf == repne {
            return Ok(());
        }
    }
}

/// One iteration: the element operation, then SI and/or DI advanced. Returns ZF for CMPS and
/// SCAS. Everything that can fault happens before any register changes.
#[inline(always)]
fn iterate<const KIND: u8, const SIZE: usize, const A32: bool>(
    cpu: &mut Cpu,
    seg: u8,
) -> Result<bool, Fault> {
    let si = cpu.index::<A32>(reg::ESI);
    let di = cpu.index::<A32>(reg::EDI);
    let mut zf = false;
    match KIND {
        MOVS => {
            let value = cpu.read_seg::<SIZE>(seg, si)?;
            cpu.write_seg::<SIZE>(sreg::ES, di, value)?;
        }
        CMPS => {
            let a = cpu.read_seg::<SIZE>(seg, si)?;
            let b = cpu.read_seg::<SIZE>(sreg::ES, di)?;
            zf = compare::<SIZE>(cpu, a, b);
        }
        SCAS => {
            let b = cpu.read_seg::<SIZE>(sreg::ES, di)?;
            let a = cpu.state.reg::<SIZE>(reg::EAX);
            zf = compare::<SIZE>(cpu, a, b);
        }
        LODS => {
            let value = cpu.read_seg::<SIZE>(seg, si)?;
            cpu.state.set_reg::<SIZE>(reg::EAX, value);
        }
        STOS => {
            let value = cpu.state.reg::<SIZE>(reg::EAX);
            cpu.write_seg::<SIZE>(sreg::ES, di, value)?;
        }
        INS => {
            // The destination is checked before the port is read, so a fault does not consume
            // device data.
            let lin = cpu.seg_check(sreg::ES, di, SIZE as u32, true)?;
            let user = cpu.state.user();
            cpu.mmu
                .probe_write(lin, SIZE as u32, user)
                .map_err(|pf| cpu.page_fault(pf))?;
            let port = cpu.state.reg::<2>(reg::EDX) as u16;
            let value = cpu.port_read(port, SIZE as u8);
            cpu.write_lin::<SIZE>(lin, value)?;
        }
        _ => {
            let value = cpu.read_seg::<SIZE>(seg, si)?;
            let port = cpu.state.reg::<2>(reg::EDX) as u16;
            cpu.port_write(port, SIZE as u8, value);
        }
    }
    if matches!(KIND, MOVS | CMPS | LODS | OUTS) {
        cpu.advance::<SIZE, A32>(reg::ESI, 1);
    }
    if matches!(KIND, MOVS | CMPS | SCAS | STOS | INS) {
        cpu.advance::<SIZE, A32>(reg::EDI, 1);
    }
    Ok(zf)
}

/// CMPS/SCAS: flags of `a - b`; returns ZF.
#[inline(always)]
fn compare<const SIZE: usize>(cpu: &mut Cpu, a: u32, b: u32) -> bool {
    let res = a.wrapping_sub(b) & size_mask::<SIZE>();
    cpu.state.set_lazy(lazy::SUB, SIZE, res, a, b, false);
    res == 0
}

/// What a bulk step of REP MOVS/STOS did.
enum Run {
    /// This many elements were moved at once.
    Done(u32),
    /// This many elements (at least one) must go through the element-by-element path: they
    /// touch MMIO, ROM, a code page, a segment or page boundary, or a fault.
    Slow(u32),
}

/// How many of up to `max` elements of `SIZE` bytes, starting at offset `start` (linear
/// address `lin`) and going down when `down`, stay within one page without wrapping the
/// offset at the address size.
#[inline(always)]
fn run_length<const SIZE: usize, const A32: bool>(
    start: u32,
    lin: u32,
    down: bool,
    max: u32,
) -> u32 {
    let size = SIZE as u32;
    let page_off = lin & 0xFFF;
    let offset_end: u64 = if A32 { 1 << 32 } else { 1 << 16 };
    let n = if down {
        if page_off + size > 0x1000 || u64::from(start) + u64::from(size) > offset_end {
            0
        } else {
            (page_off / size + 1).min(start / size + 1)
        }
    } else {
        let in_page = (0x1000 - page_off) / size;
        let in_offset = ((offset_end - u64::from(start)) / u64::from(size)) as u32;
        in_page.min(in_offset)
    };
    n.min(max)
}

/// The lowest offset of a run of `n` elements starting at `start`.
#[inline(always)]
fn run_low<const SIZE: usize>(start: u32, n: u32, down: bool) -> u32 {
    if down {
        start.wrapping_sub((n - 1) * SIZE as u32)
    } else {
        start
    }
}

impl Cpu {
    /// The host store offset for `n` elements at `seg:low`, when the segment allows the whole
    /// run and its page may be accessed directly; `None` otherwise (including any fault, which
    /// the element path then raises at the right element).
    fn direct_run(&mut self, seg: u8, low: u32, bytes: u32, write: bool) -> Option<usize> {
        let lin = self.seg_check(seg, low, bytes, write).ok()?;
        let user = self.state.user();
        let access = if write {
            Access::write(user)
        } else {
            Access::read(user)
        };
        debug_assert_eq!(
            LinAddr(lin).page(),
            LinAddr(lin.wrapping_add(bytes - 1)).page()
        );
        self.mmu.host_offset(lin, access).ok().flatten()
    }

    /// One bulk step of REP MOVS: copies the elements that stay within the current source and
    /// destination pages in one `copy_within`, when both are directly accessible and the copy
    /// order cannot matter (overlap where element order would replicate data goes slow).
    fn movs_run<const SIZE: usize, const A32: bool>(&mut self, seg: u8, max: u32) -> Run {
        let down = self.state.eflags & flag::DF != 0;
        let si = self.index::<A32>(reg::ESI);
        let di = self.index::<A32>(reg::EDI);
        let src_lin = self.state.segs[seg as usize].base.wrapping_add(si);
        let dst_lin = self.state.segs[sreg::ES as usize].base.wrapping_add(di);
        let n = run_length::<SIZE, A32>(si, src_lin, down, max)
            .min(run_length::<SIZE, A32>(di, dst_lin, down, max));
        if n == 0 {
            return Run::Slow(1);
        }
        let src_low = run_low::<SIZE>(si, n, down);
        let dst_low = run_low::<SIZE>(di, n, down);
        let bytes = n * SIZE as u32;
        let Some(src) = self.direct_run(seg, src_low, bytes, false) else {
            return Run::Slow(n);
        };
        let Some(dst) = self.direct_run(sreg::ES, dst_low, bytes, true) else {
            return Run::Slow(n);
        };
        let len = bytes as usize;
        // Element order only matters when the destination overlaps source bytes not yet read.
        let clobbers = if down {
            dst < src && src < dst + len
        } else {
            src < dst && dst < src + len
        };
        if clobbers {
            return Run::Slow(n);
        }
        self.mmu.phys.store_mut().copy_within(src..src + len, dst);
        self.advance::<SIZE, A32>(reg::ESI, n);
        self.advance::<SIZE, A32>(reg::EDI, n);
        Run::Done(n)
    }

    /// One bulk step of REP STOS: fills the elements within the current destination page.
    fn stos_run<const SIZE: usize, const A32: bool>(&mut self, max: u32) -> Run {
        let down = self.state.eflags & flag::DF != 0;
        let di = self.index::<A32>(reg::EDI);
        let dst_lin = self.state.segs[sreg::ES as usize].base.wrapping_add(di);
        let n = run_length::<SIZE, A32>(di, dst_lin, down, max);
        if n == 0 {
            return Run::Slow(1);
        }
        let dst_low = run_low::<SIZE>(di, n, down);
        let bytes = n * SIZE as u32;
        let Some(dst) = self.direct_run(sreg::ES, dst_low, bytes, true) else {
            return Run::Slow(n);
        };
        let value = self.state.reg::<SIZE>(reg::EAX).to_le_bytes();
        let store = self.mmu.phys.store_mut();
        for element in store[dst..dst + bytes as usize].chunks_exact_mut(SIZE) {
            element.copy_from_slice(&value[..SIZE]);
        }
        self.advance::<SIZE, A32>(reg::EDI, n);
        Run::Done(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::Segment;
    use crate::NullPlatform;
    use webx86_mmu::{Mmu, PhysMemory};

    fn flat_cpu() -> Cpu {
        let mut cpu = Cpu::new(Mmu::new(PhysMemory::new(1 << 20)), Box::new(NullPlatform));
        let mut seg = Segment::real_mode(0);
        seg.limit = u32::MAX;
        seg.attrs |= crate::state::attr::DB;
        seg.refresh_checks(true);
        cpu.state.segs = [seg; 6];
        cpu
    }

    #[test]
    fn bulk_runs_stop_at_page_ends() {
        let mut cpu = flat_cpu();
        cpu.state.regs[reg::ESI as usize] = 0x1_0000;
        cpu.state.regs[reg::EDI as usize] = 0x2_0F00;
        assert!(matches!(
            cpu.movs_run::<4, true>(sreg::DS, 1000),
            Run::Done(0x40)
        ));
        assert_eq!(cpu.state.regs[reg::EDI as usize], 0x2_1000);
        assert!(matches!(cpu.stos_run::<2, true>(5), Run::Done(5)));
        // An element straddling a page end goes element by element.
        cpu.state.regs[reg::EDI as usize] = 0x2_1FFE;
        assert!(matches!(cpu.stos_run::<4, true>(5), Run::Slow(1)));
        // Going down, the run ends at the page start.
        cpu.state.eflags |= flag::DF;
        cpu.state.regs[reg::EDI as usize] = 0x3_0010;
        assert!(matches!(cpu.stos_run::<4, true>(100), Run::Done(5)));
        assert_eq!(cpu.state.regs[reg::EDI as usize], 0x3_0010 - 20);
    }

    #[test]
    fn overlapping_forward_copy_goes_slow() {
        let mut cpu = flat_cpu();
        cpu.state.regs[reg::ESI as usize] = 0x1_0000;
        cpu.state.regs[reg::EDI as usize] = 0x1_0001;
        assert!(matches!(
            cpu.movs_run::<1, true>(sreg::DS, 100),
            Run::Slow(100)
        ));
        cpu.state.regs[reg::EDI as usize] = 0x0_FFFF;
        assert!(matches!(
            cpu.movs_run::<1, true>(sreg::DS, 100),
            Run::Done(1)
        ));
    }
}
