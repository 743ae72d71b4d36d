//! x87 exception delivery: #NM for CR0.EM/TS (and WAIT with TS and MP), unmasked exceptions
//! pending until the next waiting instruction raises #MF (CR0.NE set) or signals FERR# through
//! the platform (CR0.NE clear), and the pointers and opcode non-control instructions record.

mod x87_machine;

use std::cell::Cell;
use std::rc::Rc;

use webx86_cpu::fault::vector;
use webx86_cpu::fpu::float80::F80;
use webx86_cpu::state::cr0;
use webx86_cpu::{Fault, Platform};
use x87_machine::*;

const FDIV_ST0_ST1: [u8; 2] = [0xD8, 0xF1];
const FNOP: [u8; 2] = [0xD9, 0xD0];
const WAIT: [u8; 1] = [0x9B];
const FNSTSW_AX: [u8; 2] = [0xDF, 0xE0];
const FNCLEX: [u8; 2] = [0xDB, 0xE2];

/// Counts FERR# assertions.
struct Ferr(Rc<Cell<u32>>);

impl Platform for Ferr {
    fn io_read(&mut self, _port: u16, _size: u8) -> u32 {
        0
    }
    fn io_write(&mut self, _port: u16, _size: u8, _value: u32) {}
    fn fpu_error(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// ST(0) = 1, ST(1) = 0 with divide-by-zero unmasked.
fn divide_by_zero_setup(m: &mut Machine) {
    let fpu = &mut m.cpu.state.fpu;
    fpu.init();
    fpu.control = 0x037B;
    fpu.push(F80::zero(false));
    fpu.push(F80::ONE);
}

#[test]
fn em_and_ts_raise_nm() {
    let mut m = Machine::new();
    m.cpu.state.fpu.init();
    for bits in [cr0::EM, cr0::TS, cr0::EM | cr0::TS] {
        m.cpu.state.cr0 |= bits;
        assert_eq!(
            m.exec(&FNOP),
            Err(Fault::new(vector::NM)),
            "cr0 bits {bits:x}"
        );
        assert_eq!(m.exec(&FNCLEX), Err(Fault::new(vector::NM)));
        assert_eq!(m.cpu.state.eip, CODE);
        m.cpu.state.cr0 &= !(cr0::EM | cr0::TS);
    }
    // WAIT: only TS together with MP.
    for (bits, faults) in [
        (cr0::TS, false),
        (cr0::EM, false),
        (cr0::MP, false),
        (cr0::TS | cr0::MP, true),
        (cr0::EM | cr0::TS | cr0::MP, true),
    ] {
        m.cpu.state.cr0 |= bits;
        let expected = if faults {
            Err(Fault::new(vector::NM))
        } else {
            Ok(())
        };
        assert_eq!(m.exec(&WAIT), expected, "WAIT with cr0 bits {bits:x}");
        m.cpu.state.cr0 &= !(cr0::EM | cr0::TS | cr0::MP);
    }
}

#[test]
fn unmasked_exception_raises_mf_at_the_next_waiting_instruction() {
    let mut m = Machine::new();
    divide_by_zero_setup(&mut m);
    m.exec(&FDIV_ST0_ST1)
        .expect("the faulting division itself completes");
    let fpu = m.cpu.state.fpu;
    assert_eq!(
        fpu.status & 0x8084,
        0x8084,
        "ZE, ES and B set: {:04x}",
        fpu.status
    );
    assert_eq!(fpu.st(0), F80::ONE, "the destination is left alone");
    // Non-waiting instructions run; waiting ones fault with #MF at themselves.
    m.exec(&FNSTSW_AX).unwrap();
    assert_eq!(m.cpu.state.regs[0] as u16, fpu.status);
    assert_eq!(m.exec(&FNOP), Err(Fault::new(vector::MF)));
    assert_eq!(m.exec(&WAIT), Err(Fault::new(vector::MF)));
    assert_eq!(m.cpu.state.eip, CODE);
    m.exec(&FNCLEX).unwrap();
    assert_eq!(m.cpu.state.fpu.status & 0x80FF, 0);
    m.exec(&FNOP).unwrap();
    m.exec(&WAIT).unwrap();
}

#[test]
fn without_ne_a_pending_exception_signals_ferr() {
    let count = Rc::new(Cell::new(0));
    let mut m = Machine::with_platform(Box::new(Ferr(count.clone())));
    m.cpu.state.cr0 &= !cr0::NE;
    divide_by_zero_setup(&mut m);
    m.exec(&FDIV_ST0_ST1).unwrap();
    assert_eq!(
        count.get(),
        0,
        "FERR# is signalled by the next waiting instruction"
    );
    m.exec(&FNSTSW_AX).unwrap();
    assert_eq!(count.get(), 0, "non-waiting instructions do not signal");
    m.exec(&FNOP).unwrap();
    assert_eq!(count.get(), 1);
    m.exec(&WAIT).unwrap();
    assert_eq!(count.get(), 2);
    m.exec(&FNCLEX).unwrap();
    m.exec(&WAIT).unwrap();
    assert_eq!(count.get(), 2);
}

#[test]
fn pointers_and_opcode_are_recorded_by_non_control_instructions() {
    let mut m = Machine::new();
    m.cpu.state.fpu.init();
    m.write(DATA, &1.5f32.to_bits().to_le_bytes());
    m.exec(&[0xD9, 0x06]).unwrap(); // FLD dword [esi]
    let fpu = m.cpu.state.fpu;
    assert_eq!((fpu.opcode, fpu.fip, fpu.fcs), (0x106, CODE, 0x08));
    assert_eq!((fpu.fdp, fpu.fds), (DATA, 0x10));
    // D8 46 10: FADD dword [esi+0x10]; then FCHS (no memory operand keeps FDP).
    m.exec(&[0xD8, 0x46, 0x10]).unwrap();
    assert_eq!(
        (m.cpu.state.fpu.opcode, m.cpu.state.fpu.fdp),
        (0x046, DATA + 0x10)
    );
    m.exec(&[0xD9, 0xE0]).unwrap();
    assert_eq!(
        (m.cpu.state.fpu.opcode, m.cpu.state.fpu.fdp),
        (0x1E0, DATA + 0x10)
    );
    // A control instruction (FNSTCW [esi]) changes nothing.
    m.exec(&[0xD9, 0x3E]).unwrap();
    assert_eq!(m.cpu.state.fpu.opcode, 0x1E0);
}

#[test]
fn abridged_tags_round_trip() {
    use webx86_cpu::fpu::{abridged_tag, full_tag};
    let mut m = Machine::new();
    let fpu = &mut m.cpu.state.fpu;
    fpu.init();
    fpu.push(F80::ONE);
    fpu.push(F80::zero(true));
    fpu.push(F80::INDEFINITE);
    let abridged = abridged_tag(fpu.tag);
    assert_eq!(abridged, 0b1110_0000);
    assert_eq!(full_tag(fpu, abridged), fpu.tag);
    // R7 valid, R6 zero, R5 special, the rest empty.
    assert_eq!(fpu.tag, 0b00_01_10_11_11_11_11_11);
}
