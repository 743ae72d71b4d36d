//! Flag instructions: CLC, STC, CMC, CLD, STD, LAHF, SAHF.

use iced_x86::{Instruction, Mnemonic};

use crate::decode::Lowered;
use crate::fault::Exec;
use crate::ir::{Handler, Op};
use crate::state::{flag, reg};
use crate::Cpu;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let handler: Handler = match i.mnemonic() {
        Mnemonic::Clc => clc,
        Mnemonic::Stc => stc,
        Mnemonic::Cmc => cmc,
        Mnemonic::Cld => cld,
        Mnemonic::Std => std,
        Mnemonic::Lahf => lahf,
        Mnemonic::Sahf => sahf,
        _ => return None,
    };
    Some(Lowered::op(Op::from_instr(i, handler)))
}

fn clc(cpu: &mut Cpu, _op: &Op) -> Exec {
    cpu.state.set_arith_flags(flag::CF, 0);
    Ok(())
}

fn stc(cpu: &mut Cpu, _op: &Op) -> Exec {
    cpu.state.set_arith_flags(flag::CF, flag::CF);
    Ok(())
}

fn cmc(cpu: &mut Cpu, _op: &Op) -> Exec {
    let cf = cpu.state.cf();
    cpu.state.set_arith_flags(flag::CF, (!cf) as u32);
    Ok(())
}

fn cld(cpu: &mut Cpu, _op: &Op) -> Exec {
    cpu.state.eflags &= !flag::DF;
    Ok(())
}

fn std(cpu: &mut Cpu, _op: &Op) -> Exec {
    cpu.state.eflags |= flag::DF;
    Ok(())
}

/// The flags SAHF loads and LAHF stores: SF, ZF, AF, PF, CF (bit 1 reads as 1, 3 and 5 as 0).
const AH_FLAGS: u32 = flag::SF | flag::ZF | flag::AF | flag::PF | flag::CF;

fn lahf(cpu: &mut Cpu, _op: &Op) -> Exec {
    let ah = (cpu.state.flags() & AH_FLAGS) | flag::FIXED;
    cpu.state.set_reg::<1>(4 | reg::EAX, ah);
    Ok(())
}

fn sahf(cpu: &mut Cpu, _op: &Op) -> Exec {
    let ah = cpu.state.reg::<1>(4 | reg::EAX);
    cpu.state.set_arith_flags(AH_FLAGS, ah);
    Ok(())
}
