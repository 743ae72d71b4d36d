//! Protected-mode machinery driven through guest code: a harness builds a GDT, IDT and TSSs
//! in RAM and starts the CPU in protected mode at a chosen privilege level; expectations come
//! from the SDM vol. 2/3A pseudo-code (the host CPU cannot be the oracle for ring changes).

mod machine;

use machine::pm::*;
use webx86_cpu::state::{cr0, flag, reg, sreg};
use webx86_cpu::Fault;

#[test]
fn data_segment_loads_check_type_privilege_and_presence() {
    let mut h = Harness::new(0);
    let cpu = &mut h.cpu;
    // A good load sets the accessed bit in the GDT and caches base/limit/attributes.
    assert_eq!(cpu.load_sreg(sreg::ES, SEL_KDATA), Ok(()));
    assert_eq!(h.read64(GDT + 0x10) >> 40 & 1, 1, "accessed bit");
    let es = h.seg(sreg::ES);
    assert_eq!((es.base, es.limit, es.selector), (0, u32::MAX, 0x10));
    let cpu = &mut h.cpu;
    assert_eq!(cpu.load_sreg(sreg::SS, 0), Err(Fault::GP0), "null SS");
    assert_eq!(cpu.load_sreg(sreg::SS, SEL_RODATA), Err(Fault::gp(0x40)));
    assert_eq!(cpu.load_sreg(sreg::SS, SEL_UDATA), Err(Fault::gp(0x20)));
    assert_eq!(cpu.load_sreg(sreg::DS, SEL_ABSENT), Err(Fault::np(0x48)));
    assert_eq!(cpu.load_sreg(sreg::DS, 0x1000), Err(Fault::gp(0x1000)));
    assert_eq!(cpu.load_sreg(sreg::DS, SEL_TSS_A), Err(Fault::gp(0x28)));
    assert_eq!(
        cpu.load_sreg(sreg::DS, 0x0C),
        Err(Fault::gp(0x0C)),
        "no LDT"
    );
    // Readable code may be loaded into a data register.
    assert_eq!(cpu.load_sreg(sreg::FS, SEL_KCODE), Ok(()));
    // A null selector is allowed in DS; using it faults.
    assert_eq!(cpu.load_sreg(sreg::DS, 3), Ok(()));
    assert_eq!(cpu.read_seg::<4>(sreg::DS, 0), Err(Fault::GP0));
    assert_eq!(cpu.state.segs[sreg::DS as usize].selector, 3);

    // At CPL 3, DPL 0 data is out of reach; DPL 3 data with RPL 0 is fine.
    let mut h = Harness::new(3);
    let cpu = &mut h.cpu;
    assert_eq!(cpu.load_sreg(sreg::DS, SEL_KDATA), Err(Fault::gp(0x10)));
    assert_eq!(cpu.load_sreg(sreg::DS, SEL_UDATA & !3), Ok(()));
    assert_eq!(
        cpu.load_sreg(sreg::SS, SEL_UDATA & !3),
        Err(Fault::gp(0x20)),
        "RPL != CPL"
    );
}

#[test]
fn mov_sreg_instructions() {
    let mut h = Harness::new(0);
    // mov eax, 0x48 ; mov ds, ax  -> #NP(0x48) through a 32-bit interrupt gate
    h.write_bytes(KCODE, &[0xB8, 0x48, 0, 0, 0, 0x8E, 0xD8]);
    h.set_idt(11, gate(SEL_KCODE, 0x7000, 0x8E, 0));
    h.cpu.state.eflags |= flag::IF;
    h.step();
    h.step();
    assert_eq!(h.cpu.state.eip, 0x7000);
    assert_eq!(h.esp(), KSTACK - 16);
    assert_eq!(
        h.stack(4),
        [0x48, KCODE + 5, 0x08, flag::FIXED | flag::IF],
        "error code, EIP of the faulting MOV, CS, EFLAGS"
    );
    assert_eq!(h.cpu.state.eflags & flag::IF, 0, "interrupt gate clears IF");
    assert_eq!(h.seg(sreg::DS).selector, 0x10, "DS unchanged");

    // mov eax, 0x23 ; mov ds, ax ; mov [0x100], ds (16-bit store) ; mov ecx, ds ; mov cs, ax
    let mut h = Harness::new(0);
    h.write32(0x100, 0xAAAA_AAAA);
    h.cpu.state.regs[reg::ECX as usize] = 0xFFFF_FFFF;
    h.write_bytes(
        KCODE,
        &[
            0xB8, 0x23, 0, 0, 0, 0x8E, 0xD8, 0x8C, 0x1D, 0, 1, 0, 0, 0x8C, 0xD9, 0x8E, 0xC8,
        ],
    );
    h.set_idt(6, gate(SEL_KCODE, 0x7100, 0x8F, 0));
    for _ in 0..4 {
        h.step();
    }
    assert_eq!(h.seg(sreg::DS).selector, 0x23);
    assert_eq!(h.read32(0x100), 0xAAAA_0023, "only 16 bits stored");
    assert_eq!(h.cpu.state.regs[reg::ECX as usize], 0x23, "zero-extended");
    h.step();
    assert_eq!(h.cpu.state.eip, 0x7100, "MOV CS is #UD");
}

/// CALL through a call gate to ring 0 with two parameters, then RETF 8 back to ring 3.
#[test]
fn call_gate_to_inner_level_and_return() {
    let mut h = Harness::new(3);
    // call far 0x33:0 ; retf 8 in ring 0
    h.write_bytes(UCODE, &[0x9A, 0, 0, 0, 0, SEL_CALL_GATE as u8, 0]);
    h.write_bytes(KCODE, &[0xCA, 0x08, 0x00]);
    h.cpu.state.regs[reg::ESP as usize] = USTACK - 8;
    h.write32(USTACK - 8, 0x1111);
    h.write32(USTACK - 4, 0x2222);
    h.step();
    assert_eq!(h.cpu.state.cpl, 0);
    assert_eq!(h.seg(sreg::CS).selector, u32::from(SEL_KCODE));
    assert_eq!(h.seg(sreg::SS).selector, u32::from(SEL_KDATA));
    assert_eq!(h.cpu.state.eip, KCODE);
    assert_eq!(h.esp(), KSTACK - 24);
    assert_eq!(
        h.stack(6),
        [UCODE + 7, 0x1B, 0x1111, 0x2222, USTACK - 8, 0x23],
        "EIP, CS, parameters, old ESP, old SS"
    );
    // Ring 0 loads DS with ring-0 data: the return to ring 3 must null it.
    h.cpu.load_sreg(sreg::DS, SEL_KDATA).unwrap();
    h.step();
    assert_eq!(h.cpu.state.cpl, 3);
    assert_eq!(h.seg(sreg::CS).selector, u32::from(SEL_UCODE));
    assert_eq!(h.seg(sreg::SS).selector, u32::from(SEL_UDATA));
    assert_eq!(h.cpu.state.eip, UCODE + 7);
    assert_eq!(h.esp(), USTACK, "parameters released on both stacks");
    assert_eq!(h.seg(sreg::DS).selector, 0, "DS nulled");
    assert_eq!(h.seg(sreg::ES).selector, u32::from(SEL_UDATA), "ES kept");
}

#[test]
fn call_gate_privilege_checks() {
    let mut h = Harness::new(3);
    // call far to the gate with RPL 3 but gate DPL 2: #GP(gate)
    h.write64(GDT + 0x30, gate(SEL_KCODE, KCODE, 0xCC, 0));
    h.write_bytes(UCODE, &[0x9A, 0, 0, 0, 0, SEL_CALL_GATE as u8, 0]);
    h.set_idt(13, gate(SEL_KCODE, 0x7200, 0x8E, 0));
    h.step();
    assert_eq!(h.cpu.state.eip, 0x7200);
    assert_eq!(h.cpu.state.cpl, 0);
    // Inner-level delivery from ring 3: SS:ESP from TSS, old SS:ESP pushed.
    assert_eq!(h.esp(), KSTACK - 24);
    assert_eq!(
        h.stack(6),
        [0x30, UCODE, 0x1B, flag::FIXED, USTACK, 0x23],
        "error code, EIP, CS, EFLAGS, ESP, SS"
    );
}

#[test]
fn far_jump_and_call_to_code_segments() {
    let mut h = Harness::new(0);
    // jmp far 0x50:0x1234 (16-bit code) ; then in 16-bit code: retf is not reached
    h.write_bytes(KCODE, &[0xEA, 0x34, 0x12, 0, 0, 0x50, 0]);
    h.step();
    assert_eq!(h.seg(sreg::CS).selector, u32::from(SEL_KCODE16));
    assert!(!h.cpu.state.code32());
    assert_eq!(h.cpu.state.eip, 0x1234);

    // call far to a DPL 3 non-conforming segment from ring 0: #GP(sel)
    let mut h = Harness::new(0);
    h.write_bytes(KCODE, &[0x9A, 0, 0, 0, 0, 0x18, 0]);
    h.set_idt(13, gate(SEL_KCODE, 0x7200, 0x8E, 0));
    h.step();
    assert_eq!(h.cpu.state.eip, 0x7200);
    assert_eq!(h.stack(2), [0x18, KCODE]);

    // call far 0x08:0x5100 ; retf at 0x5100
    let mut h = Harness::new(0);
    h.write_bytes(KCODE, &[0x9A, 0x00, 0x51, 0, 0, 0x08, 0]);
    h.write_bytes(0x5100, &[0xCB]);
    h.step();
    assert_eq!(h.cpu.state.eip, 0x5100);
    assert_eq!(h.stack(2), [KCODE + 7, 0x08]);
    h.step();
    assert_eq!(h.cpu.state.eip, KCODE + 7);
    assert_eq!(h.esp(), KSTACK);
}

/// A 16-bit (286) interrupt gate uses only the low word of its offset (test386 POST 20).
#[test]
fn interrupt_through_16_bit_gate_ignores_high_offset() {
    let mut h = Harness::new(0);
    // mov cr0 is fine at CPL 0, so raise #UD with an invalid encoding: ud2 (0F 0B)
    h.write_bytes(KCODE, &[0x0F, 0x0B]);
    h.set_idt(6, gate(SEL_KCODE, 0xFFFF_7300, 0x86, 0));
    h.step();
    assert_eq!(h.cpu.state.eip, 0x7300);
    assert_eq!(h.esp(), KSTACK - 6, "three 16-bit pushes");
    assert_eq!(h.read16(KSTACK - 6), KCODE & 0xFFFF);
    assert_eq!(h.read16(KSTACK - 4), 0x08);
}

/// A gate that is missing is #NP(vector*8+2+EXT); a failed delivery changes nothing and
/// escalates to #DF.
#[test]
fn failed_delivery_escalates_to_double_fault() {
    let mut h = Harness::new(0);
    h.write_bytes(KCODE, &[0x0F, 0x0B]);
    h.set_idt(6, gate(SEL_KCODE, 0x7300, 0x0E, 0)); // not present
    h.set_idt(11, gate(SEL_KCODE, 0x7400, 0x8E, 0));
    h.step();
    assert_eq!(h.cpu.state.eip, 0x7400, "#NP delivered");
    assert_eq!(h.stack(2), [6 * 8 + 2 + 1, KCODE]);

    // #GP at CPL 3 whose gate is absent: the #NP during its delivery becomes #DF, delivered
    // from the user stack state as it was (nothing of the failed delivery remains).
    let mut h = Harness::new(3);
    h.write_bytes(UCODE, &[0x0F, 0x22, 0xC0]); // mov cr0, eax
    h.set_idt(13, gate(SEL_KCODE, 0x7300, 0x0E, 0));
    h.set_idt(11, 0);
    h.set_idt(8, gate(SEL_KCODE, 0x7500, 0x8E, 0));
    h.step();
    assert_eq!(h.cpu.state.eip, 0x7500, "#DF delivered");
    assert_eq!(h.esp(), KSTACK - 24);
    assert_eq!(h.stack(6), [0, UCODE, 0x1B, flag::FIXED, USTACK, 0x23]);
}

/// IRETD at CPL 0 into V86 mode, then a #GP in V86 mode back to ring 0 with the V86 frame.
#[test]
fn iret_to_v86_and_fault_back_to_ring_0() {
    let mut h = Harness::new(0);
    h.write_bytes(KCODE, &[0xCF]); // iretd
    let frame = [
        0x0010,                            // EIP
        0x2000,                            // CS
        flag::VM | flag::FIXED | flag::IF, // EFLAGS, IOPL 0
        0x0FFE,                            // ESP
        0x3000,                            // SS
        0x4000,                            // ES
        0x5000,                            // DS
        0x6000,                            // FS
        0x7000,                            // GS
    ];
    let esp = KSTACK - 4 * frame.len() as u32;
    for (i, v) in frame.iter().enumerate() {
        h.write32(esp + 4 * i as u32, *v);
    }
    h.cpu.state.regs[reg::ESP as usize] = esp;
    h.step();
    assert!(h.cpu.state.v86_mode());
    assert_eq!(h.cpu.state.cpl, 3);
    assert_eq!(h.seg(sreg::CS).base, 0x20000);
    assert_eq!(h.seg(sreg::SS).base, 0x30000);
    assert_eq!(h.seg(sreg::GS).base, 0x70000);
    assert_eq!(h.seg(sreg::DS).dpl(), 3);
    assert_eq!((h.cpu.state.eip, h.esp()), (0x10, 0x0FFE));
    // mov cr0, eax in V86 mode: #GP(0) to ring 0 through a 32-bit trap gate.
    h.write_bytes(0x20010, &[0x0F, 0x22, 0xC0]);
    h.set_idt(13, gate(SEL_KCODE, 0x7600, 0x8F, 0));
    h.step();
    assert!(!h.cpu.state.v86_mode());
    assert_eq!(h.cpu.state.cpl, 0);
    assert_eq!(h.cpu.state.eip, 0x7600);
    assert_eq!(h.seg(sreg::SS).selector, u32::from(SEL_KDATA));
    assert_eq!(h.esp(), KSTACK - 40);
    assert_eq!(
        h.stack(10),
        [
            0,
            0x10,
            0x2000,
            flag::VM | flag::FIXED | flag::IF,
            0x0FFE,
            0x3000,
            0x4000,
            0x5000,
            0x6000,
            0x7000
        ],
        "error code, EIP, CS, EFLAGS, ESP, SS, ES, DS, FS, GS"
    );
    for seg in [sreg::DS, sreg::ES, sreg::FS, sreg::GS] {
        assert_eq!(h.seg(seg).selector, 0, "data segments nulled");
    }
    assert_ne!(h.cpu.state.eflags & flag::IF, 0, "trap gate keeps IF");
    // Back to V86 mode: IRET there with IOPL < 3 is #GP(0).
    h.write_bytes(0x7600, &[0x83, 0xC4, 0x04, 0xCF]); // add esp, 4 ; iretd
    h.step();
    h.step();
    assert!(h.cpu.state.v86_mode());
    assert_eq!((h.cpu.state.eip, h.esp()), (0x10, 0x0FFE));
    h.write_bytes(0x20010, &[0xCF]);
    h.step();
    assert_eq!(h.cpu.state.eip, 0x7600, "IOPL-sensitive IRET");
}

/// IRETD to an outer level: ring 0 → ring 3, with DS nulled and IOPL/IF rules.
#[test]
fn iret_to_outer_level() {
    let mut h = Harness::new(0);
    h.write_bytes(KCODE, &[0xCF]);
    let image = flag::FIXED | flag::IF | flag::IOPL | flag::CF;
    let frame = [
        UCODE,
        u32::from(SEL_UCODE),
        image,
        USTACK,
        u32::from(SEL_UDATA),
    ];
    let esp = KSTACK - 20;
    for (i, v) in frame.iter().enumerate() {
        h.write32(esp + 4 * i as u32, *v);
    }
    h.cpu.state.regs[reg::ESP as usize] = esp;
    h.step();
    assert_eq!(h.cpu.state.cpl, 3);
    assert_eq!(h.cpu.state.eip, UCODE);
    assert_eq!(h.esp(), USTACK);
    assert_eq!(h.cpu.state.flags(), image, "CPL 0 may change IOPL and IF");
    assert_eq!(h.seg(sreg::DS).selector, 0, "ring-0 DS nulled");

    // Back at ring 3 with IOPL 0: IRET to the same level cannot change IF or IOPL.
    let mut h = Harness::new(3);
    h.write_bytes(UCODE, &[0xCF]);
    let frame = [
        UCODE + 0x10,
        u32::from(SEL_UCODE),
        flag::FIXED | flag::IF | flag::IOPL | flag::ZF,
    ];
    let esp = USTACK - 12;
    for (i, v) in frame.iter().enumerate() {
        h.write32(esp + 4 * i as u32, *v);
    }
    h.cpu.state.regs[reg::ESP as usize] = esp;
    h.step();
    assert_eq!(h.cpu.state.eip, UCODE + 0x10);
    assert_eq!(h.cpu.state.flags(), flag::FIXED | flag::ZF);
    assert_eq!(h.esp(), USTACK);
}

/// JMP to a TSS, CALL through a task gate (nesting) and IRET back through the back link.
#[test]
fn task_switches() {
    let mut h = Harness::new(0);
    // TSS B: EIP 0x5800, EAX 0xB0B0, ESP 0x8800, flat ring-0 segments, EFLAGS with CF.
    h.write32(TSS_B + 0x20, 0x5800);
    h.write32(TSS_B + 0x24, flag::FIXED | flag::CF);
    h.write32(TSS_B + 0x28, 0xB0B0);
    h.write32(TSS_B + 0x38, 0x8800);
    for (i, sel) in [SEL_KDATA, SEL_KCODE, SEL_KDATA, SEL_KDATA, 0, 0]
        .iter()
        .enumerate()
    {
        h.write32(TSS_B + 0x48 + 4 * i as u32, u32::from(*sel));
    }
    h.cpu.state.regs[reg::EAX as usize] = 0xA0A0;
    // call far 0x58:0 (task gate) ; in task B: iretd
    h.write_bytes(KCODE, &[0x9A, 0, 0, 0, 0, SEL_TASK_GATE as u8, 0]);
    h.write_bytes(0x5800, &[0xCF]);
    h.step();
    let s = &h.cpu.state;
    assert_eq!(
        (s.eip, s.regs[reg::EAX as usize], s.regs[reg::ESP as usize]),
        (0x5800, 0xB0B0, 0x8800)
    );
    assert_eq!(s.tr.selector, u32::from(SEL_TSS_B));
    assert_ne!(s.eflags & flag::NT, 0, "nested task");
    assert_ne!(s.cr0 & cr0::TS, 0);
    assert_eq!(h.read16(TSS_B), u32::from(SEL_TSS_A), "back link");
    assert_eq!(h.read32(TSS_A + 0x20), KCODE + 7, "outgoing EIP saved");
    assert_eq!(h.read32(TSS_A + 0x28), 0xA0A0, "outgoing EAX saved");
    assert_eq!(h.read64(GDT + 0x38) >> 41 & 1, 1, "B busy");
    assert_eq!(h.read64(GDT + 0x28) >> 41 & 1, 1, "A stays busy");
    h.step();
    let s = &h.cpu.state;
    assert_eq!((s.eip, s.regs[reg::EAX as usize]), (KCODE + 7, 0xA0A0));
    assert_eq!(s.tr.selector, u32::from(SEL_TSS_A));
    assert_eq!(h.read64(GDT + 0x38) >> 41 & 1, 0, "B no longer busy");
    assert_eq!(
        h.read32(TSS_B + 0x24) & flag::NT,
        0,
        "NT cleared in B's saved EFLAGS"
    );

    // JMP to the TSS directly: A's busy bit clears, no back link/NT.
    let mut h2 = Harness::new(0);
    for addr in (TSS_B..TSS_B + 0x68).step_by(4) {
        let v = h.read32(addr);
        h2.write32(addr, v);
    }
    h2.write32(TSS_B + 0x20, 0x5800);
    h2.write_bytes(KCODE, &[0xEA, 0, 0, 0, 0, 0x38, 0]);
    h2.step();
    assert_eq!(h2.cpu.state.eip, 0x5800);
    assert_eq!(h2.cpu.state.eflags & flag::NT, 0);
    assert_eq!(h2.read64(GDT + 0x28) >> 41 & 1, 0, "A not busy");
    assert_eq!(h2.read64(GDT + 0x38) >> 41 & 1, 1, "B busy");
}

/// CALL to a 16-bit (286) TSS: word-sized fields, FS/GS null, upper register halves all ones;
/// IRET returns to the 32-bit task.
#[test]
fn task_switch_to_16_bit_tss() {
    let mut h = Harness::new(0);
    h.write64(GDT + 0x38, descriptor(TSS_B, 0x2B, 0x81, 0)); // 16-bit available TSS
    h.write_bytes(TSS_B + 0x0E, &[0x00, 0x58]); // IP 0x5800
    h.write_bytes(TSS_B + 0x10, &[0x01, 0x00]); // FLAGS: CF
    h.write_bytes(TSS_B + 0x12, &[0x34, 0x12]); // AX
    h.write_bytes(TSS_B + 0x1A, &[0x00, 0x88]); // SP
    for (i, sel) in [SEL_KDATA, SEL_KCODE, SEL_KDATA, SEL_KDATA]
        .iter()
        .enumerate()
    {
        h.write_bytes(TSS_B + 0x22 + 2 * i as u32, &sel.to_le_bytes());
    }
    h.write_bytes(KCODE, &[0x9A, 0, 0, 0, 0, SEL_TSS_B as u8, 0]);
    h.write_bytes(0x5800, &[0xCF]); // iretd (NT set: task return)
    h.step();
    let s = &h.cpu.state;
    assert_eq!(s.eip, 0x5800);
    assert_eq!(s.regs[reg::EAX as usize], 0xFFFF_1234);
    assert_eq!(s.regs[reg::ESP as usize], 0xFFFF_8800);
    assert_eq!(s.flags(), flag::FIXED | flag::CF | flag::NT);
    assert_eq!(s.segs[sreg::FS as usize].selector, 0);
    assert_eq!(h.read16(TSS_B), u32::from(SEL_TSS_A), "back link");
    assert_eq!(h.read64(GDT + 0x38) >> 40 & 0xF, 3, "busy 16-bit TSS");
    h.step();
    let s = &h.cpu.state;
    assert_eq!((s.eip, s.tr.selector), (KCODE + 7, u32::from(SEL_TSS_A)));
    assert_eq!(s.regs[reg::ESP as usize], KSTACK);
    assert_eq!(
        h.read16(TSS_B + 0x0E),
        0x5801,
        "outgoing IP saved in the 16-bit TSS"
    );
    assert_eq!(h.read64(GDT + 0x38) >> 40 & 0xF, 1, "available again");
}
