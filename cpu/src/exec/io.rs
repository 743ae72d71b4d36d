//! Port I/O: IN and OUT with an immediate port or DX, in byte, word and dword sizes, and the
//! protected-mode I/O permission check that INS/OUTS share (SDM vol. 1 §19.5).

use iced_x86::{Instruction, Mnemonic, OpKind};

use super::{by_size, operand_size};
use crate::decode::Lowered;
use crate::fault::{Exec, Fault};
use crate::ir::Op;
use crate::state::reg;
use crate::Cpu;

/// Offset of the I/O map base field in a 32-bit TSS.
const TSS_IO_MAP_BASE: u32 = 0x66;
/// Smallest limit of a 32-bit TSS (104 bytes).
const TSS32_MIN_LIMIT: u32 = 0x67;
/// Descriptor types of an available and a busy 32-bit TSS.
const TSS32_AVAILABLE: u32 = 9;
const TSS32_BUSY: u32 = 11;

pub(super) fn lower(i: &Instruction) -> Option<Lowered> {
    let (handler, ends) = match i.mnemonic() {
        // IN AL/AX/EAX, imm8 | DX: the data register is operand 0.
        Mnemonic::In => (
            by_size(
                operand_size(i, 0),
                [port_in::<1>, port_in::<2>, port_in::<4>],
            ),
            true,
        ),
        // OUT imm8 | DX, AL/AX/EAX: the data register is operand 1. Port I/O ends the block,
        // since the device may change its interrupt line, which the execution loop must see.
        Mnemonic::Out => (
            by_size(
                operand_size(i, 1),
                [port_out::<1>, port_out::<2>, port_out::<4>],
            ),
            true,
        ),
        _ => return None,
    };
    let mut op = Op::from_instr(i, handler);
    // `aux` says where the port is: 1 for DX, 0 for the immediate.
    let port_operand = if i.mnemonic() == Mnemonic::In { 1 } else { 0 };
    op.aux = u8::from(i.op_kind(port_operand) == OpKind::Register);
    Some(if ends {
        Lowered::ending(op)
    } else {
        Lowered::op(op)
    })
}

#[inline(always)]
fn port(cpu: &Cpu, op: &Op) -> u16 {
    if op.aux != 0 {
        cpu.state.reg::<2>(reg::EDX) as u16
    } else {
        op.imm as u16
    }
}

fn port_in<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let port = port(cpu, op);
    cpu.check_io(port, SIZE as u8)?;
    let value = cpu.port_read(port, SIZE as u8);
    cpu.state.set_reg::<SIZE>(reg::EAX, value);
    Ok(())
}

fn port_out<const SIZE: usize>(cpu: &mut Cpu, op: &Op) -> Exec {
    let port = port(cpu, op);
    cpu.check_io(port, SIZE as u8)?;
    let value = cpu.state.reg::<SIZE>(reg::EAX);
    cpu.port_write(port, SIZE as u8, value);
    Ok(())
}

impl Cpu {
    /// The I/O permission check for a `size`-byte access at `port` (SDM vol. 1 §19.5.1–2).
    /// In real mode and at CPL <= IOPL every port is allowed. Otherwise (and always in V86
    /// mode) the I/O permission bitmap of the current 32-bit TSS decides: the bits of all
    /// ports accessed must be clear. The processor reads the two bitmap bytes holding the
    /// port's bit, so both must be within the TSS limit; a 16-bit TSS has no bitmap. Any
    /// failure is #GP(0).
    pub(crate) fn check_io(&mut self, port: u16, size: u8) -> Exec {
        let s = &self.state;
        if !s.protected_mode() || (!s.v86_mode() && s.cpl <= s.iopl()) {
            return Ok(());
        }
        let tr = s.tr;
        let tss_type = (tr.attrs >> 8) & 0xF;
        if (tss_type != TSS32_AVAILABLE && tss_type != TSS32_BUSY) || tr.limit < TSS32_MIN_LIMIT {
            return Err(Fault::GP0);
        }
        let map_base = self.read_sys::<2>(tr.base.wrapping_add(TSS_IO_MAP_BASE))?;
        let byte = map_base + u32::from(port / 8);
        if byte + 1 > tr.limit {
            return Err(Fault::GP0);
        }
        let bits = self.read_sys::<2>(tr.base.wrapping_add(byte))?;
        let mask = ((1u32 << size) - 1) << (port & 7);
        if bits & mask != 0 {
            return Err(Fault::GP0);
        }
        Ok(())
    }
}
