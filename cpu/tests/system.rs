//! System instructions in protected and real mode: descriptor-table registers, control and
//! debug registers, descriptor queries, ARPL, MSRs and SYSENTER/SYSEXIT. Expected values come
//! from the SDM vol. 2 pseudo-code (these instructions are privileged on the host).

mod machine;

use machine::pm::*;
use webx86_cpu::state::{cr0, cr4, flag, reg, sreg, Segment};

fn set(h: &mut Harness, r: u8, value: u32) {
    h.cpu.state.regs[r as usize] = value;
}
fn get(h: &Harness, r: u8) -> u32 {
    h.cpu.state.regs[r as usize]
}
fn zf(h: &Harness) -> bool {
    h.cpu.state.flags() & flag::ZF != 0
}

/// Real mode → protected mode the way a boot loader does it, with our own instructions only.
#[test]
fn switch_from_real_to_protected_mode() {
    let mut h = Harness::new(0);
    h.cpu.reset();
    h.cpu.state.segs[sreg::CS as usize] = Segment::real_mode(0);
    h.cpu.state.eip = 0x7C00;
    // GDT pointer at 0x7E00: limit, base.
    h.write_bytes(0x7E00, &[0x5F, 0x00]);
    h.write32(0x7E02, 0x0000_1000);
    #[rustfmt::skip]
    let real = [
        0x0F, 0x01, 0x16, 0x00, 0x7E, // lgdt [0x7E00]
        0x0F, 0x20, 0xC0,             // mov eax, cr0
        0x66, 0x83, 0xC8, 0x01,       // or eax, 1
        0x0F, 0x22, 0xC0,             // mov cr0, eax
        0xEA, 0x20, 0x7C, 0x08, 0x00, // jmp 0x08:0x7C20
    ];
    h.write_bytes(0x7C00, &real);
    #[rustfmt::skip]
    let protected = [
        0x66, 0xB8, 0x10, 0x00, // mov ax, 0x10
        0x8E, 0xD8,             // mov ds, ax
        0x8E, 0xD0,             // mov ss, ax
        0x66, 0xB8, 0x28, 0x00, // mov ax, 0x28
        0x0F, 0x00, 0xD8,       // ltr ax
        0x0F, 0x00, 0xC9,       // str ecx
    ];
    h.write_bytes(0x7C20, &protected);
    // Mark TSS A available again (the harness loaded it).
    let desc = h.read64(0x1028) & !(2 << 40);
    h.write64(0x1028, desc);
    for _ in 0..5 {
        h.step();
    }
    let s = &h.cpu.state;
    assert!(s.protected_mode());
    assert_eq!(s.gdtr.base, 0x1000);
    assert_eq!(s.segs[sreg::CS as usize].selector, 0x08);
    assert!(s.code32());
    assert_eq!(s.eip, 0x7C20);
    for _ in 0..6 {
        h.step();
    }
    let s = &h.cpu.state;
    assert_eq!(s.eip, 0x7C20 + protected.len() as u32);
    assert_eq!(s.segs[sreg::SS as usize].limit, u32::MAX);
    assert_eq!(s.tr.selector, 0x28);
    assert_eq!(h.read64(0x1028) >> 41 & 1, 1, "LTR marks the TSS busy");
    assert_eq!(get(&h, reg::ECX), 0x28, "STR r32 zero-extends");
}

#[test]
fn descriptor_table_registers() {
    let mut h = Harness::new(0);
    h.catch_exceptions();
    set(&mut h, reg::EBX, 0x300);
    h.write_bytes(0x300, &[0xFF, 0x03, 0x78, 0x56, 0x34, 0x12]);
    // lidt [ebx] with 16-bit operand size: 24-bit base. Then sidt [ebx+8]; lidt [ebx]; sgdt.
    #[rustfmt::skip]
    h.write_bytes(KCODE, &[
        0x66, 0x0F, 0x01, 0x1B, // o16 lidt [ebx]
        0x0F, 0x01, 0x4B, 0x08, // sidt [ebx+8]
        0x0F, 0x01, 0x1B,       // lidt [ebx]
        0x0F, 0x01, 0x43, 0x10, // sgdt [ebx+16]
        0x66, 0x0F, 0x01, 0x4B, 0x18, // o16 sidt [ebx+24]
    ]);
    h.step();
    assert_eq!(
        (h.cpu.state.idtr.base, h.cpu.state.idtr.limit),
        (0x34_5678, 0x3FF)
    );
    h.step();
    assert_eq!(h.read16(0x308), 0x3FF);
    assert_eq!(h.read32(0x30A), 0x0034_5678);
    h.step();
    assert_eq!(h.cpu.state.idtr.base, 0x1234_5678);
    h.step();
    assert_eq!(h.read16(0x310), h.cpu.state.gdtr.limit);
    assert_eq!(h.read32(0x312), GDT);
    h.step();
    assert_eq!(
        h.read32(0x31A),
        0x0034_5678,
        "16-bit SIDT: 24-bit base, sixth byte 0"
    );

    // LGDT at CPL 3 is #GP(0); SGDT is not privileged.
    let mut h = Harness::new(3);
    h.catch_exceptions();
    set(&mut h, reg::EBX, 0x300);
    h.write_bytes(UCODE, &[0x0F, 0x01, 0x03, 0x0F, 0x01, 0x13]);
    h.step();
    assert_eq!(h.read32(0x302), GDT);
    h.step();
    assert_eq!(h.cpu.state.eip, handler(13));
}

#[test]
fn lldt_and_segments_from_the_ldt() {
    let mut h = Harness::new(0);
    h.catch_exceptions();
    // LDT at 0x4000 with one data segment (base 0x12000) at index 1; its descriptor in GDT 0x60.
    h.write64(0x4008, descriptor(0x12000, 0xFFF, 0x92, 0x4));
    h.write64(GDT + 0x60, descriptor(0x4000, 0xF, 0x82, 0));
    h.cpu.state.gdtr.limit = 0x67;
    set(&mut h, reg::EAX, 0x60);
    set(&mut h, reg::ECX, 0x0C);
    #[rustfmt::skip]
    h.write_bytes(KCODE, &[
        0x0F, 0x00, 0xD0, // lldt ax
        0x8E, 0xE1,       // mov fs, cx
        0x0F, 0x00, 0xC2, // sldt edx
        0x0F, 0x00, 0xD1, // lldt cx  (a selector in the LDT: #GP(0x0C))
    ]);
    for _ in 0..3 {
        h.step();
    }
    assert_eq!(h.cpu.state.segs[sreg::FS as usize].base, 0x12000);
    assert_eq!(h.cpu.state.segs[sreg::FS as usize].limit, 0xFFF);
    assert_eq!(get(&h, reg::EDX), 0x60);
    h.step();
    assert_eq!(h.cpu.state.eip, handler(13));
    assert_eq!(h.stack(1), [0x0C]);
}

#[test]
fn lar_lsl_verr_verw() {
    let mut h = Harness::new(0);
    let code: Vec<u8> = [
        [0x0F, 0x02, 0xC1], // lar eax, ecx
        [0x0F, 0x03, 0xC1], // lsl eax, ecx
        [0x0F, 0x00, 0xE1], // verr cx
        [0x0F, 0x00, 0xE9], // verw cx
    ]
    .concat();
    let run = |h: &mut Harness, cpl: u32, selector: u32| {
        h.set_level(cpl);
        let base = if cpl == 3 { UCODE } else { KCODE };
        h.write_bytes(base, &code);
        let mut out = Vec::new();
        for _ in 0..4 {
            set(h, reg::EAX, 0xDEAD_BEEF);
            set(h, reg::ECX, selector);
            h.step();
            out.push((zf(h), get(h, reg::EAX)));
        }
        out
    };
    let bad = (false, 0xDEAD_BEEF);
    assert_eq!(
        run(&mut h, 0, 0x08),
        [
            (true, 0x00C0_9A00),
            (true, u32::MAX),
            (true, 0xDEAD_BEEF),
            bad
        ]
    );
    assert_eq!(
        run(&mut h, 0, 0x28),
        [(true, 0x0000_8B00), (true, 0x67), bad, bad],
        "busy TSS"
    );
    assert_eq!(
        run(&mut h, 0, 0x33),
        [(true, 0x0000_EC00), bad, bad, bad],
        "call gate"
    );
    assert_eq!(
        run(&mut h, 0, 0x40)[2..],
        [(true, 0xDEAD_BEEF), bad],
        "read-only data"
    );
    assert_eq!(run(&mut h, 0, 0)[..], [bad, bad, bad, bad], "null");
    assert_eq!(
        run(&mut h, 0, 0x800)[..],
        [bad, bad, bad, bad],
        "beyond the GDT"
    );
    assert_eq!(
        run(&mut h, 3, 0x08)[..],
        [bad, bad, bad, bad],
        "DPL 0 from CPL 3"
    );
    assert_eq!(
        run(&mut h, 0, 0x13)[..],
        [bad, bad, bad, bad],
        "RPL 3 > DPL 0"
    );
    assert_eq!(
        run(&mut h, 3, 0x23),
        [
            (true, 0x00C0_F200),
            (true, u32::MAX),
            (true, 0xDEAD_BEEF),
            (true, 0xDEAD_BEEF)
        ]
    );
    // Real mode: #UD.
    let mut h = Harness::new(0);
    h.catch_exceptions();
    h.cpu.state.cr0 &= !cr0::PE;
    h.write_bytes(KCODE, &code);
    h.cpu.state.idtr.base = 0; // IVT at 0
    h.write32(6 * 4, 0x0000_0600); // 0000:0600
    h.step();
    assert_eq!(h.cpu.state.eip, 0x600, "LAR in real mode is #UD");
}

/// ARPL: with the RPL unchanged, a read-only memory operand is neither written nor faults
/// (test386 POST 17); a change to it is #GP(0).
#[test]
fn arpl_register_and_memory() {
    let mut h = Harness::new(0);
    h.catch_exceptions();
    h.cpu.load_sreg(sreg::DS, 0x40).unwrap();
    set(&mut h, reg::EAX, 0x1234_0010);
    set(&mut h, reg::ECX, 2);
    set(&mut h, reg::EBX, 0x200);
    h.write32(0x200, 0x23);
    #[rustfmt::skip]
    h.write_bytes(KCODE, &[
        0x63, 0xC8, // arpl ax, cx
        0x63, 0xC8, // arpl ax, cx
        0x63, 0x0B, // arpl [ebx], cx   (RPL 3 >= 2: no write)
        0x63, 0x03, // arpl [ebx], ax   (ax RPL 2 < 3: no write)
    ]);
    h.step();
    assert_eq!((get(&h, reg::EAX), zf(&h)), (0x1234_0012, true));
    h.step();
    assert_eq!((get(&h, reg::EAX), zf(&h)), (0x1234_0012, false));
    h.step();
    assert_eq!((h.cpu.state.eip, zf(&h)), (KCODE + 6, false));
    h.write32(0x200, 0x20);
    h.step();
    assert_eq!(h.cpu.state.eip, handler(13), "write to a read-only segment");
    assert_eq!(h.read32(0x200), 0x20);
}

#[test]
fn control_register_moves() {
    let mut h = Harness::new(0);
    h.catch_exceptions();
    let run = |h: &mut Harness, code: &[u8], eax: u32| {
        h.set_level(0);
        h.write_bytes(KCODE, code);
        set(h, reg::EAX, eax);
        h.step();
        h.cpu.state.eip
    };
    let mov_cr0 = [0x0F, 0x22, 0xC0];
    let mov_cr4 = [0x0F, 0x22, 0xE0];
    assert_eq!(run(&mut h, &mov_cr0, cr0::PG), handler(13), "PG without PE");
    assert_eq!(
        run(&mut h, &mov_cr0, cr0::PE | cr0::NW),
        handler(13),
        "NW without CD"
    );
    assert_eq!(run(&mut h, &mov_cr4, cr4::PAE), handler(13));
    assert_eq!(
        run(&mut h, &mov_cr4, 1 << 20),
        handler(13),
        "reserved CR4 bit"
    );
    assert_eq!(run(&mut h, &mov_cr4, cr4::PSE | cr4::PGE), KCODE + 3);
    assert_eq!(h.cpu.state.cr4, cr4::PSE | cr4::PGE);
    assert_eq!(
        run(&mut h, &[0x0F, 0x20, 0xC8], 0),
        handler(6),
        "CR1 does not exist"
    );
    assert_eq!(run(&mut h, &mov_cr0, cr0::PE | cr0::TS | 0x100), KCODE + 3);
    assert_eq!(
        h.cpu.state.cr0,
        cr0::PE | cr0::TS | cr0::ET,
        "reserved bits ignored, ET fixed"
    );
    // clts ; smsw eax ; lmsw ax (cannot clear PE)
    h.write_bytes(KCODE, &[0x0F, 0x06, 0x0F, 0x01, 0xE0, 0x0F, 0x01, 0xF0]);
    h.set_level(0);
    h.step();
    assert_eq!(h.cpu.state.cr0 & cr0::TS, 0);
    h.step();
    assert_eq!(get(&h, reg::EAX), cr0::PE | cr0::ET);
    set(&mut h, reg::EAX, cr0::MP);
    h.step();
    assert_eq!(h.cpu.state.cr0, cr0::PE | cr0::MP | cr0::ET);
    // At CPL 3, MOV CR is #GP(0).
    h.set_level(3);
    h.write_bytes(UCODE, &mov_cr0);
    h.step();
    assert_eq!(h.cpu.state.eip, handler(13));
}

#[test]
fn debug_register_moves() {
    let mut h = Harness::new(0);
    h.catch_exceptions();
    set(&mut h, reg::EAX, 0);
    #[rustfmt::skip]
    h.write_bytes(KCODE, &[
        0x0F, 0x23, 0xF0, // mov dr6, eax
        0x0F, 0x21, 0xE1, // mov ecx, dr4 (alias of DR6)
        0x0F, 0x21, 0xE1, // mov ecx, dr4 with CR4.DE: #UD
    ]);
    h.step();
    h.step();
    assert_eq!(get(&h, reg::ECX), 0xFFFF_0FF0);
    h.cpu.state.cr4 = cr4::DE;
    h.step();
    assert_eq!(h.cpu.state.eip, handler(6));
    // DR7.GD: the next access is a #DB fault with DR6.BD set.
    h.set_level(0);
    h.cpu.state.cr4 = 0;
    h.cpu.state.dr[7] |= 1 << 13;
    h.write_bytes(KCODE, &[0x0F, 0x21, 0xC1]);
    h.step();
    assert_eq!(h.cpu.state.eip, handler(1));
    assert_eq!(h.stack(1), [KCODE], "a fault: EIP of the MOV");
    assert_ne!(h.cpu.state.dr[6] & (1 << 13), 0);
    assert_eq!(h.cpu.state.dr[7] & (1 << 13), 0);
}

#[test]
fn msrs_and_sysenter_sysexit() {
    let mut h = Harness::new(0);
    h.catch_exceptions();
    // wrmsr SYSENTER_CS/ESP/EIP, rdmsr back, unknown MSR #GP.
    let wrmsr = [0x0F, 0x30];
    let rdmsr = [0x0F, 0x32];
    let msr = |h: &mut Harness, code: &[u8], ecx: u32, edx_eax: u64| {
        h.set_level(0);
        h.write_bytes(KCODE, code);
        set(h, reg::ECX, ecx);
        set(h, reg::EAX, edx_eax as u32);
        set(h, reg::EDX, (edx_eax >> 32) as u32);
        h.step();
        (
            h.cpu.state.eip,
            u64::from(get(h, reg::EAX)) | u64::from(get(h, reg::EDX)) << 32,
        )
    };
    assert_eq!(msr(&mut h, &wrmsr, 0x174, 0x08).0, KCODE + 2);
    assert_eq!(msr(&mut h, &wrmsr, 0x175, 0x9000).0, KCODE + 2);
    assert_eq!(msr(&mut h, &wrmsr, 0x176, 0x5500).0, KCODE + 2);
    assert_eq!(msr(&mut h, &rdmsr, 0x174, 0), (KCODE + 2, 0x08));
    assert_eq!(msr(&mut h, &rdmsr, 0x1B, 0).0, handler(13), "no APIC");
    assert_eq!(
        msr(&mut h, &wrmsr, 0xFE, 0).0,
        handler(13),
        "MTRRcap is read-only"
    );
    assert_eq!(msr(&mut h, &rdmsr, 0xFE, 7), (KCODE + 2, 0));
    assert_eq!(msr(&mut h, &wrmsr, 0x10, 1 << 40).0, KCODE + 2);
    let (_, tsc) = msr(&mut h, &rdmsr, 0x10, 0);
    assert!((1 << 40..(1 << 40) + 10).contains(&tsc), "TSC {tsc:#x}");

    // At ring 3: sysenter to 0x08:0x5500 with ESP 0x9000; sysexit back to EDX/ECX.
    h.set_level(3);
    h.write_bytes(UCODE, &[0x0F, 0x34]);
    h.write_bytes(0x5500, &[0x0F, 0x35]);
    h.step();
    let s = &h.cpu.state;
    assert_eq!(
        (s.cpl, s.eip, s.regs[reg::ESP as usize]),
        (0, 0x5500, 0x9000)
    );
    assert_eq!(s.segs[sreg::SS as usize].selector, 0x10);
    set(&mut h, reg::EDX, UCODE + 0x40);
    set(&mut h, reg::ECX, 0x7F00);
    h.step();
    let s = &h.cpu.state;
    assert_eq!(
        (s.cpl, s.eip, s.regs[reg::ESP as usize]),
        (3, UCODE + 0x40, 0x7F00)
    );
    assert_eq!(s.segs[sreg::CS as usize].selector, 0x1B);
    assert_eq!(s.segs[sreg::SS as usize].selector, 0x23);
    // rdmsr at ring 3: #GP(0).
    h.write_bytes(UCODE + 0x40, &rdmsr);
    h.step();
    assert_eq!(h.cpu.state.eip, handler(13));
}
