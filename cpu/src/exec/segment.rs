//! Segment register moves and loads: MOV Sreg, r/m16; MOV r/m, Sreg; POP Sreg; LDS, LES,
//! LFS, LGS, LSS. The checks live in `protected::load` (SDM vol. 2 MOV, POP, LDS).

use iced_x86::{Code, Instruction, OpKind};

use crate::decode::Lowered;
use crate::fault::Exec;
use crate::ir::{opflag, Op};
use crate::state::{reg, sreg};
use crate::Cpu;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let (handler, aux): (crate::ir::Handler, u8) = match i.code() {
        Code::Mov_Sreg_rm16 | Code::Mov_Sreg_r32m16 => {
            if i.op0_register() == iced_x86::Register::CS {
                (super::raise_ud, 0)
            } else if i.op1_kind() == OpKind::Register {
                (mov_sreg_reg, 0)
            } else {
                (mov_sreg_mem, 0)
            }
        }
        Code::Mov_rm16_Sreg | Code::Mov_r32m16_Sreg => {
            if i.op0_kind() == OpKind::Memory {
                (store_sreg, 0)
            } else if i.op0_register().size() == 4 {
                (mov_reg_sreg::<4>, 0)
            } else {
                (mov_reg_sreg::<2>, 0)
            }
        }
        Code::Popw_ES | Code::Popw_SS | Code::Popw_DS | Code::Popw_FS | Code::Popw_GS => {
            (pop_sreg::<2>, 0)
        }
        Code::Popd_ES | Code::Popd_SS | Code::Popd_DS | Code::Popd_FS | Code::Popd_GS => {
            (pop_sreg::<4>, 0)
        }
        Code::Lds_r16_m1616 => (load_far_pointer::<2>, sreg::DS),
        Code::Lds_r32_m1632 => (load_far_pointer::<4>, sreg::DS),
        Code::Les_r16_m1616 => (load_far_pointer::<2>, sreg::ES),
        Code::Les_r32_m1632 => (load_far_pointer::<4>, sreg::ES),
        Code::Lfs_r16_m1616 => (load_far_pointer::<2>, sreg::FS),
        Code::Lfs_r32_m1632 => (load_far_pointer::<4>, sreg::FS),
        Code::Lgs_r16_m1616 => (load_far_pointer::<2>, sreg::GS),
        Code::Lgs_r32_m1632 => (load_far_pointer::<4>, sreg::GS),
        Code::Lss_r16_m1616 => (load_far_pointer::<2>, sreg::SS),
        Code::Lss_r32_m1632 => (load_far_pointer::<4>, sreg::SS),
        _ => return None,
    };
    let mut op = Op::from_instr(i, handler);
    op.aux = aux;
    let stores = matches!(i.code(), Code::Mov_rm16_Sreg | Code::Mov_r32m16_Sreg);
    Some(if stores {
        Lowered::op(op)
    } else {
        Lowered::ending(op)
    })
}

/// MOV Sreg, r16 (MOV to CS is #UD at decode time).
fn mov_sreg_reg(cpu: &mut Cpu, op: &Op) -> Exec {
    let selector = cpu.state.reg::<2>(op.r1) as u16;
    cpu.load_sreg(op.r0, selector)
}

/// MOV Sreg, m16.
fn mov_sreg_mem(cpu: &mut Cpu, op: &Op) -> Exec {
    let selector = cpu.read_mem::<2>(op)? as u16;
    cpu.load_sreg(op.r0, selector)
}

/// MOV r16/r32, Sreg: a 32-bit destination gets the selector zero-extended (P6 behaviour).
fn mov_reg_sreg<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let selector = cpu.state.segs[op.r1 as usize].selector & 0xFFFF;
    cpu.state.set_reg::<SIZE>(op.r0, selector);
    Ok(())
}

/// MOV m16, Sreg: always a 16-bit store, whatever the operand size (test386 POST 0B).
fn store_sreg(cpu: &mut Cpu, op: &Op) -> Exec {
    let selector = cpu.state.segs[op.r1 as usize].selector & 0xFFFF;
    cpu.write_mem::<2>(op, selector)
}

/// POP ES/SS/DS/FS/GS: the stack pointer moves by the operand size, by the old stack's
/// address size, only once the load has succeeded.
fn pop_sreg<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let selector = cpu.peek::<SIZE>(0)? as u16;
    let new_sp = cpu.sp_plus(SIZE as u32);
    let esp = cpu.state.regs[reg::ESP as usize];
    let esp = if cpu.state.stack32() {
        new_sp
    } else {
        (esp & 0xFFFF_0000) | new_sp
    };
    cpu.load_sreg(op.r0, selector)?;
    cpu.state.regs[reg::ESP as usize] = esp;
    Ok(())
}

/// LDS/LES/LFS/LGS/LSS r, m16:16/m16:32: offset then selector; the register is written only
/// after the segment load succeeded.
fn load_far_pointer<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let ea = cpu.ea(op);
    let offset = cpu.read_seg::<SIZE>(op.seg, ea)?;
    let mut sel_at = ea.wrapping_add(SIZE as u32);
    if op.has(opflag::ADDR16) {
        sel_at &= 0xFFFF;
    }
    let selector = cpu.read_seg::<2>(op.seg, sel_at)? as u16;
    cpu.load_sreg(op.aux, selector)?;
    cpu.state.set_reg::<SIZE>(op.r0, offset);
    Ok(())
}
