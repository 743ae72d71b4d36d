//! Availability checks, alignment, reserved MXCSR bits and unmasked SIMD floating-point
//! exceptions: which fault each condition raises and that a faulting instruction leaves its
//! destination (and EFLAGS/EAX) unchanged while MXCSR records the flags the SDM prescribes
//! (vol. 1 §11.5.1: unmasked pre-computation exceptions report only those flags). Also a full
//! #XM delivery through the IDT and the hand-checked memory forms the host tests cannot cover
//! (MOVSS/MOVSD loads, MOVLPS/MOVHPS, MASKMOVQ/MASKMOVDQU, MOVNTI, LDMXCSR/STMXCSR).

mod pm_machine;
mod simd_machine;

use simd_machine::{Machine, DATA};
use webx86_cpu::fault::vector;
use webx86_cpu::state::{cr0, cr4, flag};
use webx86_cpu::Fault;

const ADDPS: &[u8] = &[0x0F, 0x58, 0xC1];
const PADDB_MM: &[u8] = &[0x0F, 0xFC, 0xC1];
const PSHUFW: &[u8] = &[0x0F, 0x70, 0xC1, 0x1B];
const FXSAVE_ESI: &[u8] = &[0x0F, 0xAE, 0x06];
const DIVPS: &[u8] = &[0x0F, 0x5E, 0xC1];

fn nm() -> Fault {
    Fault::new(vector::NM)
}

fn xm() -> Fault {
    Fault::new(vector::XM)
}

#[test]
fn availability_checks() {
    let mut m = Machine::new();
    let cases: [(&[u8], u32, u32, Option<Fault>); 14] = [
        // (code, CR0 bits set, CR4 bits cleared, expected fault)
        (ADDPS, 0, cr4::OSFXSR, Some(Fault::ud())),
        (ADDPS, cr0::EM, 0, Some(Fault::ud())),
        (ADDPS, cr0::TS, 0, Some(nm())),
        (ADDPS, cr0::TS | cr0::EM, 0, Some(Fault::ud())),
        (PADDB_MM, 0, cr4::OSFXSR, None),
        (PADDB_MM, cr0::EM, 0, Some(Fault::ud())),
        (PADDB_MM, cr0::TS, 0, Some(nm())),
        (PSHUFW, 0, cr4::OSFXSR, None),
        (FXSAVE_ESI, cr0::EM, 0, Some(nm())),
        (FXSAVE_ESI, cr0::TS, 0, Some(nm())),
        (FXSAVE_ESI, 0, cr4::OSFXSR, None),
        // MOVNTI and SFENCE ignore EM, TS and OSFXSR.
        (&[0x0F, 0xC3, 0x06], cr0::EM | cr0::TS, cr4::OSFXSR, None),
        (&[0x0F, 0xAE, 0xF8], cr0::EM | cr0::TS, cr4::OSFXSR, None),
        // LFENCE likewise.
        (&[0x0F, 0xAE, 0xE8], cr0::EM | cr0::TS, cr4::OSFXSR, None),
    ];
    for (code, set, clear, want) in cases {
        m.load(code);
        m.cpu.state.regs[6] = DATA;
        m.cpu.state.cr0 |= set;
        m.cpu.state.cr4 &= !clear;
        assert_eq!(
            m.exec(code).err(),
            want,
            "{code:02x?} cr0 +{set:#x} cr4 -{clear:#x}"
        );
    }
}

#[test]
fn pending_x87_exception_raises_mf_for_mmx_only() {
    let mut m = Machine::new();
    for (code, want) in [(PADDB_MM, Some(Fault::new(vector::MF))), (ADDPS, None)] {
        m.load(code);
        m.cpu.state.cr0 |= cr0::NE;
        m.cpu.state.fpu.status = 0x8081; // B, ES, IE
        m.cpu.state.fpu.control = 0x037E;
        assert_eq!(m.exec(code).err(), want, "{code:02x?}");
    }
}

#[test]
fn misaligned_16_byte_operands_fault() {
    let mut m = Machine::new();
    let cases: [(&[u8], u32, bool); 9] = [
        (&[0x0F, 0x28, 0x46, 0x04], 4, true),  // movaps xmm0, [esi+4]
        (&[0x0F, 0x10, 0x46, 0x04], 4, false), // movups xmm0, [esi+4]
        (&[0x0F, 0x29, 0x46, 0x08], 8, true),  // movaps [esi+8], xmm0
        (&[0x0F, 0x58, 0x46, 0x08], 8, true),  // addps xmm0, [esi+8]
        (&[0xF3, 0x0F, 0x58, 0x46, 0x01], 1, false), // addss xmm0, [esi+1]
        (&[0x66, 0x0F, 0xFC, 0x46, 0x02], 2, true), // paddb xmm0, [esi+2]
        (&[0x0F, 0xFC, 0x46, 0x02], 2, false), // paddb mm0, [esi+2]
        (&[0x0F, 0xAE, 0x46, 0x08], 8, true),  // fxsave [esi+8]
        (&[0xF3, 0x0F, 0x6F, 0x46, 0x03], 3, false), // movdqu xmm0, [esi+3]
    ];
    for (code, _, faults) in cases {
        m.load(code);
        m.cpu.state.regs[6] = DATA;
        let before = m.cpu.state.sse.xmm[0];
        let result = m.exec(code);
        if faults {
            assert_eq!(result, Err(Fault::GP0), "{code:02x?}");
            assert_eq!(m.cpu.state.sse.xmm[0], before);
        } else {
            assert_eq!(result, Ok(()), "{code:02x?}");
        }
    }
}

#[test]
fn ldmxcsr_and_fxrstor_reject_reserved_mxcsr_bits() {
    let mut m = Machine::new();
    let ldmxcsr = &[0x0F, 0xAE, 0x16];
    m.load(ldmxcsr);
    m.cpu.state.regs[6] = DATA;
    m.write_bytes(DATA, &0x0001_1F80u32.to_le_bytes());
    assert_eq!(m.exec(ldmxcsr), Err(Fault::GP0));
    assert_eq!(m.cpu.state.sse.mxcsr, 0x1F80);
    m.write_bytes(DATA, &0xFFFFu32.to_le_bytes());
    assert_eq!(m.exec(ldmxcsr), Ok(()));
    assert_eq!(m.cpu.state.sse.mxcsr, 0xFFFF);
    let stmxcsr = &[0x0F, 0xAE, 0x5E, 0x10];
    m.load(stmxcsr);
    m.cpu.state.regs[6] = DATA;
    m.cpu.state.sse.mxcsr = 0x7F9B;
    assert_eq!(m.exec(stmxcsr), Ok(()));
    assert_eq!(m.read_bytes(DATA + 0x10, 4), 0x7F9Bu32.to_le_bytes());

    let fxrstor = &[0x0F, 0xAE, 0x0E];
    m.load(fxrstor);
    m.cpu.state.regs[6] = DATA;
    let mut image = [0u8; 512];
    image[0] = 0x7F;
    image[24..28].copy_from_slice(&0x0004_1F80u32.to_le_bytes());
    image[160] = 0x55;
    m.write_bytes(DATA, &image);
    let before = m.cpu.state;
    assert_eq!(m.exec(fxrstor), Err(Fault::GP0));
    assert_eq!(m.cpu.state.sse, before.sse);
    assert_eq!(m.cpu.state.fpu, before.fpu);
}

/// Runs `code` from xmm0 = `a`, xmm1 = `b` under `mxcsr`; returns the result, xmm0 and MXCSR.
fn run_fp(
    m: &mut Machine,
    code: &[u8],
    a: [u64; 2],
    b: [u64; 2],
    mxcsr: u32,
    osxmm: bool,
) -> (Result<(), Fault>, [u64; 2], u32) {
    m.load(code);
    m.cpu.state.sse.xmm[0] = a;
    m.cpu.state.sse.xmm[1] = b;
    m.cpu.state.sse.mxcsr = mxcsr;
    if !osxmm {
        m.cpu.state.cr4 &= !cr4::OSXMMEXCPT;
    }
    let result = m.exec(code);
    (result, m.cpu.state.sse.xmm[0], m.cpu.state.sse.mxcsr)
}

fn ps(x: [f32; 4]) -> [u64; 2] {
    let b = x.map(f32::to_bits).map(u64::from);
    [b[0] | b[1] << 32, b[2] | b[3] << 32]
}

#[test]
fn unmasked_exceptions_fault_without_writing() {
    let mut m = Machine::new();
    let a = ps([1.0, 2.0, 3.0, 4.0]);
    let b = ps([0.0, 1.0, 1.0, 1.0]);
    // Divide by zero unmasked (ZM clear): #XM, ZE set, xmm0 unchanged.
    let (r, x0, csr) = run_fp(&mut m, DIVPS, a, b, 0x1F80 & !(1 << 9), true);
    assert_eq!((r, x0, csr), (Err(xm()), a, 0x1D80 | 0x4));
    // The same without CR4.OSXMMEXCPT: #UD, flags still set.
    let (r, x0, csr) = run_fp(&mut m, DIVPS, a, b, 0x1D80, false);
    assert_eq!((r, x0, csr), (Err(Fault::ud()), a, 0x1D84));
    // Masked: the result is written.
    let (r, x0, csr) = run_fp(&mut m, DIVPS, a, b, 0x1F80, true);
    assert_eq!(
        (r, x0, csr),
        (Ok(()), ps([f32::INFINITY, 2.0, 3.0, 4.0]), 0x1F84)
    );

    // An unmasked pre-computation exception (IE from an SNaN in element 1) reports only the
    // pre-computation flags, although element 0 overflows and is inexact (OM and PM masked).
    let big = ps([f32::MAX, f32::from_bits(0x7F80_0001), 1.0, 1.0]);
    let (r, x0, csr) = run_fp(
        &mut m,
        &[0x0F, 0x59, 0xC1],
        big,
        ps([2.0, 1.0, 1.0, 1.0]),
        0x1F00,
        true,
    );
    assert_eq!((r, x0, csr), (Err(xm()), big, 0x1F01));

    // A masked pre-computation exception (denormal operand) with an unmasked post-computation
    // one (precision): both flags set, #XM, nothing written.
    let den = ps([f32::from_bits(1), 1.0, 1.0, 1.0]);
    let (r, x0, csr) = run_fp(
        &mut m,
        &[0x0F, 0x58, 0xC1],
        den,
        ps([1.0, 1.0, 1.0, 1.0]),
        0x1F80 & !(1 << 12),
        true,
    );
    assert_eq!((r, x0, csr), (Err(xm()), den, 0x0F80 | 0x22));

    // Unmasked underflow flags UE even for an exact tiny result (masked, it would not).
    let tiny = ps([f32::from_bits(0x0080_0000), 1.0, 1.0, 1.0]);
    let half = ps([0.5, 1.0, 1.0, 1.0]);
    let (r, _, csr) = run_fp(
        &mut m,
        &[0x0F, 0x59, 0xC1],
        tiny,
        half,
        0x1F80 & !(1 << 11),
        true,
    );
    assert_eq!((r, csr), (Err(xm()), 0x1780 | 0x10));
    let (r, x0, csr) = run_fp(&mut m, &[0x0F, 0x59, 0xC1], tiny, half, 0x1F80, true);
    assert_eq!((r, x0[0] & 0xFFFF_FFFF, csr), (Ok(()), 0x0040_0000, 0x1F80));
}

#[test]
fn faulting_comiss_and_cvtss2si_leave_eflags_and_eax() {
    let mut m = Machine::new();
    let comiss = &[0x0F, 0x2F, 0xC1];
    m.load(comiss);
    m.cpu.state.sse.xmm[0] = ps([f32::NAN, 0.0, 0.0, 0.0]);
    m.cpu.state.sse.mxcsr = 0x1F00;
    m.cpu.state.eflags = flag::FIXED | flag::OF | flag::SF;
    assert_eq!(m.exec(comiss), Err(xm()));
    assert_eq!(m.cpu.state.flags() & flag::ARITH, flag::OF | flag::SF);
    assert_eq!(m.cpu.state.sse.mxcsr, 0x1F01);
    m.cpu.state.sse.mxcsr = 0x1F80;
    assert_eq!(m.exec(comiss), Ok(()));
    assert_eq!(
        m.cpu.state.flags() & flag::ARITH,
        flag::ZF | flag::PF | flag::CF
    );

    let cvtss2si = &[0xF3, 0x0F, 0x2D, 0xC1];
    m.load(cvtss2si);
    m.cpu.state.sse.xmm[1] = ps([1.5, 0.0, 0.0, 0.0]);
    m.cpu.state.sse.mxcsr = 0x1F80 & !(1 << 12);
    m.cpu.state.regs[0] = 0xDEAD_BEEF;
    assert_eq!(m.exec(cvtss2si), Err(xm()));
    assert_eq!(
        (m.cpu.state.regs[0], m.cpu.state.sse.mxcsr),
        (0xDEAD_BEEF, 0x0F80 | 0x20)
    );
}

/// A guest handler for #XM receives control with the faulting instruction's address pushed.
#[test]
fn simd_exception_is_delivered_through_the_idt() {
    use pm_machine::*;
    let mut h = Harness::new(0);
    h.catch_exceptions();
    h.cpu.state.cr4 |= cr4::OSFXSR | cr4::OSXMMEXCPT;
    h.write_bytes(KCODE, DIVPS);
    h.cpu.state.sse.xmm[0] = ps([1.0, 1.0, 1.0, 1.0]);
    h.cpu.state.sse.mxcsr = 0x1D80;
    h.step();
    assert_eq!(h.cpu.state.eip, handler(vector::XM));
    assert_eq!(h.stack(2)[0], KCODE, "pushed EIP is the faulting DIVPS");
    assert_eq!(h.cpu.state.sse.mxcsr, 0x1D84);
}

#[test]
fn scalar_and_half_moves_from_memory() {
    let mut m = Machine::new();
    let bytes: Vec<u8> = (0x10..0x20).collect();
    let q0 = u64::from_le_bytes(bytes[..8].try_into().unwrap());
    let init = [0x1111_2222_3333_4444, 0x5555_6666_7777_8888];
    let cases: [(&[u8], [u64; 2]); 6] = [
        (&[0xF3, 0x0F, 0x10, 0x06], [q0 & 0xFFFF_FFFF, 0]), // movss xmm0, [esi]
        (&[0xF2, 0x0F, 0x10, 0x06], [q0, 0]),               // movsd xmm0, [esi]
        (&[0x0F, 0x12, 0x06], [q0, init[1]]),               // movlps xmm0, [esi]
        (&[0x66, 0x0F, 0x16, 0x06], [init[0], q0]),         // movhpd xmm0, [esi]
        (&[0xF3, 0x0F, 0x7E, 0x06], [q0, 0]),               // movq xmm0, [esi]
        (&[0x66, 0x0F, 0x6E, 0x06], [q0 & 0xFFFF_FFFF, 0]), // movd xmm0, [esi]
    ];
    for (code, want) in cases {
        m.write_bytes(DATA, &bytes);
        m.load(code);
        m.cpu.state.regs[6] = DATA;
        m.cpu.state.sse.xmm[0] = init;
        assert_eq!(m.exec(code), Ok(()));
        assert_eq!(m.cpu.state.sse.xmm[0], want, "{code:02x?}");
    }
    // Stores: movss [esi], xmm1 writes 4 bytes; movhps [esi], xmm1 the high quadword.
    for (code, want) in [
        (&[0xF3, 0x0F, 0x11, 0x0E][..], &init[0].to_le_bytes()[..4]),
        (&[0x0F, 0x17, 0x0E][..], &init[1].to_le_bytes()[..]),
        (&[0x0F, 0xC3, 0x06][..], &0xCAFE_F00Du32.to_le_bytes()[..]),
    ] {
        m.write_bytes(DATA, &[0xEE; 16]);
        m.load(code);
        m.cpu.state.regs[6] = DATA;
        m.cpu.state.regs[0] = 0xCAFE_F00D;
        m.cpu.state.sse.xmm[1] = init;
        assert_eq!(m.exec(code), Ok(()));
        let got = m.read_bytes(DATA, 16);
        assert_eq!(&got[..want.len()], want, "{code:02x?}");
        assert!(
            got[want.len()..].iter().all(|&b| b == 0xEE),
            "{code:02x?} wrote too much"
        );
    }
}

#[test]
fn masked_stores_write_selected_bytes_at_edi() {
    let mut m = Machine::new();
    // maskmovq mm0, mm1 and maskmovdqu xmm0, xmm1 to DS:EDI.
    for (code, n) in [
        (&[0x0F, 0xF7, 0xC1][..], 8usize),
        (&[0x66, 0x0F, 0xF7, 0xC1][..], 16),
    ] {
        m.write_bytes(DATA + 0x40, &[0xEE; 16]);
        m.load(code);
        m.cpu.state.regs[7] = DATA + 0x40;
        m.cpu.state.fpu.mantissa[0] = 0x0807_0605_0403_0201;
        m.cpu.state.fpu.mantissa[1] = 0x8000_7F80_00FF_0080;
        m.cpu.state.sse.xmm[0] = [0x0807_0605_0403_0201, 0x100F_0E0D_0C0B_0A09];
        m.cpu.state.sse.xmm[1] = [0x8000_7F80_00FF_0080, 0x8080_8080_0000_0000];
        assert_eq!(m.exec(code), Ok(()));
        let got = m.read_bytes(DATA + 0x40, 16);
        let mut want = vec![0xEE; 16];
        for (i, w) in [(0, 1), (2, 3), (4, 5), (7, 8)] {
            want[i] = w;
        }
        if n == 16 {
            for (i, byte) in want.iter_mut().enumerate().skip(12) {
                *byte = i as u8 + 1;
            }
        }
        assert_eq!(got, want, "{code:02x?}");
    }
}
