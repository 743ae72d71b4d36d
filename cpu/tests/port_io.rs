//! IN/OUT and the I/O permission check: IOPL, the TSS I/O bitmap, its limit, V86 mode.

mod machine;

use machine::flow::{Machine, CODE};
use webx86_cpu::state::{attr, flag, reg, Segment};
use webx86_cpu::Fault;

/// A 32-bit TSS at this linear address, with room for a bitmap after the 104-byte header.
const TSS: u32 = 0x9000;

/// Loads TR with a busy 32-bit TSS of the given limit whose I/O map base is `map_base`, with
/// every port of the bitmap denied except the listed ones.
fn install_tss(m: &mut Machine, limit: u32, map_base: u32, allowed: &[u16]) {
    m.write_bytes(TSS, &[0; 0x100]);
    for byte in 0..(limit + 1).saturating_sub(map_base) {
        m.write_bytes(TSS + map_base + byte, &[0xFF]);
    }
    m.write16(TSS + 0x66, map_base);
    for &port in allowed {
        let at = TSS + map_base + u32::from(port / 8);
        let old = m.read_bytes(at, 1)[0];
        m.write_bytes(at, &[old & !(1 << (port & 7))]);
    }
    m.cpu.state.tr = Segment {
        selector: 0x28,
        base: TSS,
        limit,
        attrs: attr::P | 11 << 8,
        ..Segment::default()
    };
}

#[test]
fn in_and_out_all_forms() {
    let mut m = Machine::flat32();
    m.set(reg::EAX, 0x1122_3344);
    m.step(&[0xE6, 0x80]).unwrap(); // out 0x80, al
    m.rewind(CODE);
    m.set(reg::EDX, 0x3F8);
    m.step(&[0x66, 0xEF]).unwrap(); // out dx, ax
    m.rewind(CODE);
    m.step(&[0xEF]).unwrap(); // out dx, eax
    m.reads.borrow_mut().extend([0xAB, 0xCDEF, 0x1234_5678]);
    m.rewind(CODE);
    m.step(&[0xE4, 0x60]).unwrap(); // in al, 0x60
    assert_eq!(m.reg(reg::EAX), 0x1122_33AB);
    m.rewind(CODE);
    m.step(&[0x66, 0xED]).unwrap(); // in ax, dx
    assert_eq!(m.reg(reg::EAX), 0x1122_CDEF);
    m.rewind(CODE);
    m.step(&[0xE5, 0x40]).unwrap(); // in eax, 0x40
    assert_eq!(m.reg(reg::EAX), 0x1234_5678);
    assert_eq!(
        *m.io.borrow(),
        vec![
            (true, 0x80, 1, 0x44),
            (true, 0x3F8, 2, 0x3344),
            (true, 0x3F8, 4, 0x1122_3344),
            (false, 0x60, 1, 0xAB),
            (false, 0x3F8, 2, 0xCDEF),
            (false, 0x40, 4, 0x1234_5678),
        ]
    );
}

#[test]
fn cpl_at_or_below_iopl_needs_no_bitmap() {
    let mut m = Machine::flat32();
    m.to_ring3();
    m.cpu.state.eflags |= flag::IOPL;
    m.cpu.state.tr = Segment::default(); // no usable TSS at all
    m.step(&[0xE4, 0x64]).unwrap();
}

#[test]
fn cpl3_consults_the_bitmap() {
    let mut m = Machine::flat32();
    m.to_ring3();
    install_tss(&mut m, 0x68 + 0x2000, 0x68, &[0x60, 0x61, 0x64]);
    m.step(&[0xE4, 0x64]).unwrap(); // in al, 0x64: allowed
    m.rewind(CODE);
    assert_eq!(m.step(&[0xE4, 0x65]), Err(Fault::GP0), "port 0x65 denied");
    m.rewind(CODE);
    m.step(&[0x66, 0xE5, 0x60]).unwrap(); // in ax, 0x60: ports 0x60 and 0x61 allowed
    m.rewind(CODE);
    assert_eq!(
        m.step(&[0xE5, 0x60]),
        Err(Fault::GP0),
        "in eax, 0x60 also needs 0x62 and 0x63"
    );
    assert_eq!(m.cpu.state.eip, CODE);
    assert_eq!(
        m.io.borrow().len(),
        2,
        "denied accesses never reach the device"
    );
}

#[test]
fn bitmap_word_must_be_within_the_tss_limit() {
    let mut m = Machine::flat32();
    m.to_ring3();
    // Bitmap base beyond the limit (test386 POST 20: "I/O map base = 0x68, limit 0x67").
    install_tss(&mut m, 0x67, 0x68, &[]);
    assert_eq!(m.step(&[0xE4, 0x64]), Err(Fault::GP0));
    // Port 0x64's byte at base + 12 is the last byte within the limit: the second byte the
    // processor reads is beyond it, so the access still faults.
    install_tss(&mut m, 0x68 + 12, 0x68, &[0x64]);
    m.rewind(CODE);
    assert_eq!(m.step(&[0xE4, 0x64]), Err(Fault::GP0));
    install_tss(&mut m, 0x68 + 13, 0x68, &[0x64]);
    m.rewind(CODE);
    m.step(&[0xE4, 0x64]).unwrap();
}

#[test]
fn a_16bit_tss_has_no_bitmap() {
    let mut m = Machine::flat32();
    m.to_ring3();
    install_tss(&mut m, 0x68 + 0x2000, 0x68, &[0x64]);
    m.cpu.state.tr.attrs = attr::P | 3 << 8; // busy 16-bit TSS
    assert_eq!(m.step(&[0xE4, 0x64]), Err(Fault::GP0));
}

#[test]
fn v86_mode_always_uses_the_bitmap() {
    // test386 POST 21: with IOPL 3, V86 code still needs the bitmap bit clear.
    let mut m = Machine::flat32();
    install_tss(&mut m, 0x68 + 0x2000, 0x68, &[0x64]);
    m.to_v86(3);
    m.step(&[0xE4, 0x64]).unwrap();
    m.rewind(0);
    assert_eq!(m.step(&[0xE4, 0x60]), Err(Fault::GP0));
    // Bitmap at offset 0 of the TSS (what test386 does): port 0x64 is bit 4 of byte 12.
    install_tss(&mut m, 0x67, 0, &[]);
    m.write16(TSS + 0xC, 0);
    m.rewind(0);
    m.step(&[0xE4, 0x64]).unwrap();
}

#[test]
fn real_mode_ignores_iopl() {
    let mut m = Machine::real();
    m.cpu.state.tr = Segment::default();
    m.step(&[0xE6, 0x70]).unwrap();
}

#[test]
fn outs_checks_permission_before_reading_memory() {
    let mut m = Machine::flat32();
    m.to_ring3();
    install_tss(&mut m, 0x68 + 0x2000, 0x68, &[]);
    m.set(reg::EDX, 0x3F8);
    m.set(reg::ESI, 0x2000);
    assert_eq!(m.step(&[0x6E]), Err(Fault::GP0));
    assert_eq!(m.reg(reg::ESI), 0x2000);
    assert!(m.io.borrow().is_empty());
}
