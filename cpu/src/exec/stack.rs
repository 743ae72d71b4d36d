//! The stack group: PUSH/POP of registers, memory, immediates and segment registers,
//! PUSHA/POPA, PUSHF/POPF, ENTER and LEAVE. POP to a segment register belongs to the
//! segment-load machinery.
//!
//! Every handler checks all of its stack accesses before it changes a register, so a #SS or
//! #PF leaves ESP (and everything else) as it was and the instruction restarts cleanly.

use iced_x86::{Code, Instruction, OpKind};

use crate::decode::Lowered;
use crate::fault::Exec;
use crate::ir::{Handler, Op};
use crate::state::{flag, reg, sreg};
use crate::Cpu;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let reg_form = i.op_count() > 0 && i.op0_kind() == OpKind::Register;
    let (handler, ends): (Handler, bool) = match i.code() {
        Code::Push_r16 => (push_reg::<2>, false),
        Code::Push_r32 => (push_reg::<4>, false),
        Code::Pop_r16 => (pop_reg::<2>, false),
        Code::Pop_r32 => (pop_reg::<4>, false),
        Code::Push_rm16 if reg_form => (push_reg::<2>, false),
        Code::Push_rm32 if reg_form => (push_reg::<4>, false),
        Code::Push_rm16 => (push_mem::<2>, false),
        Code::Push_rm32 => (push_mem::<4>, false),
        Code::Pop_rm16 if reg_form => (pop_reg::<2>, false),
        Code::Pop_rm32 if reg_form => (pop_reg::<4>, false),
        Code::Pop_rm16 => (pop_mem::<2>, false),
        Code::Pop_rm32 => (pop_mem::<4>, false),
        Code::Push_imm16 | Code::Pushw_imm8 => (push_imm::<2>, false),
        Code::Pushd_imm32 | Code::Pushd_imm8 => (push_imm::<4>, false),
        Code::Pushw_ES
        | Code::Pushw_CS
        | Code::Pushw_SS
        | Code::Pushw_DS
        | Code::Pushw_FS
        | Code::Pushw_GS => (push_sreg::<2>, false),
        Code::Pushd_ES
        | Code::Pushd_CS
        | Code::Pushd_SS
        | Code::Pushd_DS
        | Code::Pushd_FS
        | Code::Pushd_GS => (push_sreg::<4>, false),
        Code::Pushaw => (pusha::<2>, false),
        Code::Pushad => (pusha::<4>, false),
        Code::Popaw => (popa::<2>, false),
        Code::Popad => (popa::<4>, false),
        Code::Pushfw => (pushf::<2>, false),
        Code::Pushfd => (pushf::<4>, false),
        // POPF may change IF, TF and IOPL: later instructions must see the new flags.
        Code::Popfw => (popf::<2>, true),
        Code::Popfd => (popf::<4>, true),
        Code::Enterw_imm16_imm8 => (enter::<2>, false),
        Code::Enterd_imm16_imm8 => (enter::<4>, false),
        Code::Leavew => (leave::<2>, false),
        Code::Leaved => (leave::<4>, false),
        _ => return None,
    };
    let op = Op::from_instr(i, handler);
    Some(if ends {
        Lowered::ending(op)
    } else {
        Lowered::op(op)
    })
}

/// PUSH r16/r32. PUSH SP/ESP pushes the value the register had before the push
/// (SDM vol. 2B PUSH, "IA-32 architecture compatibility").
fn push_reg<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let value = cpu.state.reg::<SIZE>(op.r0);
    cpu.push::<SIZE>(value)
}

/// PUSH r/m: the operand's address is computed with ESP before the push.
fn push_mem<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let value = cpu.read_mem::<SIZE>(op)?;
    cpu.push::<SIZE>(value)
}

/// PUSH imm16/imm32 and PUSH imm8 (sign-extended to the operand size by the decoder).
fn push_imm<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.push::<SIZE>(op.imm)
}

/// PUSH ES/CS/SS/DS/FS/GS. With a 32-bit operand size the stack pointer moves by 4 but the
/// P6 writes only the selector's 16 bits, leaving the slot's upper half as it was (SDM vol. 2B
/// PUSH; test386 POST 09 relies on the decrement, real hardware on the 16-bit write).
fn push_sreg<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let selector = cpu.state.segs[op.r0 as usize % 6].selector;
    let sp = cpu.sp_plus((SIZE as u32).wrapping_neg());
    cpu.write_seg::<2>(sreg::SS, sp, selector)?;
    cpu.set_sp(sp);
    Ok(())
}

/// POP r16/r32. POP ESP loads ESP with the popped value: the increment happens first and is
/// then overwritten (SDM vol. 2B POP).
fn pop_reg<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let value = cpu.peek::<SIZE>(0)?;
    let sp = cpu.sp_plus(SIZE as u32);
    cpu.set_sp(sp);
    cpu.state.set_reg::<SIZE>(op.r0, value);
    Ok(())
}

/// POP r/m: the destination's address is computed with ESP after the pop (SDM vol. 2B POP),
/// and a faulting store leaves ESP unchanged.
fn pop_mem<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let value = cpu.peek::<SIZE>(0)?;
    let old_esp = cpu.state.regs[reg::ESP as usize];
    let sp = cpu.sp_plus(SIZE as u32);
    cpu.set_sp(sp);
    if let Err(fault) = cpu.write_mem::<SIZE>(op, value) {
        cpu.state.regs[reg::ESP as usize] = old_esp;
        return Err(fault);
    }
    Ok(())
}

impl Cpu {
    /// Checks that `count` pushes of `size` bytes starting at the current stack pointer would
    /// all succeed (segment limit and paging), without writing anything.
    fn probe_pushes(&mut self, count: u32, size: u32) -> Exec {
        for n in 1..=count {
            let sp = self.sp_plus(size.wrapping_mul(n).wrapping_neg());
            self.probe_stack_write(sp, size)?;
        }
        Ok(())
    }

    /// Checks a `size`-byte write at SS:`offset` without performing it.
    fn probe_stack_write(&mut self, offset: u32, size: u32) -> Exec {
        let lin = self.seg_check(sreg::SS, offset, size, true)?;
        let user = self.state.user();
        self.mmu
            .probe_write(lin, size, user)
            .map_err(|pf| self.page_fault(pf))
    }
}

/// PUSHA/PUSHAD: AX CX DX BX, the original SP, BP SI DI. All eight slots are checked first,
/// so a fault leaves both ESP and the stack memory untouched.
fn pusha<const SIZE: usize>(cpu: &mut Cpu, _op: &Op) -> Exec {
    cpu.probe_pushes(8, SIZE as u32)?;
    let values: [u32; 8] = core::array::from_fn(|r| cpu.state.reg::<SIZE>(r as u8));
    for value in values {
        cpu.push::<SIZE>(value)?;
    }
    Ok(())
}

/// POPA/POPAD: DI SI BP, (SP skipped), BX DX CX AX. All eight values are read before any
/// register changes.
fn popa<const SIZE: usize>(cpu: &mut Cpu, _op: &Op) -> Exec {
    let mut values = [0u32; 8];
    for (n, value) in values.iter_mut().enumerate() {
        *value = cpu.peek::<SIZE>((SIZE * n) as u32)?;
    }
    let sp = cpu.sp_plus(8 * SIZE as u32);
    cpu.set_sp(sp);
    for (n, &value) in values.iter().enumerate() {
        let r = 7 - n as u8;
        if r != reg::ESP {
            cpu.state.set_reg::<SIZE>(r, value);
        }
    }
    Ok(())
}

/// PUSHF/PUSHFD. The image has VM and RF clear (SDM vol. 2B PUSHF). In V86 mode with IOPL < 3
/// it is #GP(0): webx86 does not implement the virtual-mode extensions (CR4.VME).
fn pushf<const SIZE: usize>(cpu: &mut Cpu, _op: &Op) -> Exec {
    if cpu.state.v86_mode() && cpu.state.iopl() < 3 {
        return Err(cpu.iopl_fault());
    }
    let value = cpu.state.flags() & !(flag::VM | flag::RF);
    cpu.push::<SIZE>(value)
}

/// The EFLAGS bits POPF may change, from the privilege rules of SDM vol. 2B POPF: never VM,
/// VIF, VIP (or RF, which a 32-bit POPF clears); IOPL only at CPL 0; IF only when CPL <= IOPL.
/// A 16-bit POPF reaches only bits 15:0.
pub(crate) fn popf_mask(cpu: &Cpu, size: usize) -> u32 {
    let s = &cpu.state;
    let mut mask =
        flag::ARITH | flag::TF | flag::IF | flag::DF | flag::IOPL | flag::NT | flag::AC | flag::ID;
    let cpl = if s.v86_mode() { 3 } else { s.cpl };
    if s.protected_mode() && cpl > 0 {
        mask &= !flag::IOPL;
    }
    if s.protected_mode() && cpl > s.iopl() {
        mask &= !flag::IF;
    }
    if size == 2 {
        mask &= 0xFFFF;
    }
    mask
}

/// POPF/POPFD. In V86 mode with IOPL < 3 it is #GP(0) (no CR4.VME support).
fn popf<const SIZE: usize>(cpu: &mut Cpu, _op: &Op) -> Exec {
    if cpu.state.v86_mode() && cpu.state.iopl() < 3 {
        return Err(cpu.iopl_fault());
    }
    let value = cpu.pop::<SIZE>()?;
    let mask = popf_mask(cpu, SIZE);
    let s = &mut cpu.state;
    s.materialize_flags();
    let mut eflags = (s.eflags & !mask) | (value & mask);
    if SIZE == 4 {
        eflags &= !flag::RF;
    }
    s.eflags = eflags | flag::FIXED;
    Ok(())
}

/// ENTER imm16, imm8 (SDM vol. 2A ENTER). The nesting level is taken mod 32. With a 16-bit
/// stack the frame pointer walk uses BP (wrapping at 64 KiB) and only BP/SP are written.
///
/// The P6 checks a write at the final stack pointer before finishing ("ENTER causes a page
/// fault whenever a write using the final value of the stack pointer would do so"; test386
/// POST 1A). Here every read and write of the instruction, and that final write, are
/// checked before anything is stored, so a fault leaves registers and memory unchanged.
fn enter<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let alloc = op.imm & 0xFFFF;
    let level = op.imm2 & 0x1F;
    let size = SIZE as u32;
    let stack32 = cpu.state.stack32();
    let ebp = cpu.state.regs[reg::EBP as usize];
    // Offset of the n-th outer frame pointer copied from the old frame (1-based).
    let frame_ptr = |n: u32| {
        let offset = ebp.wrapping_sub(size.wrapping_mul(n));
        if stack32 {
            offset
        } else {
            offset & 0xFFFF
        }
    };
    let pushes = if level == 0 { 1 } else { level + 1 };
    let final_sp = cpu
        .sp_plus(size.wrapping_mul(pushes).wrapping_neg())
        .wrapping_sub(alloc);
    let final_sp = if stack32 { final_sp } else { final_sp & 0xFFFF };

    // Check everything, in the order the instruction performs it, so the first fault is the
    // one hardware reports: push EBP, then (read an outer frame pointer, push it) level - 1
    // times, push the new frame pointer, and the final check.
    let slot = |cpu: &Cpu, n: u32| cpu.sp_plus(size.wrapping_mul(n).wrapping_neg());
    cpu.probe_stack_write(slot(cpu, 1), size)?;
    for n in 1..level {
        let lin = cpu.seg_check(sreg::SS, frame_ptr(n), size, false)?;
        cpu.read_lin::<SIZE>(lin)?;
        cpu.probe_stack_write(slot(cpu, n + 1), size)?;
    }
    if level > 0 {
        cpu.probe_stack_write(slot(cpu, level + 1), size)?;
    }
    cpu.probe_stack_write(final_sp, size)?;

    // Perform it; nothing above can fail any more, but keep ESP restorable regardless.
    let old_esp = cpu.state.regs[reg::ESP as usize];
    let result = (|| {
        cpu.push::<SIZE>(ebp)?;
        let frame_temp = cpu.state.reg::<SIZE>(reg::ESP);
        if level > 0 {
            for n in 1..level {
                let value = cpu.read_seg::<SIZE>(sreg::SS, frame_ptr(n))?;
                cpu.push::<SIZE>(value)?;
            }
            cpu.push::<SIZE>(frame_temp)?;
        }
        Ok(frame_temp)
    })();
    match result {
        Ok(frame_temp) => {
            cpu.state.set_reg::<SIZE>(reg::EBP, frame_temp);
            cpu.set_sp(final_sp);
            Ok(())
        }
        Err(fault) => {
            cpu.state.regs[reg::ESP as usize] = old_esp;
            Err(fault)
        }
    }
}

/// LEAVE: SP/ESP (stack size) ← BP/EBP, then pop BP/EBP (operand size). A faulting pop
/// leaves ESP unchanged.
fn leave<const SIZE: usize>(cpu: &mut Cpu, _op: &Op) -> Exec {
    let ebp = cpu.state.regs[reg::EBP as usize];
    let frame = if cpu.state.stack32() {
        ebp
    } else {
        ebp & 0xFFFF
    };
    let value = cpu.read_seg::<SIZE>(sreg::SS, frame)?;
    cpu.set_sp(frame);
    let sp = cpu.sp_plus(SIZE as u32);
    cpu.set_sp(sp);
    cpu.state.set_reg::<SIZE>(reg::EBP, value);
    Ok(())
}
