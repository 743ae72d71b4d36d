//! Processor identification and housekeeping: CPUID, RDTSC, XLAT, UD2, PAUSE and the hint
//! NOPs, INVD/WBINVD, and the x87-space encodings that are not P6 instructions.

use iced_x86::{Code, CpuidFeature, Instruction, Mnemonic};

use crate::decode::Lowered;
use crate::fault::{vector, Exec, Fault};
use crate::ir::{opflag, register_number, Op};
use crate::state::{cr0, cr4, reg};
use crate::Cpu;

/// CPUID.1:EAX: family 6, model 13, stepping 6 — a Pentium M ("Dothan"), the P6-family part
/// with SSE2, matching what webx86 implements (P6 core, MMX, SSE, SSE2, FXSR). It is also EDX
/// after reset ([`crate::CpuState::reset`]).
pub const CPU_SIGNATURE: u32 = 0x0000_06D6;

/// CPUID.1:EDX feature bits (SDM vol. 2A CPUID, table 3-11).
pub mod feature {
    pub const FPU: u32 = 1 << 0;
    pub const PSE: u32 = 1 << 3;
    pub const TSC: u32 = 1 << 4;
    pub const MSR: u32 = 1 << 5;
    pub const CX8: u32 = 1 << 8;
    pub const SEP: u32 = 1 << 11;
    pub const PGE: u32 = 1 << 13;
    pub const CMOV: u32 = 1 << 15;
    pub const CLFSH: u32 = 1 << 19;
    pub const MMX: u32 = 1 << 23;
    pub const FXSR: u32 = 1 << 24;
    pub const SSE: u32 = 1 << 25;
    pub const SSE2: u32 = 1 << 26;
}

/// CPUID.1:EDX, exactly the features webx86 implements: no VME, PAE, APIC, MTRR, PAT, MCE/MCA.
pub const FEATURES_EDX: u32 = feature::FPU
    | feature::PSE
    | feature::TSC
    | feature::MSR
    | feature::CX8
    | feature::SEP
    | feature::PGE
    | feature::CMOV
    | feature::CLFSH
    | feature::MMX
    | feature::FXSR
    | feature::SSE
    | feature::SSE2;

/// CPUID.1:EBX: CLFLUSH line size in quadwords (bits 15:8; 8 = 64 bytes, required with CLFSH);
/// brand index, logical processor count and initial APIC ID are zero.
const LEAF1_EBX: u32 = 8 << 8;

/// Highest basic and extended CPUID leaves.
const MAX_BASIC_LEAF: u32 = 2;
const MAX_EXTENDED_LEAF: u32 = 0x8000_0004;

/// CPUID.2: one iteration (AL = 1) of a Pentium M's TLB and cache descriptors: 0xB0/0x02
/// instruction TLBs, 0xB3/0x04 data TLBs, 0xF0 64-byte prefetching, 0x30 32 KiB L1 code,
/// 0x2C 32 KiB L1 data, 0x7D 2 MiB L2. Caches are not modelled; software only sizes things by
/// them.
const LEAF2: [u32; 4] = [0x02B3_B001, 0x0000_00F0, 0, 0x2C04_307D];

/// The processor brand string of leaves 0x80000002–0x80000004, NUL-padded to 48 bytes.
const BRAND: &[u8] = b"webx86";

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let handler = match i.mnemonic() {
        Mnemonic::Cpuid => cpuid,
        Mnemonic::Rdtsc => rdtsc,
        Mnemonic::Xlatb => xlat,
        Mnemonic::Ud2 => ud2,
        Mnemonic::Invd | Mnemonic::Wbinvd => invalidate_caches,
        Mnemonic::Pause => hint_nop,
        _ if is_hint_nop(i) => hint_nop,
        _ if is_x87(i) => x87_escape,
        _ => return None,
    };
    let mut op = Op::from_instr(i, handler);
    if i.code() == Code::Xlat_m8 {
        // XLAT's index is AL, which the generic decoding would take as all of EAX.
        op.base = register_number(i.memory_base());
        op.index = crate::ir::NO_REG;
        if i.memory_base().size() == 2 {
            op.flags |= opflag::ADDR16;
        }
    }
    Some(Lowered::op(op))
}

/// 0F 18–0F 1F with a ModRM byte (other than the 0F 1F NOP, which `mov` lowers): on the P6
/// these are hint NOPs that never access memory or fault. Later processors gave some of them
/// meanings (PREFETCHh, MPX, CET) that iced decodes; on webx86's P6 they stay NOPs, and the
/// iced codes for that opcode range are contiguous.
fn is_hint_nop(i: &Instruction) -> bool {
    let code = i.code() as u32;
    (Code::Reservednop_rm16_r16_0F18 as u32..=Code::Endbr32 as u32).contains(&code)
}

/// An x87 instruction (opcodes D8–DF).
fn is_x87(i: &Instruction) -> bool {
    i.mnemonic() == Mnemonic::Fisttp
        || i.cpuid_features().iter().any(|f| {
            matches!(
                f,
                CpuidFeature::FPU
                    | CpuidFeature::FPU287
                    | CpuidFeature::FPU287XL_ONLY
                    | CpuidFeature::FPU387
                    | CpuidFeature::FPU387SL_ONLY
            )
        })
}

/// CPUID (SDM vol. 2A CPUID). Leaves above the highest supported one return the highest
/// basic leaf's data, as Intel processors do.
fn cpuid(cpu: &mut Cpu, _op: &Op) -> Exec {
    let leaf = cpu.state.regs[reg::EAX as usize];
    let [a, b, c, d] = cpuid_leaf(leaf);
    let regs = &mut cpu.state.regs;
    regs[reg::EAX as usize] = a;
    regs[reg::EBX as usize] = b;
    regs[reg::ECX as usize] = c;
    regs[reg::EDX as usize] = d;
    Ok(())
}

/// EAX, EBX, ECX, EDX of CPUID leaf `leaf`.
pub fn cpuid_leaf(leaf: u32) -> [u32; 4] {
    match leaf {
        // "GenuineIntel" in EBX, EDX, ECX.
        0 => [
            MAX_BASIC_LEAF,
            u32::from_le_bytes(*b"Genu"),
            u32::from_le_bytes(*b"ntel"),
            u32::from_le_bytes(*b"ineI"),
        ],
        1 => [CPU_SIGNATURE, LEAF1_EBX, 0, FEATURES_EDX],
        2 => LEAF2,
        0x8000_0000 => [MAX_EXTENDED_LEAF, 0, 0, 0],
        0x8000_0001 => [0; 4],
        0x8000_0002..=0x8000_0004 => {
            let mut words = [0u32; 4];
            let first = (leaf - 0x8000_0002) as usize * 16;
            for (n, word) in words.iter_mut().enumerate() {
                let mut bytes = [0u8; 4];
                for (k, byte) in bytes.iter_mut().enumerate() {
                    *byte = BRAND.get(first + 4 * n + k).copied().unwrap_or(0);
                }
                *word = u32::from_le_bytes(bytes);
            }
            words
        }
        _ => LEAF2,
    }
}

/// RDTSC: the platform's time-stamp counter for the instructions retired so far, plus the
/// offset in `state.tsc` (what a WRMSR to IA32_TIME_STAMP_COUNTER adjusts). CR4.TSD makes it
/// privileged: #GP(0) at CPL > 0 (V86 mode counts as CPL 3). The execution loop adds a block's
/// instructions to `retired` when the block ends, so the count lags by at most one block; the
/// counter still never goes backwards.
fn rdtsc(cpu: &mut Cpu, _op: &Op) -> Exec {
    let s = &cpu.state;
    if s.cr4 & cr4::TSD != 0 && s.protected_mode() && (s.cpl > 0 || s.v86_mode()) {
        return Err(Fault::GP0);
    }
    let retired = s.retired;
    let tsc = cpu.platform.timestamp(retired).wrapping_add(cpu.state.tsc);
    cpu.state.regs[reg::EAX as usize] = tsc as u32;
    cpu.state.regs[reg::EDX as usize] = (tsc >> 32) as u32;
    Ok(())
}

/// XLAT: AL ← [seg:(E)BX + AL], AL zero-extended and the sum wrapped to the address size.
fn xlat(cpu: &mut Cpu, op: &Op) -> Exec {
    let al = cpu.state.reg::<1>(reg::EAX);
    let mut offset = cpu.state.regs[reg::EBX as usize].wrapping_add(al);
    if op.has(opflag::ADDR16) {
        offset &= 0xFFFF;
    }
    let value = cpu.read_seg::<1>(op.seg, offset)?;
    cpu.state.set_reg::<1>(reg::EAX, value);
    Ok(())
}

fn ud2(_cpu: &mut Cpu, _op: &Op) -> Exec {
    Err(Fault::ud())
}

/// PAUSE and the hint NOPs: architecturally nothing happens.
fn hint_nop(_cpu: &mut Cpu, _op: &Op) -> Exec {
    Ok(())
}

/// INVD and WBINVD: privileged (#GP(0) at CPL > 0 or in V86 mode). webx86 models no caches:
/// memory is always coherent and up to date, so invalidating or writing back caches has no
/// architecturally visible effect and these are correctly no-ops.
fn invalidate_caches(cpu: &mut Cpu, _op: &Op) -> Exec {
    let s = &cpu.state;
    if s.protected_mode() && (s.cpl > 0 || s.v86_mode()) {
        return Err(Fault::GP0);
    }
    Ok(())
}

/// An encoding in the x87 opcode space that the `x87` group does not lower because no P6 has
/// it (FISTTP is SSE3; FRSTPM is 80287XL-only). CR0.EM or CR0.TS set: #NM, which any ESC opcode
/// raises first (SDM vol. 3A table 2-2); otherwise #UD, logged once.
fn x87_escape(cpu: &mut Cpu, _op: &Op) -> Exec {
    if cpu.state.cr0 & (cr0::EM | cr0::TS) != 0 {
        return Err(Fault::new(vector::NM));
    }
    cpu.log_once("x87-space instruction not on a P6 raises #UD");
    Err(Fault::ud())
}
