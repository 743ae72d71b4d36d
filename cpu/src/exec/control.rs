//! Near control transfers and the instructions that stop or interrupt the flow: CALL/RET near,
//! JMP near indirect, LOOP/LOOPE/LOOPNE, JCXZ/JECXZ, INT n/INT3/INTO/INT1, BOUND, HLT, CLI and
//! STI. Far transfers belong to the far-transfer group.

use iced_x86::{Code, Instruction, Mnemonic, OpKind};

use super::branch::relative_target;
use super::raise_ud;
use crate::decode::Lowered;
use crate::fault::{vector, Exec, Fault};
use crate::interrupt::IntKind;
use crate::ir::{opflag, Handler, Op};
use crate::state::{cr4, flag, reg, sreg};
use crate::Cpu;

const LOOP: u8 = 0;
const LOOPE: u8 = 1;
const LOOPNE: u8 = 2;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let reg_form = i.op_count() > 0 && i.op0_kind() == OpKind::Register;
    let handler: Handler = match i.code() {
        Code::Call_rel16 => call_rel::<2>,
        Code::Call_rel32_32 => call_rel::<4>,
        Code::Call_rm16 if reg_form => call_reg::<2>,
        Code::Call_rm32 if reg_form => call_reg::<4>,
        Code::Call_rm16 => call_mem::<2>,
        Code::Call_rm32 => call_mem::<4>,
        Code::Jmp_rm16 if reg_form => jmp_reg::<2>,
        Code::Jmp_rm32 if reg_form => jmp_reg::<4>,
        Code::Jmp_rm16 => jmp_mem::<2>,
        Code::Jmp_rm32 => jmp_mem::<4>,
        Code::Retnw | Code::Retnw_imm16 => ret::<2>,
        Code::Retnd | Code::Retnd_imm16 => ret::<4>,
        Code::Loop_rel8_16_CX | Code::Loop_rel8_32_CX => loop_::<LOOP, false>,
        Code::Loop_rel8_16_ECX | Code::Loop_rel8_32_ECX => loop_::<LOOP, true>,
        Code::Loope_rel8_16_CX | Code::Loope_rel8_32_CX => loop_::<LOOPE, false>,
        Code::Loope_rel8_16_ECX | Code::Loope_rel8_32_ECX => loop_::<LOOPE, true>,
        Code::Loopne_rel8_16_CX | Code::Loopne_rel8_32_CX => loop_::<LOOPNE, false>,
        Code::Loopne_rel8_16_ECX | Code::Loopne_rel8_32_ECX => loop_::<LOOPNE, true>,
        Code::Jcxz_rel8_16 | Code::Jcxz_rel8_32 => jcxz::<false>,
        Code::Jecxz_rel8_16 | Code::Jecxz_rel8_32 => jcxz::<true>,
        Code::Int_imm8 => int_n,
        Code::Int3 => int3,
        Code::Into => into,
        Code::Int1 => int1,
        Code::Bound_r16_m1616 | Code::Bound_r32_m3232 if i.op1_kind() != OpKind::Memory => raise_ud,
        Code::Bound_r16_m1616 => bound::<2>,
        Code::Bound_r32_m3232 => bound::<4>,
        _ => match i.mnemonic() {
            Mnemonic::Hlt => hlt,
            Mnemonic::Cli => cli,
            Mnemonic::Sti => sti,
            _ => return None,
        },
    };
    let mut op = Op::from_instr(i, handler);
    if i.op_count() > 0 && i.op0_kind() == OpKind::NearBranch16 {
        op.flags |= opflag::OP16;
    }
    // Near transfers end the block by their flow control and may chain straight into the next
    // block; HLT, CLI, STI and INT change what the execution loop must check first.
    let barrier = matches!(
        i.mnemonic(),
        Mnemonic::Hlt
            | Mnemonic::Cli
            | Mnemonic::Sti
            | Mnemonic::Int
            | Mnemonic::Int3
            | Mnemonic::Into
            | Mnemonic::Int1
    );
    Some(if barrier {
        Lowered::ending(op)
    } else {
        Lowered::op(op)
    })
}

/// A near target read from a register or memory, truncated to the operand size.
#[inline(always)]
fn near_target<const SIZE: usize>(value: u32) -> u32 {
    if SIZE == 2 {
        value & 0xFFFF
    } else {
        value
    }
}

/// Checks the target against the CS limit, pushes the return address, then jumps: a fault in
/// either step leaves ESP and EIP as they were (SDM vol. 2A CALL, near call).
#[inline(always)]
fn call_near<const SIZE: usize>(cpu: &mut Cpu, target: u32) -> Exec {
    if target > cpu.state.segs[sreg::CS as usize].limit {
        return Err(Fault::GP0);
    }
    let ret = cpu.state.eip;
    cpu.push::<SIZE>(ret)?;
    cpu.state.eip = target;
    Ok(())
}

fn call_rel<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let target = relative_target(cpu, op);
    call_near::<SIZE>(cpu, target)
}

fn call_reg<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let target = near_target::<SIZE>(cpu.state.reg::<SIZE>(op.r0));
    call_near::<SIZE>(cpu, target)
}

/// CALL r/m: the operand is read with ESP before the push.
fn call_mem<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let target = near_target::<SIZE>(cpu.read_mem::<SIZE>(op)?);
    call_near::<SIZE>(cpu, target)
}

fn jmp_reg<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let target = near_target::<SIZE>(cpu.state.reg::<SIZE>(op.r0));
    cpu.branch_near(target)
}

fn jmp_mem<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let target = near_target::<SIZE>(cpu.read_mem::<SIZE>(op)?);
    cpu.branch_near(target)
}

/// RET near [imm16]: the return address is checked against the CS limit before ESP moves;
/// the immediate is added with the stack's address size (SDM vol. 2B RET).
fn ret<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let target = cpu.peek::<SIZE>(0)?;
    if target > cpu.state.segs[sreg::CS as usize].limit {
        return Err(Fault::GP0);
    }
    let sp = cpu.sp_plus((SIZE as u32).wrapping_add(op.imm & 0xFFFF));
    cpu.set_sp(sp);
    cpu.state.eip = target;
    Ok(())
}

/// The count register of LOOP/JCXZ: CX or ECX by the address size.
#[inline(always)]
fn count<const A32: bool>(cpu: &Cpu) -> u32 {
    let ecx = cpu.state.regs[reg::ECX as usize];
    if A32 {
        ecx
    } else {
        ecx & 0xFFFF
    }
}

/// LOOP/LOOPE/LOOPNE: decrements the count without touching the flags and branches while it
/// is nonzero (and ZF matches). A branch outside CS faults before the count changes.
fn loop_<const KIND: u8, const A32: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    let left = count::<A32>(cpu).wrapping_sub(1) & if A32 { u32::MAX } else { 0xFFFF };
    let taken = left != 0
        && match KIND {
            LOOPE => cpu.state.zf(),
            LOOPNE => !cpu.state.zf(),
            _ => true,
        };
    if taken {
        let target = relative_target(cpu, op);
        cpu.branch_near(target)?;
    }
    if A32 {
        cpu.state.regs[reg::ECX as usize] = left;
    } else {
        cpu.state.set_reg::<2>(reg::ECX, left);
    }
    Ok(())
}

fn jcxz<const A32: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    if count::<A32>(cpu) == 0 {
        let target = relative_target(cpu, op);
        cpu.branch_near(target)
    } else {
        Ok(())
    }
}

impl Cpu {
    /// The #GP(0) of an IOPL-sensitive instruction (CLI, STI, PUSHF, POPF, INT n) that the
    /// virtual-mode extensions would have handled instead. webx86 implements neither CR4.VME
    /// nor CR4.PVI (CPUID does not report VME), so if a guest set them anyway, say so once.
    pub(crate) fn iopl_fault(&mut self) -> Fault {
        if self.state.cr4 & (cr4::VME | cr4::PVI) != 0 {
            self.log_once("CR4.VME/PVI virtual interrupts are not implemented; raising #GP(0)");
        }
        Fault::GP0
    }
}

/// INT n. In V86 mode it is IOPL-sensitive: #GP(0) below IOPL 3 (SDM vol. 3A §20.3.3).
fn int_n(cpu: &mut Cpu, op: &Op) -> Exec {
    if cpu.state.v86_mode() && cpu.state.iopl() < 3 {
        return Err(cpu.iopl_fault());
    }
    cpu.software_interrupt(op.imm as u8, IntKind::Software)
}

fn int3(cpu: &mut Cpu, _op: &Op) -> Exec {
    cpu.software_interrupt(vector::BP, IntKind::SoftwareTrap)
}

fn into(cpu: &mut Cpu, _op: &Op) -> Exec {
    if cpu.state.of() {
        cpu.software_interrupt(vector::OF, IntKind::SoftwareTrap)
    } else {
        Ok(())
    }
}

/// INT1 (ICEBP, 0xF1): a #DB delivered like a hardware exception, without the gate DPL check.
fn int1(cpu: &mut Cpu, _op: &Op) -> Exec {
    cpu.software_interrupt(vector::DB, IntKind::Icebp)
}

/// Sign-extends a `SIZE`-byte value to i32.
#[inline(always)]
fn signed<const SIZE: usize>(value: u32) -> i32 {
    if SIZE == 2 {
        value as u16 as i16 as i32
    } else {
        value as i32
    }
}

/// BOUND: #BR (a fault, EIP at the BOUND) when the signed index is outside the signed pair
/// [lower, upper] read from memory.
fn bound<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let offset = cpu.ea(op);
    let lower = cpu.read_seg::<SIZE>(op.seg, offset)?;
    let upper_offset = offset.wrapping_add(SIZE as u32);
    let upper_offset = if op.has(opflag::ADDR16) {
        upper_offset & 0xFFFF
    } else {
        upper_offset
    };
    let upper = cpu.read_seg::<SIZE>(op.seg, upper_offset)?;
    let index = signed::<SIZE>(cpu.state.reg::<SIZE>(op.r0));
    if index < signed::<SIZE>(lower) || index > signed::<SIZE>(upper) {
        return Err(Fault::new(vector::BR));
    }
    Ok(())
}

/// HLT: privileged (#GP(0) at CPL > 0 and in V86 mode whatever IOPL). The CPU waits at the
/// next instruction, which is where an interrupt returns to.
fn hlt(cpu: &mut Cpu, _op: &Op) -> Exec {
    if cpu.state.protected_mode() && (cpu.state.cpl > 0 || cpu.state.v86_mode()) {
        return Err(Fault::GP0);
    }
    cpu.state.halted = 1;
    cpu.end_block = true;
    Ok(())
}

/// Whether CLI/STI may change IF: in protected mode only when CPL <= IOPL, in V86 mode only
/// at IOPL 3 (no CR4.PVI/VME support, so no VIF fallback; SDM vol. 2A CLI table 3-7).
fn may_change_if(cpu: &Cpu) -> bool {
    let s = &cpu.state;
    if !s.protected_mode() {
        true
    } else if s.v86_mode() {
        s.iopl() == 3
    } else {
        s.cpl <= s.iopl()
    }
}

fn cli(cpu: &mut Cpu, _op: &Op) -> Exec {
    if !may_change_if(cpu) {
        return Err(cpu.iopl_fault());
    }
    cpu.state.eflags &= !flag::IF;
    Ok(())
}

/// STI: when it sets IF from 0, interrupts stay inhibited until after the next instruction.
fn sti(cpu: &mut Cpu, _op: &Op) -> Exec {
    if !may_change_if(cpu) {
        return Err(cpu.iopl_fault());
    }
    if cpu.state.eflags & flag::IF == 0 {
        cpu.state.eflags |= flag::IF;
        cpu.state.interrupt_shadow = 1;
    }
    Ok(())
}
