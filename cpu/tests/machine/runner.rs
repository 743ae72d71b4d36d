//! Running one instruction the way the execution loop runs it, and slots that keep test code
//! (and its decoded block) in guest RAM.

use iced_x86::{Decoder, DecoderOptions, Instruction};
use webx86_cpu::mmu::PhysAddr;
use webx86_cpu::{exec, Cpu, Exec};

/// Decodes `code` as `bitness`-bit code at `eip`; `None` if it is not a valid instruction.
pub fn decode(code: &[u8], bitness: u32, eip: u32) -> Option<Instruction> {
    let instr = Decoder::with_ip(bitness, code, u64::from(eip), DecoderOptions::NONE).decode();
    (!instr.is_invalid()).then_some(instr)
}

/// Calls `instr`'s handler as the execution loop does: EIP at the next instruction during the
/// handler, back at the instruction (`eip`) if it faults.
pub fn execute(cpu: &mut Cpu, instr: &Instruction, eip: u32) -> Exec {
    let op = exec::lower(instr).op;
    cpu.state.eip = eip.wrapping_add(instr.len() as u32);
    let result = (op.handler)(cpu, &op);
    if result.is_err() {
        cpu.state.eip = eip;
    }
    result
}

/// Guest addresses for test code, each slot holding one code sequence followed by `jmp $`. A
/// slot already holding the same code is reused with its decoded block; when all are used the
/// CPU is reset, which drops every decoded block.
pub struct CodeSlots {
    slots: Vec<Vec<u8>>,
    first: u32,
    stride: u32,
    count: usize,
}

impl CodeSlots {
    /// `count` slots at `first`, `first + stride`, ...
    pub fn new(first: u32, stride: u32, count: usize) -> Self {
        Self {
            slots: Vec::new(),
            first,
            stride,
            count,
        }
    }

    /// The address of a slot holding `code`, writing it there if no slot does yet.
    pub fn place(&mut self, cpu: &mut Cpu, code: &[u8]) -> u32 {
        let slot = match self.slots.iter().position(|c| c == code) {
            Some(n) => n,
            None => {
                if self.slots.len() == self.count {
                    cpu.reset();
                    self.slots.clear();
                }
                let mut bytes = code.to_vec();
                bytes.extend_from_slice(&[0xEB, 0xFE]);
                let at = self.first + self.slots.len() as u32 * self.stride;
                cpu.mmu.phys.write_bytes(PhysAddr(at), &bytes);
                self.slots.push(code.to_vec());
                self.slots.len() - 1
            }
        };
        self.first + slot as u32 * self.stride
    }
}
