//! CALL/RET near, JMP near indirect, LOOP/JCXZ, INT n and friends, BOUND, HLT, CLI/STI.

mod machine;

use machine::flow::{data_segment, Machine, CODE};
use webx86_cpu::fault::vector;
use webx86_cpu::state::{flag, reg, sreg};
use webx86_cpu::Fault;

#[test]
fn call_rel32_and_ret() {
    let mut m = Machine::flat32();
    m.step(&[0xE8, 0x00, 0x01, 0x00, 0x00]).unwrap(); // call +0x100
    assert_eq!(m.cpu.state.eip, CODE + 5 + 0x100);
    assert_eq!(m.esp(), 0x7FFFC);
    assert_eq!(m.read32(0x7FFFC), CODE + 5);
    m.step(&[0xC2, 0x08, 0x00]).unwrap(); // ret 8
    assert_eq!(m.cpu.state.eip, CODE + 5);
    assert_eq!(m.esp(), 0x80008);
}

#[test]
fn call_rel16_wraps_ip_and_pushes_word() {
    let mut m = Machine::real();
    m.rewind(0xFFF0);
    m.step(&[0xE8, 0x20, 0x00]).unwrap(); // call +0x20 from IP 0xFFF3 → 0x0013
    assert_eq!(m.cpu.state.eip, 0x0013);
    assert_eq!(m.esp(), 0xFFEE);
    assert_eq!(m.read16(0xFFEE), 0xFFF3);
    m.step(&[0xC3]).unwrap(); // ret
    assert_eq!(m.cpu.state.eip, 0xFFF3);
    assert_eq!(m.esp(), 0xFFF0);
}

#[test]
fn call_beyond_cs_limit_faults_before_pushing() {
    let mut m = Machine::flat32();
    m.cpu.state.segs[sreg::CS as usize].limit = 0x1_FFFF;
    let r = m.step(&[0xE8, 0x00, 0x00, 0x01, 0x00]); // call +0x10000 → 0x20005
    assert_eq!(r, Err(Fault::GP0));
    assert_eq!(m.esp(), 0x80000);
    assert_eq!(m.cpu.state.eip, CODE);
}

#[test]
fn ret_beyond_cs_limit_leaves_esp() {
    let mut m = Machine::flat32();
    m.cpu.state.segs[sreg::CS as usize].limit = 0x1_FFFF;
    m.set(reg::ESP, 0x7FFFC);
    m.write32(0x7FFFC, 0x3_0000);
    assert_eq!(m.step(&[0xC3]), Err(Fault::GP0));
    assert_eq!(m.esp(), 0x7FFFC);
}

#[test]
fn call_indirect_reads_operand_before_push() {
    let mut m = Machine::flat32();
    m.set(reg::ESP, 0x7FFFC);
    m.write32(0x7FFFC, 0x0002_0000);
    m.step(&[0xFF, 0x14, 0x24]).unwrap(); // call [esp]
    assert_eq!(m.cpu.state.eip, 0x0002_0000);
    assert_eq!(m.read32(0x7FFF8), CODE + 3);
    m.rewind(CODE);
    m.set(reg::EAX, 0xABCD_1234);
    m.step(&[0x66, 0xFF, 0xD0]).unwrap(); // call ax: target truncated to 16 bits
    assert_eq!(m.cpu.state.eip, 0x1234);
    assert_eq!(
        m.read16(m.esp()),
        (CODE + 3) & 0xFFFF,
        "IP pushed as a word"
    );
}

#[test]
fn jmp_indirect_register_and_memory() {
    let mut m = Machine::flat32();
    m.set(reg::ECX, 0x0003_0000);
    m.step(&[0xFF, 0xE1]).unwrap(); // jmp ecx
    assert_eq!(m.cpu.state.eip, 0x0003_0000);
    m.rewind(CODE);
    m.write32(0x5000, 0x1234_5678);
    m.step(&[0x66, 0xFF, 0x25, 0x00, 0x50, 0x00, 0x00]).unwrap(); // jmp word [0x5000]
    assert_eq!(m.cpu.state.eip, 0x5678);
}

#[test]
fn loop_uses_cx_or_ecx_by_address_size() {
    let mut m = Machine::flat32();
    m.set(reg::ECX, 0x0001_0001);
    m.step(&[0x67, 0xE2, 0x10]).unwrap(); // loop (CX): CX 1 → 0, not taken
    assert_eq!(m.reg(reg::ECX), 0x0001_0000);
    assert_eq!(m.cpu.state.eip, CODE + 3);
    m.rewind(CODE);
    m.step(&[0xE2, 0x10]).unwrap(); // loop (ECX): 0x10000 → 0xFFFF, taken
    assert_eq!(m.reg(reg::ECX), 0xFFFF);
    assert_eq!(m.cpu.state.eip, CODE + 2 + 0x10);
    // Flags are not touched.
    m.cpu.state.eflags = flag::FIXED | flag::ZF;
    m.rewind(CODE);
    m.set(reg::ECX, 1);
    m.step(&[0xE2, 0x10]).unwrap();
    assert_eq!(m.cpu.state.flags(), flag::FIXED | flag::ZF);
}

#[test]
fn loope_and_loopne() {
    let mut m = Machine::flat32();
    m.set(reg::ECX, 5);
    m.cpu.state.eflags = flag::FIXED | flag::ZF;
    m.step(&[0xE1, 0xF0]).unwrap(); // loope: ZF=1, ECX 4 → taken
    assert_eq!(m.cpu.state.eip, CODE + 2 - 0x10);
    m.rewind(CODE);
    m.step(&[0xE0, 0xF0]).unwrap(); // loopne: ZF=1 → not taken, ECX 3
    assert_eq!(m.cpu.state.eip, CODE + 2);
    assert_eq!(m.reg(reg::ECX), 3);
    m.cpu.state.eflags = flag::FIXED;
    m.rewind(CODE);
    m.step(&[0xE0, 0xF0]).unwrap(); // loopne: ZF=0 → taken
    assert_eq!(m.cpu.state.eip, CODE + 2 - 0x10);
}

#[test]
fn loop_fault_keeps_count() {
    let mut m = Machine::flat32();
    m.cpu.state.segs[sreg::CS as usize].limit = CODE + 0x10;
    m.set(reg::ECX, 7);
    assert_eq!(m.step(&[0xE2, 0x40]), Err(Fault::GP0));
    assert_eq!(m.reg(reg::ECX), 7);
}

#[test]
fn jcxz_and_jecxz() {
    let mut m = Machine::flat32();
    m.set(reg::ECX, 0x0001_0000);
    m.step(&[0xE3, 0x08]).unwrap(); // jecxz: ECX != 0
    assert_eq!(m.cpu.state.eip, CODE + 2);
    m.rewind(CODE);
    m.step(&[0x67, 0xE3, 0x08]).unwrap(); // jcxz: CX == 0
    assert_eq!(m.cpu.state.eip, CODE + 3 + 8);
}

#[test]
fn loop_in_16bit_code_wraps_ip() {
    let mut m = Machine::real();
    m.rewind(0xFFF0);
    m.set(reg::ECX, 2);
    m.step(&[0xE2, 0x20]).unwrap();
    assert_eq!(m.cpu.state.eip, 0x0012);
    assert_eq!(m.reg(reg::ECX), 1);
}

#[test]
fn int_n_in_real_mode_goes_through_the_ivt() {
    let mut m = Machine::real();
    m.write16(0x21 * 4, 0x0100);
    m.write16(0x21 * 4 + 2, 0x2000);
    m.cpu.state.eflags = flag::FIXED | flag::IF | flag::TF | flag::CF;
    m.rewind(0x40);
    m.step(&[0xCD, 0x21]).unwrap();
    assert_eq!(m.cpu.state.eip, 0x0100);
    assert_eq!(m.cpu.state.segs[sreg::CS as usize].selector, 0x2000);
    assert_eq!(m.esp(), 0xFFEA);
    assert_eq!(m.read16(0xFFEA), 0x42, "return IP");
    assert_eq!(m.read16(0xFFEC), CODE >> 4, "return CS");
    assert_eq!(
        m.read16(0xFFEE),
        flag::FIXED | flag::IF | flag::TF | flag::CF
    );
    assert_eq!(m.cpu.state.flags() & (flag::IF | flag::TF), 0);
}

#[test]
fn into_traps_only_with_overflow() {
    let mut m = Machine::real();
    m.write16(4 * 4, 0x0200);
    m.write16(4 * 4 + 2, 0x0000);
    m.cpu.state.eflags = flag::FIXED;
    m.step(&[0xCE]).unwrap();
    assert_eq!(m.cpu.state.eip, 1, "no overflow: falls through");
    m.cpu.state.eflags = flag::FIXED | flag::OF;
    m.rewind(0);
    m.step(&[0xCE]).unwrap();
    assert_eq!(m.cpu.state.eip, 0x0200);
    assert_eq!(m.read16(m.esp()), 1);
}

#[test]
fn int_in_v86_mode_needs_iopl3() {
    let mut m = Machine::flat32();
    m.to_v86(0);
    assert_eq!(m.step(&[0xCD, 0x22]), Err(Fault::GP0));
    assert_eq!(m.cpu.state.eip, 0);
}

#[test]
fn bound_checks_signed_range() {
    let mut m = Machine::flat32();
    m.write32(0x6000, (-10i32) as u32);
    m.write32(0x6004, 100);
    for (index, ok) in [
        (-10i32, true),
        (100, true),
        (0, true),
        (-11, false),
        (101, false),
    ] {
        m.rewind(CODE);
        m.set(reg::EAX, index as u32);
        let r = m.step(&[0x62, 0x05, 0x00, 0x60, 0x00, 0x00]); // bound eax, [0x6000]
        let want = if ok {
            Ok(())
        } else {
            Err(Fault::new(vector::BR))
        };
        assert_eq!(r, want, "index {index}");
    }
    // 16-bit: bounds are signed words.
    m.write16(0x7000, 0xFFF0); // -16
    m.write16(0x7002, 0x0010);
    m.rewind(CODE);
    m.set(reg::EAX, 0x7777_FFF0);
    assert_eq!(m.step(&[0x66, 0x62, 0x05, 0x00, 0x70, 0x00, 0x00]), Ok(()));
    m.rewind(CODE);
    m.set(reg::EAX, 0x0000_0011);
    assert_eq!(
        m.step(&[0x66, 0x62, 0x05, 0x00, 0x70, 0x00, 0x00]),
        Err(Fault::new(vector::BR))
    );
    assert_eq!(m.cpu.state.eip, CODE, "#BR is a fault");
}

#[test]
fn hlt_privilege() {
    let mut m = Machine::flat32();
    m.step(&[0xF4]).unwrap();
    assert_eq!(m.cpu.state.halted, 1);
    assert_eq!(m.cpu.state.eip, CODE + 1);
    let mut m = Machine::flat32();
    m.to_ring3();
    assert_eq!(m.step(&[0xF4]), Err(Fault::GP0));
    assert_eq!(m.cpu.state.halted, 0);
    let mut m = Machine::flat32();
    m.to_v86(3);
    assert_eq!(
        m.step(&[0xF4]),
        Err(Fault::GP0),
        "HLT in V86 even at IOPL 3"
    );
}

#[test]
fn cli_sti_privilege_and_shadow() {
    let mut m = Machine::flat32();
    m.to_ring3();
    m.cpu.state.eflags = flag::FIXED | flag::IF;
    assert_eq!(m.step(&[0xFA]), Err(Fault::GP0), "CLI at CPL 3, IOPL 0");
    m.cpu.state.eflags = flag::FIXED | flag::IOPL;
    m.step(&[0xFB]).unwrap();
    assert_ne!(m.cpu.state.eflags & flag::IF, 0);
    assert_eq!(m.cpu.state.interrupt_shadow, 1);
    // STI with IF already set opens no new shadow.
    m.cpu.state.interrupt_shadow = 0;
    m.rewind(CODE);
    m.step(&[0xFB]).unwrap();
    assert_eq!(m.cpu.state.interrupt_shadow, 0);
    m.rewind(CODE);
    m.step(&[0xFA]).unwrap();
    assert_eq!(m.cpu.state.eflags & flag::IF, 0);
    // V86: IOPL 3 allows, below faults.
    let mut m = Machine::flat32();
    m.to_v86(2);
    assert_eq!(m.step(&[0xFB]), Err(Fault::GP0));
    m.to_v86(3);
    m.step(&[0xFB]).unwrap();
    // Real mode: always allowed.
    let mut m = Machine::real();
    m.step(&[0xFB]).unwrap();
    assert_ne!(m.cpu.state.eflags & flag::IF, 0);
    let _ = data_segment;
}
