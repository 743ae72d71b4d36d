//! CPUID, RDTSC, XLAT, UD2, PAUSE and hint NOPs, WAIT and the x87 escapes, INVD/WBINVD.

mod flow_harness;

use flow_harness::{Machine, CODE};
use webx86_cpu::fault::vector;
use webx86_cpu::state::{cr0, cr4, reg, CpuState};
use webx86_cpu::Fault;

fn cpuid(m: &mut Machine, leaf: u32) -> [u32; 4] {
    m.rewind(CODE);
    m.set(reg::EAX, leaf);
    m.set(reg::ECX, 0xDEAD);
    m.step(&[0x0F, 0xA2]).unwrap();
    [reg::EAX, reg::EBX, reg::ECX, reg::EDX].map(|r| m.reg(r))
}

#[test]
fn cpuid_identifies_an_intel_p6() {
    let mut m = Machine::flat32();
    let [max, b, c, d] = cpuid(&mut m, 0);
    assert_eq!(max, 2);
    let vendor: Vec<u8> = [b, d, c].iter().flat_map(|r| r.to_le_bytes()).collect();
    assert_eq!(vendor, b"GenuineIntel");
    let [sig, ebx, ecx, edx] = cpuid(&mut m, 1);
    assert_eq!((ebx >> 8) & 0xFF, 8, "CLFLUSH line size 64 bytes");
    assert_eq!((sig >> 8) & 0xF, 6, "family 6");
    assert_eq!(
        sig,
        CpuState::reset().regs[reg::EDX as usize],
        "EDX at reset is the signature"
    );
    assert_eq!(ecx, 0);
    let bit = |n: u32| edx & (1 << n) != 0;
    for (n, what) in [
        (3, "PSE"),
        (4, "TSC"),
        (5, "MSR"),
        (8, "CX8"),
        (11, "SEP"),
        (13, "PGE"),
        (15, "CMOV"),
        (19, "CLFSH"),
        (23, "MMX"),
        (24, "FXSR"),
        (25, "SSE"),
        (26, "SSE2"),
        (0, "FPU"),
    ] {
        assert!(bit(n), "{what} advertised");
    }
    for (n, what) in [
        (1, "VME"),
        (6, "PAE"),
        (9, "APIC"),
        (12, "MTRR"),
        (16, "PAT"),
    ] {
        assert!(!bit(n), "{what} not advertised");
    }
    let leaf2 = cpuid(&mut m, 2);
    assert_eq!(leaf2[0] & 0xFF, 1, "one iteration of descriptors");
    assert_eq!(
        cpuid(&mut m, 0x4000_0000),
        leaf2,
        "out-of-range leaves repeat leaf 2"
    );
    assert_eq!(cpuid(&mut m, 0x8000_0000)[0], 0x8000_0004);
    let brand: Vec<u8> = (0x8000_0002..=0x8000_0004u32)
        .flat_map(|leaf| cpuid(&mut m, leaf))
        .flat_map(|r| r.to_le_bytes())
        .collect();
    assert_eq!(&brand[..7], b"webx86\0");
    assert!(brand[6..].iter().all(|&b| b == 0));
}

#[test]
fn rdtsc_reads_the_platform_clock_and_honours_tsd() {
    let mut m = Machine::flat32();
    m.cpu.state.retired = 10;
    m.step(&[0x0F, 0x31]).unwrap();
    assert_eq!(m.reg(reg::EAX), 1_000_030);
    assert_eq!(m.reg(reg::EDX), 0);
    m.cpu.state.tsc = 5 << 32;
    m.rewind(CODE);
    m.step(&[0x0F, 0x31]).unwrap();
    assert_eq!(m.reg(reg::EDX), 5, "state.tsc offsets the counter");
    m.cpu.state.cr4 |= cr4::TSD;
    m.rewind(CODE);
    m.step(&[0x0F, 0x31]).unwrap();
    m.to_ring3();
    m.rewind(CODE);
    assert_eq!(m.step(&[0x0F, 0x31]), Err(Fault::GP0));
    m.cpu.state.cr4 = 0;
    m.rewind(CODE);
    m.step(&[0x0F, 0x31]).unwrap();
}

#[test]
fn xlat_16_and_32() {
    let mut m = Machine::flat32();
    m.write_bytes(0x5000 + 0xF0, &[0x77]);
    m.set(reg::EBX, 0x5000);
    m.set(reg::EAX, 0x1234_56F0);
    m.step(&[0xD7]).unwrap();
    assert_eq!(m.reg(reg::EAX), 0x1234_5677);
    // 16-bit addressing: BX + AL wraps at 64 KiB and ignores EBX's upper half.
    m.write_bytes(0x0010, &[0x99]);
    m.set(reg::EBX, 0x0001_FFF0);
    m.set(reg::EAX, 0x20);
    m.rewind(CODE);
    m.step(&[0x67, 0xD7]).unwrap();
    assert_eq!(m.reg(reg::EAX), 0x99);
}

#[test]
fn ud2_pause_and_hint_nops() {
    let mut m = Machine::flat32();
    assert_eq!(m.step(&[0x0F, 0x0B]), Err(Fault::ud()));
    let before = m.cpu.state;
    for code in [
        &[0xF3, 0x90][..],               // pause
        &[0x0F, 0x18, 0x00],             // prefetchnta [eax] on later CPUs
        &[0x0F, 0x1E, 0xC8],             // hint nop, register form
        &[0x0F, 0x1F, 0x44, 0x00, 0x00], // nop dword [eax+eax]
        &[0xF3, 0x0F, 0x1E, 0xFB],       // endbr32 on later CPUs
    ] {
        m.rewind(CODE);
        m.step(code).unwrap();
        assert_eq!(m.cpu.state.eip, CODE + code.len() as u32);
        let mut after = m.cpu.state;
        after.eip = before.eip;
        assert!(
            same_registers(&after, &before),
            "{code:02X?} changes nothing"
        );
    }
}

fn same_registers(a: &CpuState, b: &CpuState) -> bool {
    a.regs == b.regs && a.eflags == b.eflags && a.segs == b.segs && a.cr0 == b.cr0
}

#[test]
fn wait_and_x87_escapes_without_an_fpu() {
    let mut m = Machine::flat32();
    m.cpu.state.cr0 &= !(cr0::EM | cr0::TS | cr0::MP);
    let fninit = [0xDB, 0xE3];
    let fld = [0xD9, 0x00]; // fld dword [eax]
                            // With the x87 in place (the `fpu` branch) the escapes run; only #NM remains to check here.
    m.step(&fninit).expect("FNINIT runs");
    m.step(&[0x9B]).unwrap(); // wait: nothing pending
    for (bits, esc_nm, wait_nm) in [
        (cr0::TS, true, false),
        (cr0::MP | cr0::TS, true, true),
        (cr0::EM, true, false),
        (cr0::EM | cr0::MP, true, false),
        (cr0::EM | cr0::MP | cr0::TS, true, true),
        (cr0::MP, false, false),
    ] {
        m.cpu.state.cr0 = (m.cpu.state.cr0 & !(cr0::EM | cr0::TS | cr0::MP)) | bits;
        let nm = Err(Fault::new(vector::NM));
        m.rewind(CODE);
        let r = m.step(&fld);
        assert_eq!(r == nm, esc_nm, "ESC with CR0 bits {bits:#x}: {r:?}");
        m.rewind(CODE);
        let r = m.step(&[0x9B]);
        assert_eq!(r == nm, wait_nm, "WAIT with CR0 bits {bits:#x}: {r:?}");
    }
}

#[test]
fn invd_wbinvd_are_privileged() {
    let mut m = Machine::flat32();
    m.step(&[0x0F, 0x08]).unwrap();
    m.rewind(CODE);
    m.step(&[0x0F, 0x09]).unwrap();
    m.to_ring3();
    m.rewind(CODE);
    assert_eq!(m.step(&[0x0F, 0x08]), Err(Fault::GP0));
    m.rewind(CODE);
    assert_eq!(m.step(&[0x0F, 0x09]), Err(Fault::GP0));
    let mut m = Machine::flat32();
    m.to_v86(3);
    assert_eq!(m.step(&[0x0F, 0x09]), Err(Fault::GP0));
    let mut m = Machine::real();
    m.step(&[0x0F, 0x09]).unwrap();
}
