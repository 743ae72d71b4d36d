//! Far control transfers: JMP and CALL ptr16:16/32 and m16:16/32, RETF (imm16), IRET/IRETD.
//! The mode-dependent machinery is in `protected::transfer` and `protected::iret`.

use iced_x86::{Code, Instruction};

use crate::decode::Lowered;
use crate::fault::Exec;
use crate::ir::{opflag, Op};
use crate::Cpu;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let handler: crate::ir::Handler = match i.code() {
        Code::Jmp_ptr1616 => jmp_ptr::<false>,
        Code::Jmp_ptr1632 => jmp_ptr::<true>,
        Code::Jmp_m1616 => jmp_mem::<2>,
        Code::Jmp_m1632 => jmp_mem::<4>,
        Code::Call_ptr1616 => call_ptr::<false>,
        Code::Call_ptr1632 => call_ptr::<true>,
        Code::Call_m1616 => call_mem::<2>,
        Code::Call_m1632 => call_mem::<4>,
        Code::Retfw | Code::Retfw_imm16 => retf::<false>,
        Code::Retfd | Code::Retfd_imm16 => retf::<true>,
        Code::Iretw => iret::<false>,
        Code::Iretd => iret::<true>,
        _ => return None,
    };
    let mut op = Op::from_instr(i, handler);
    if matches!(i.code(), Code::Retfw | Code::Retfd) {
        op.imm = 0;
    }
    Some(Lowered::ending(op))
}

fn jmp_ptr<const OP32: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.far_jump(op.imm2 as u16, op.imm, OP32)
}

fn call_ptr<const OP32: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.far_call(op.imm2 as u16, op.imm, OP32)
}

/// Reads a m16:16 or m16:32 far pointer: offset, then selector.
fn far_pointer<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Result<(u16, u32), crate::Fault> {
    let ea = cpu.ea(op);
    let offset = cpu.read_seg::<SIZE>(op.seg, ea)?;
    let mut sel_at = ea.wrapping_add(SIZE as u32);
    if op.has(opflag::ADDR16) {
        sel_at &= 0xFFFF;
    }
    let selector = cpu.read_seg::<2>(op.seg, sel_at)? as u16;
    Ok((selector, offset))
}

fn jmp_mem<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let (selector, offset) = far_pointer::<SIZE>(cpu, op)?;
    cpu.far_jump(selector, offset, SIZE == 4)
}

fn call_mem<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let (selector, offset) = far_pointer::<SIZE>(cpu, op)?;
    cpu.far_call(selector, offset, SIZE == 4)
}

fn retf<const OP32: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.far_return(OP32, op.imm as u16)
}

fn iret<const OP32: bool>(cpu: &mut Cpu, _op: &Op) -> Exec {
    cpu.iret(OP32)
}
