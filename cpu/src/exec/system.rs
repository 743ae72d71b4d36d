//! System instructions: descriptor-table registers (LGDT/LIDT/SGDT/SIDT/LLDT/SLDT/LTR/STR),
//! control and debug registers, LMSW/SMSW/CLTS, descriptor queries (LAR/LSL/VERR/VERW),
//! ARPL, INVLPG, INVD/WBINVD, RDMSR/WRMSR and SYSENTER/SYSEXIT (SDM vol. 2; vol. 3A ch. 2).

use iced_x86::{Code, Instruction, OpKind};

use crate::decode::Lowered;
use crate::fault::{vector, Exec, Fault};
use crate::ir::{Handler, Op};
use crate::protected::descriptor::{in_ldt, is_null, system, Descriptor};
use crate::protected::query::Query;
use crate::state::{attr, cr0, cr4, flag, reg, sreg, Segment, TableReg};
use crate::Cpu;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let reg_form = i.op_count() > 0 && i.op0_kind() == OpKind::Register;
    let src_reg = i.op_count() > 1 && i.op1_kind() == OpKind::Register;
    let wide = reg_form && i.op0_register().size() == 4;
    let (handler, ends): (Handler, bool) = match i.code() {
        Code::Lgdt_m1632_16 => (load_table::<false, false>, true),
        Code::Lgdt_m1632 => (load_table::<false, true>, true),
        Code::Lidt_m1632_16 => (load_table::<true, false>, true),
        Code::Lidt_m1632 => (load_table::<true, true>, true),
        Code::Sgdt_m1632_16 => (store_table::<false, false>, false),
        Code::Sgdt_m1632 => (store_table::<false, true>, false),
        Code::Sidt_m1632_16 => (store_table::<true, false>, false),
        Code::Sidt_m1632 => (store_table::<true, true>, false),
        Code::Lldt_rm16 | Code::Lldt_r32m16 => (lldt, true),
        Code::Ltr_rm16 | Code::Ltr_r32m16 => (ltr, true),
        Code::Sldt_rm16 | Code::Sldt_r32m16 => match (reg_form, wide) {
            (false, _) => (store_selector_mem::<false>, false),
            (true, false) => (store_selector_reg::<false, 2>, false),
            (true, true) => (store_selector_reg::<false, 4>, false),
        },
        Code::Str_rm16 | Code::Str_r32m16 => match (reg_form, wide) {
            (false, _) => (store_selector_mem::<true>, false),
            (true, false) => (store_selector_reg::<true, 2>, false),
            (true, true) => (store_selector_reg::<true, 4>, false),
        },
        Code::Lmsw_rm16 | Code::Lmsw_r32m16 => (lmsw, true),
        Code::Smsw_rm16 | Code::Smsw_r32m16 => match (reg_form, wide) {
            (false, _) => (smsw_mem, false),
            (true, false) => (smsw_reg::<2>, false),
            (true, true) => (smsw_reg::<4>, false),
        },
        Code::Clts => (clts, true),
        Code::Mov_r32_cr => (mov_from_cr, false),
        Code::Mov_cr_r32 => (mov_to_cr, true),
        Code::Mov_r32_dr => (mov_from_dr, false),
        Code::Mov_dr_r32 => (mov_to_dr, true),
        Code::Lar_r16_rm16 => (query::<{ QUERY_LAR }, 2>, false),
        Code::Lar_r32_r32m16 => (query::<{ QUERY_LAR }, 4>, false),
        Code::Lsl_r16_rm16 => (query::<{ QUERY_LSL }, 2>, false),
        Code::Lsl_r32_r32m16 => (query::<{ QUERY_LSL }, 4>, false),
        Code::Verr_rm16 | Code::Verr_r32m16 => (query::<{ QUERY_VERR }, 2>, false),
        Code::Verw_rm16 | Code::Verw_r32m16 => (query::<{ QUERY_VERW }, 2>, false),
        Code::Arpl_rm16_r16 | Code::Arpl_r32m16_r32 => (arpl, false),
        Code::Invlpg_m => (invlpg, true),
        Code::Invd | Code::Wbinvd => (flush_caches, false),
        Code::Rdmsr => (rdmsr, false),
        Code::Wrmsr => (wrmsr, true),
        Code::Sysenter => (sysenter, true),
        Code::Sysexitd => (sysexit, true),
        _ => return None,
    };
    let mut op = Op::from_instr(i, handler);
    // The selector operand of LAR/LSL/VERR/VERW/LLDT/LTR/ARPL: a register or memory.
    op.aux = u8::from(match i.code() {
        Code::Lar_r16_rm16 | Code::Lar_r32_r32m16 | Code::Lsl_r16_rm16 | Code::Lsl_r32_r32m16 => {
            src_reg
        }
        _ => reg_form,
    });
    Some(if ends {
        Lowered::ending(op)
    } else {
        Lowered::op(op)
    })
}

const QUERY_LAR: u8 = 0;
const QUERY_LSL: u8 = 1;
const QUERY_VERR: u8 = 2;
const QUERY_VERW: u8 = 3;

/// CR4 bits webx86 supports; setting any other is #GP(0) as on a CPU without the feature.
/// VME/PVI (virtual-8086 extensions) and PAE are not implemented.
const CR4_SUPPORTED: u32 =
    cr4::TSD | cr4::DE | cr4::PSE | cr4::MCE | cr4::PGE | cr4::PCE | cr4::OSFXSR | cr4::OSXMMEXCPT;

/// CR0 bits that exist; the others are reserved and ignored on writes. ET is fixed at 1 on P6.
const CR0_DEFINED: u32 = cr0::PE
    | cr0::MP
    | cr0::EM
    | cr0::TS
    | cr0::ET
    | cr0::NE
    | cr0::WP
    | cr0::AM
    | cr0::NW
    | cr0::CD
    | cr0::PG;

/// MSR numbers (SDM vol. 4).
mod msr {
    pub const TSC: u32 = 0x10;
    pub const PLATFORM_ID: u32 = 0x17;
    pub const APIC_BASE: u32 = 0x1B;
    pub const BIOS_SIGN_ID: u32 = 0x8B;
    pub const MTRRCAP: u32 = 0xFE;
    pub const SYSENTER_CS: u32 = 0x174;
    pub const SYSENTER_ESP: u32 = 0x175;
    pub const SYSENTER_EIP: u32 = 0x176;
    pub const MISC_ENABLE: u32 = 0x1A0;
}

/// #GP(0) unless at CPL 0 (V86 mode runs at CPL 3).
fn require_cpl0(cpu: &Cpu) -> Exec {
    if cpu.state.cpl != 0 {
        Err(Fault::GP0)
    } else {
        Ok(())
    }
}

/// #UD in real-address and V86 mode: the instruction only exists in protected mode.
fn require_protected(cpu: &Cpu) -> Exec {
    if cpu.state.pm_not_v86() {
        Ok(())
    } else {
        Err(Fault::ud())
    }
}

/// The 16-bit selector operand of an instruction whose `aux` says register or memory.
fn selector_operand(cpu: &mut Cpu, op: &Op, reg_at: u8) -> Result<u16, Fault> {
    if op.aux != 0 {
        Ok(cpu.state.reg::<2>(reg_at) as u16)
    } else {
        Ok(cpu.read_mem::<2>(op)? as u16)
    }
}

/// LGDT/LIDT m16&32: with a 16-bit operand size only 24 bits of base are loaded.
fn load_table<const IDT: bool, const OP32: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    require_cpl0(cpu)?;
    let ea = cpu.ea(op);
    let limit = cpu.read_seg::<2>(op.seg, ea)?;
    let base = cpu.read_seg::<4>(op.seg, ea.wrapping_add(2))?;
    let base = if OP32 { base } else { base & 0x00FF_FFFF };
    let table = TableReg { base, limit };
    if IDT {
        cpu.state.idtr = table;
    } else {
        cpu.state.gdtr = table;
    }
    Ok(())
}

/// SGDT/SIDT m: limit then base. With a 16-bit operand size only 24 bits of base are stored
/// and the sixth byte is zero (386 through P6; the 286 stored ones there).
fn store_table<const IDT: bool, const OP32: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    let table = if IDT { cpu.state.idtr } else { cpu.state.gdtr };
    let ea = cpu.ea(op);
    cpu.seg_check(op.seg, ea, 6, true)?;
    cpu.write_seg::<2>(op.seg, ea, table.limit)?;
    let base = if OP32 {
        table.base
    } else {
        table.base & 0x00FF_FFFF
    };
    cpu.write_seg::<4>(op.seg, ea.wrapping_add(2), base)
}

/// LLDT r/m16.
fn lldt(cpu: &mut Cpu, op: &Op) -> Exec {
    require_protected(cpu)?;
    require_cpl0(cpu)?;
    let selector = selector_operand(cpu, op, op.r0)?;
    cpu.state.ldtr = cpu.check_ldt_selector(selector, Fault::gp)?;
    Ok(())
}

/// LTR r/m16: loads an available TSS and marks it busy.
fn ltr(cpu: &mut Cpu, op: &Op) -> Exec {
    require_protected(cpu)?;
    require_cpl0(cpu)?;
    let selector = selector_operand(cpu, op, op.r0)?;
    if is_null(selector) {
        return Err(Fault::GP0);
    }
    let code = u32::from(selector & 0xFFFC);
    if in_ldt(selector) {
        return Err(Fault::gp(code));
    }
    let (addr, mut desc) = cpu.fetch_descriptor(selector, Fault::gp(code))?;
    if !(desc.is_system_kind(system::TSS16_AVAILABLE)
        || desc.is_system_kind(system::TSS32_AVAILABLE))
    {
        return Err(Fault::gp(code));
    }
    if !desc.present() {
        return Err(Fault::np(code));
    }
    cpu.set_tss_busy(addr, true)?;
    desc.high |= system::TSS_BUSY_BIT << 8;
    cpu.state.tr = desc.to_segment(selector);
    Ok(())
}

fn stored_selector<const TR: bool>(cpu: &Cpu) -> u32 {
    let seg = if TR { cpu.state.tr } else { cpu.state.ldtr };
    seg.selector & 0xFFFF
}

/// SLDT/STR to a register: zero-extended to 32 bits with a 32-bit operand (P6 and later).
fn store_selector_reg<const TR: bool, const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    require_protected(cpu)?;
    let selector = stored_selector::<TR>(cpu);
    cpu.state.set_reg::<SIZE>(op.r0, selector);
    Ok(())
}

/// SLDT/STR m16.
fn store_selector_mem<const TR: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    require_protected(cpu)?;
    let selector = stored_selector::<TR>(cpu);
    cpu.write_mem::<2>(op, selector)
}

/// LMSW: loads PE, MP, EM and TS; it can set PE but never clear it.
fn lmsw(cpu: &mut Cpu, op: &Op) -> Exec {
    require_cpl0(cpu)?;
    let value = selector_operand(cpu, op, op.r0)? as u32;
    let old = cpu.state.cr0;
    let low = (value & 0xF) | (old & cr0::PE);
    cpu.state.cr0 = (old & !0xF) | low;
    cpu.sync_paging();
    cpu.end_block = true;
    Ok(())
}

/// SMSW r16/r32: a 32-bit destination receives all of CR0.
fn smsw_reg<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let value = cpu.state.cr0;
    cpu.state.set_reg::<SIZE>(op.r0, value);
    Ok(())
}

/// SMSW m16.
fn smsw_mem(cpu: &mut Cpu, op: &Op) -> Exec {
    let value = cpu.state.cr0 & 0xFFFF;
    cpu.write_mem::<2>(op, value)
}

fn clts(cpu: &mut Cpu, _op: &Op) -> Exec {
    require_cpl0(cpu)?;
    cpu.state.cr0 &= !cr0::TS;
    Ok(())
}

/// MOV r32, CRn. CR1 and CR5–CR8 do not exist: #UD.
fn mov_from_cr(cpu: &mut Cpu, op: &Op) -> Exec {
    if !matches!(op.r1, 0 | 2 | 3 | 4) {
        return Err(Fault::ud());
    }
    require_cpl0(cpu)?;
    let value = match op.r1 {
        0 => cpu.state.cr0,
        2 => cpu.state.cr2,
        3 => cpu.state.cr3,
        _ => cpu.state.cr4,
    };
    cpu.state.set_reg::<4>(op.r0, value);
    Ok(())
}

/// MOV CRn, r32 with the reserved-bit and combination checks of SDM vol. 2 MOV (control
/// registers); paging is resynchronised and a CR3 load flushes non-global TLB entries.
fn mov_to_cr(cpu: &mut Cpu, op: &Op) -> Exec {
    if !matches!(op.r0, 0 | 2 | 3 | 4) {
        return Err(Fault::ud());
    }
    require_cpl0(cpu)?;
    let value = cpu.state.reg::<4>(op.r1);
    match op.r0 {
        0 => {
            if value & cr0::PG != 0 && value & cr0::PE == 0 {
                return Err(Fault::GP0);
            }
            if value & cr0::NW != 0 && value & cr0::CD == 0 {
                return Err(Fault::GP0);
            }
            cpu.state.cr0 = (value & CR0_DEFINED) | cr0::ET;
        }
        2 => cpu.state.cr2 = value,
        3 => {
            cpu.state.cr3 = value;
            cpu.sync_paging();
            cpu.mmu.flush_non_global();
        }
        _ => {
            if value & !CR4_SUPPORTED != 0 {
                if value & (cr4::VME | cr4::PVI | cr4::PAE) != 0 {
                    cpu.log_once("CR4.VME/PVI/PAE are not supported: #GP(0)");
                }
                return Err(Fault::GP0);
            }
            cpu.state.cr4 = value;
        }
    }
    cpu.sync_paging();
    cpu.end_block = true;
    Ok(())
}

/// The debug register MOV DRn names: DR4/DR5 alias DR6/DR7 unless CR4.DE (then #UD); with
/// DR7.GD set any access is a #DB fault with DR6.BD (SDM vol. 3A §17.2.4).
fn debug_register(cpu: &mut Cpu, n: u8) -> Result<usize, Fault> {
    require_cpl0(cpu)?;
    let n = match n {
        4 | 5 if cpu.state.cr4 & cr4::DE != 0 => return Err(Fault::ud()),
        4 | 5 => n + 2,
        0..=7 => n,
        _ => return Err(Fault::ud()),
    };
    if cpu.state.dr[7] & (1 << 13) != 0 {
        cpu.state.dr[7] &= !(1 << 13);
        cpu.state.dr[6] |= 1 << 13;
        return Err(Fault::new(vector::DB));
    }
    Ok(n as usize)
}

fn mov_from_dr(cpu: &mut Cpu, op: &Op) -> Exec {
    let n = debug_register(cpu, op.r1)?;
    let value = cpu.state.dr[n];
    cpu.state.set_reg::<4>(op.r0, value);
    Ok(())
}

/// MOV DRn, r32. DR6 and DR7 keep their fixed bits (P6: DR6 bits 4–11 and 16–31 read 1,
/// bit 12 reads 0; DR7 bit 10 reads 1, bits 11, 12, 14, 15 read 0).
fn mov_to_dr(cpu: &mut Cpu, op: &Op) -> Exec {
    let n = debug_register(cpu, op.r0)?;
    let value = cpu.state.reg::<4>(op.r1);
    cpu.state.dr[n] = match n {
        6 => (value & 0xE00F) | 0xFFFF_0FF0,
        7 => (value & 0xFFFF_27FF) | 0x400,
        _ => value,
    };
    if n == 7 && value & 0xFF != 0 {
        cpu.log_once("hardware breakpoints (DR7 L0-L3/G0-G3) are not implemented");
    }
    Ok(())
}

/// LAR, LSL, VERR, VERW: ZF reports whether the selector passed; LAR/LSL then load the
/// access rights (type..G, masked to the operand size) or the byte-granular limit.
fn query<const WHAT: u8, const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    require_protected(cpu)?;
    let (kind, reg_at) = match WHAT {
        QUERY_LAR => (Query::AccessRights, op.r1),
        QUERY_LSL => (Query::Limit, op.r1),
        QUERY_VERR => (Query::Readable, op.r0),
        _ => (Query::Writable, op.r0),
    };
    let selector = selector_operand(cpu, op, reg_at)?;
    let found = cpu.query_descriptor(selector, kind)?;
    if let Some(desc) = found {
        match WHAT {
            QUERY_LAR => cpu.state.set_reg::<SIZE>(op.r0, desc.high & 0x00F0_FF00),
            QUERY_LSL => cpu.state.set_reg::<SIZE>(op.r0, desc.limit()),
            _ => {}
        }
    }
    let zf = if found.is_some() { flag::ZF } else { 0 };
    cpu.state.set_arith_flags(flag::ZF, zf);
    Ok(())
}

/// ARPL r/m16, r16: raises the destination's RPL to the source's. The destination is written
/// only when it changes, so an unchanged memory operand in a read-only segment does not fault
/// (test386 POST 17).
fn arpl(cpu: &mut Cpu, op: &Op) -> Exec {
    require_protected(cpu)?;
    let src = cpu.state.reg::<2>(op.r1);
    let dest = selector_operand(cpu, op, op.r0)? as u32;
    if dest & 3 < src & 3 {
        let value = (dest & !3) | (src & 3);
        if op.aux != 0 {
            cpu.state.set_reg::<2>(op.r0, value);
        } else {
            cpu.write_mem::<2>(op, value)?;
        }
        cpu.state.set_arith_flags(flag::ZF, flag::ZF);
    } else {
        cpu.state.set_arith_flags(flag::ZF, 0);
    }
    Ok(())
}

/// INVLPG m: drops the TLB entry of the operand's linear address.
fn invlpg(cpu: &mut Cpu, op: &Op) -> Exec {
    require_cpl0(cpu)?;
    let lin = cpu.state.segs[op.seg as usize]
        .base
        .wrapping_add(cpu.ea(op));
    cpu.mmu.invalidate_page(webx86_mmu::LinAddr(lin));
    Ok(())
}

/// INVD/WBINVD: privileged; webx86 models no caches, so there is nothing to write back.
fn flush_caches(cpu: &mut Cpu, _op: &Op) -> Exec {
    require_cpl0(cpu)
}

impl Cpu {
    /// The time-stamp counter: the platform's clock plus the offset WRMSR to IA32_TIME_STAMP_COUNTER
    /// set up (kept in `state.tsc`).
    pub fn read_tsc(&mut self) -> u64 {
        let now = self.platform.timestamp(self.state.retired);
        now.wrapping_add(self.state.tsc)
    }

    /// Sets the time-stamp counter to `value` from now on.
    pub fn write_tsc(&mut self, value: u64) {
        let now = self.platform.timestamp(self.state.retired);
        self.state.tsc = value.wrapping_sub(now);
    }
}

/// RDMSR: EDX:EAX ← MSR[ECX]; unknown MSRs are #GP(0).
fn rdmsr(cpu: &mut Cpu, _op: &Op) -> Exec {
    require_cpl0(cpu)?;
    let value: u64 = match cpu.state.regs[reg::ECX as usize] {
        msr::TSC => cpu.read_tsc(),
        msr::PLATFORM_ID | msr::BIOS_SIGN_ID | msr::MTRRCAP => 0,
        msr::SYSENTER_CS => u64::from(cpu.state.sysenter_cs),
        msr::SYSENTER_ESP => u64::from(cpu.state.sysenter_esp),
        msr::SYSENTER_EIP => u64::from(cpu.state.sysenter_eip),
        msr::MISC_ENABLE => cpu.state.misc_enable,
        other => return Err(unknown_msr(cpu, other)),
    };
    cpu.state.regs[reg::EAX as usize] = value as u32;
    cpu.state.regs[reg::EDX as usize] = (value >> 32) as u32;
    Ok(())
}

/// WRMSR: MSR[ECX] ← EDX:EAX; read-only and unknown MSRs are #GP(0).
fn wrmsr(cpu: &mut Cpu, _op: &Op) -> Exec {
    require_cpl0(cpu)?;
    let low = cpu.state.regs[reg::EAX as usize];
    let value = u64::from(low) | u64::from(cpu.state.regs[reg::EDX as usize]) << 32;
    match cpu.state.regs[reg::ECX as usize] {
        msr::TSC => cpu.write_tsc(value),
        // Writing BIOS_SIGN_ID asks for the microcode revision to be latched: we have none.
        msr::BIOS_SIGN_ID => {}
        msr::SYSENTER_CS => cpu.state.sysenter_cs = low,
        msr::SYSENTER_ESP => cpu.state.sysenter_esp = low,
        msr::SYSENTER_EIP => cpu.state.sysenter_eip = low,
        msr::MISC_ENABLE => cpu.state.misc_enable = value,
        other => return Err(unknown_msr(cpu, other)),
    }
    Ok(())
}

fn unknown_msr(cpu: &mut Cpu, number: u32) -> Fault {
    let what = if number == msr::APIC_BASE {
        "IA32_APIC_BASE (no local APIC)".to_string()
    } else {
        format!("MSR {number:#x}")
    };
    cpu.log_once(&format!("RDMSR/WRMSR of unsupported {what} raises #GP(0)"));
    Fault::GP0
}

/// A flat 4 GiB segment as SYSENTER/SYSEXIT load it (SDM vol. 2 SYSENTER).
fn flat_segment(selector: u16, code: bool, dpl: u32) -> Segment {
    let kind = if code {
        attr::CODE | attr::RW | attr::ACCESSED
    } else {
        attr::RW | attr::ACCESSED
    };
    let desc = Descriptor {
        low: 0xFFFF,
        high: 0x000F_0000
            | kind
            | attr::S
            | (dpl << attr::DPL_SHIFT)
            | attr::P
            | attr::DB
            | attr::G,
    };
    desc.to_segment(selector)
}

/// SYSENTER: to CPL 0 at SYSENTER_CS:SYSENTER_EIP with SS = SYSENTER_CS + 8.
fn sysenter(cpu: &mut Cpu, _op: &Op) -> Exec {
    let cs = cpu.state.sysenter_cs as u16;
    if !cpu.state.protected_mode() || is_null(cs) {
        return Err(Fault::GP0);
    }
    cpu.replace_eflags(0, flag::VM | flag::IF | flag::RF);
    let cs = cs & 0xFFFC;
    cpu.state.segs[sreg::CS as usize] = flat_segment(cs, true, 0);
    cpu.state.segs[sreg::SS as usize] = flat_segment(cs.wrapping_add(8), false, 0);
    cpu.state.cpl = 0;
    cpu.state.regs[reg::ESP as usize] = cpu.state.sysenter_esp;
    cpu.state.eip = cpu.state.sysenter_eip;
    cpu.end_block = true;
    Ok(())
}

/// SYSEXIT: to CPL 3 at (SYSENTER_CS + 16):EDX with SS = SYSENTER_CS + 24 and ESP = ECX.
fn sysexit(cpu: &mut Cpu, _op: &Op) -> Exec {
    let cs = cpu.state.sysenter_cs as u16;
    if !cpu.state.protected_mode() || cpu.state.cpl != 0 || is_null(cs) {
        return Err(Fault::GP0);
    }
    let cs = cs & 0xFFFC;
    cpu.state.segs[sreg::CS as usize] = flat_segment(cs.wrapping_add(16) | 3, true, 3);
    cpu.state.segs[sreg::SS as usize] = flat_segment(cs.wrapping_add(24) | 3, false, 3);
    cpu.state.cpl = 3;
    cpu.state.regs[reg::ESP as usize] = cpu.state.regs[reg::ECX as usize];
    cpu.state.eip = cpu.state.regs[reg::EDX as usize];
    cpu.end_block = true;
    Ok(())
}
