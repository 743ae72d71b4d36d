//! The x87 control instructions (SDM vol. 1 §8.3.12): FLDCW, FSTCW, FSTSW, FLDENV, FSTENV,
//! FSAVE, FRSTOR, FINIT, FCLEX, WAIT and the ignored FENI/FDISI/FSETPM. They record no
//! instruction or data pointers. The waiting forms (WAIT = true) first do what WAIT does.

use crate::fault::Exec;
use crate::fpu::control::{decode_env, decode_save, encode_env, encode_save, EnvLayout};
use crate::fpu::{exc, sw};
use crate::ir::{opflag, Op};
use crate::state::reg;
use crate::Cpu;

/// The checks of a control instruction: WAIT's first for the waiting forms, then the ESC
/// checks without waiting.
#[inline(always)]
fn enter<const WAIT: bool>(cpu: &mut Cpu) -> Exec {
    if WAIT {
        cpu.fpu_wait()?;
    }
    cpu.fpu_enter(false)
}

pub fn wait(cpu: &mut Cpu, _op: &Op) -> Exec {
    cpu.fpu_wait()
}

/// FLDCW: a waiting instruction; unmasking a raised exception makes it pending.
pub fn load_control(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    let cw = cpu.read_mem::<2>(op)? as u16;
    let fpu = &mut cpu.state.fpu;
    // Bits 6 and 13–15 are reserved; bit 6 reads as one.
    fpu.control = (cw & 0x1F3F) | 0x0040;
    fpu.update_summary();
    Ok(())
}

pub fn store_control<const WAIT: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    enter::<WAIT>(cpu)?;
    let cw = cpu.state.fpu.control;
    cpu.write_mem::<2>(op, u32::from(cw))
}

pub fn store_status<const WAIT: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    enter::<WAIT>(cpu)?;
    let status = cpu.state.fpu.status;
    cpu.write_mem::<2>(op, u32::from(status))
}

pub fn store_status_ax<const WAIT: bool>(cpu: &mut Cpu, _op: &Op) -> Exec {
    enter::<WAIT>(cpu)?;
    let status = cpu.state.fpu.status;
    cpu.state.set_reg::<2>(reg::EAX, u32::from(status));
    Ok(())
}

fn layout(cpu: &Cpu, op: &Op) -> EnvLayout {
    EnvLayout {
        wide: !op.has(opflag::OP16),
        real: !cpu.state.pm_not_v86(),
    }
}

/// FSTENV/FNSTENV: store the environment, then mask all exceptions.
pub fn store_env<const WAIT: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    enter::<WAIT>(cpu)?;
    let layout = layout(cpu, op);
    let image = encode_env(&cpu.state.fpu, layout);
    let offset = cpu.ea(op);
    if layout.wide {
        cpu.fpu_write::<28>(op.seg, offset, &image)?;
    } else {
        let mut short = [0u8; 14];
        short.copy_from_slice(&image[..14]);
        cpu.fpu_write::<14>(op.seg, offset, &short)?;
    }
    // With every exception masked, nothing is pending any more: ES and B clear.
    cpu.state.fpu.control |= exc::ALL;
    cpu.state.fpu.update_summary();
    Ok(())
}

pub fn load_env(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    let layout = layout(cpu, op);
    let offset = cpu.ea(op);
    let mut image = [0u8; 28];
    if layout.wide {
        image = cpu.fpu_read::<28>(op.seg, offset)?;
    } else {
        image[..14].copy_from_slice(&cpu.fpu_read::<14>(op.seg, offset)?);
    }
    decode_env(&mut cpu.state.fpu, &image, layout);
    Ok(())
}

/// FSAVE/FNSAVE: store the whole state, then reinitialise as FNINIT does.
pub fn save<const WAIT: bool>(cpu: &mut Cpu, op: &Op) -> Exec {
    enter::<WAIT>(cpu)?;
    let layout = layout(cpu, op);
    let image = encode_save(&cpu.state.fpu, layout);
    let offset = cpu.ea(op);
    if layout.wide {
        cpu.fpu_write::<108>(op.seg, offset, &image)?;
    } else {
        let mut short = [0u8; 94];
        short.copy_from_slice(&image[..94]);
        cpu.fpu_write::<94>(op.seg, offset, &short)?;
    }
    cpu.state.fpu.init();
    Ok(())
}

pub fn restore(cpu: &mut Cpu, op: &Op) -> Exec {
    cpu.fpu_enter(true)?;
    let layout = layout(cpu, op);
    let offset = cpu.ea(op);
    let mut image = [0u8; 108];
    if layout.wide {
        image = cpu.fpu_read::<108>(op.seg, offset)?;
    } else {
        image[..94].copy_from_slice(&cpu.fpu_read::<94>(op.seg, offset)?);
    }
    decode_save(&mut cpu.state.fpu, &image, layout);
    Ok(())
}

pub fn init<const WAIT: bool>(cpu: &mut Cpu, _op: &Op) -> Exec {
    enter::<WAIT>(cpu)?;
    cpu.state.fpu.init();
    Ok(())
}

/// FCLEX/FNCLEX: clears the exception flags, SF, ES and B.
pub fn clear_exceptions<const WAIT: bool>(cpu: &mut Cpu, _op: &Op) -> Exec {
    enter::<WAIT>(cpu)?;
    cpu.state.fpu.status &= !(exc::ALL | sw::SF | sw::ES | sw::B);
    Ok(())
}

/// FENI, FDISI, FSETPM: 8087/80287 controls the 80387 and later ignore.
pub fn legacy_nop<const WAIT: bool>(cpu: &mut Cpu, _op: &Op) -> Exec {
    enter::<WAIT>(cpu)
}
