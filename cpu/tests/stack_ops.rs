//! PUSH/POP, PUSHA/POPA, PUSHF/POPF, ENTER and LEAVE: results, stack pointer handling on 16-
//! and 32-bit stacks, privilege rules and fault atomicity.

mod machine;

use machine::flow::{data_segment, Machine, CODE, PTE_P, PTE_US};
use webx86_cpu::fault::vector;
use webx86_cpu::state::{flag, reg, sreg};
use webx86_cpu::Fault;

/// SS with a 16-bit stack (B = 0), base 0, 1 MiB limit.
fn stack16(m: &mut Machine) {
    m.cpu.state.segs[sreg::SS as usize] = data_segment(0x18, 0, 0xF_FFFF, false);
}

#[test]
fn push_pop_registers_32bit_stack() {
    let mut m = Machine::flat32();
    m.set(reg::EBX, 0x1234_5678);
    m.step(&[0x53]).unwrap(); // push ebx
    assert_eq!(m.esp(), 0x7FFFC);
    assert_eq!(m.read32(0x7FFFC), 0x1234_5678);
    m.step(&[0x66, 0x53]).unwrap(); // push bx
    assert_eq!(m.esp(), 0x7FFFA);
    assert_eq!(m.read16(0x7FFFA), 0x5678);
    m.step(&[0x66, 0x59]).unwrap(); // pop cx
    assert_eq!(m.reg(reg::ECX) & 0xFFFF, 0x5678);
    m.set(reg::EDX, 0xFFFF_FFFF);
    m.step(&[0x5A]).unwrap(); // pop edx
    assert_eq!(m.reg(reg::EDX), 0x1234_5678);
    assert_eq!(m.esp(), 0x80000);
}

#[test]
fn push_pop_on_16bit_stack_uses_sp_only() {
    let mut m = Machine::flat32();
    stack16(&mut m);
    m.set(reg::ESP, 0x0002_0000); // SP = 0: the push wraps to SP = 0xFFFC
    m.set(reg::EAX, 0xCAFE_BABE);
    m.step(&[0x50]).unwrap(); // push eax
    assert_eq!(m.esp(), 0x0002_FFFC, "upper half of ESP kept, SP wrapped");
    assert_eq!(
        m.read32(0xFFFC),
        0xCAFE_BABE,
        "written at SS:SP, not SS:ESP"
    );
    m.step(&[0x5B]).unwrap(); // pop ebx
    assert_eq!(m.reg(reg::EBX), 0xCAFE_BABE);
    assert_eq!(m.esp(), 0x0002_0000);
}

#[test]
fn push_esp_pushes_old_value_and_pop_esp_loads() {
    let mut m = Machine::flat32();
    m.step(&[0x54]).unwrap(); // push esp
    assert_eq!(m.read32(0x7FFFC), 0x80000);
    m.write32(0x7FFFC, 0x0006_0000);
    m.step(&[0x5C]).unwrap(); // pop esp
    assert_eq!(m.esp(), 0x0006_0000);
    // 16-bit: pop sp loads SP with the popped word after the increment.
    m.set(reg::ESP, 0x0005_0000);
    m.write16(0x4FFFE, 0xBEEF);
    m.set(reg::ESP, 0x0004_FFFE);
    m.step(&[0x66, 0x5C]).unwrap(); // pop sp
    assert_eq!(
        m.esp(),
        0x0005_BEEF,
        "SP replaced after ESP moved to 0x50000"
    );
}

#[test]
fn push_segment_register_32bit_writes_16_bits() {
    let mut m = Machine::flat32();
    m.write32(0x7FFFC, 0xDEAD_BEEF);
    m.cpu.state.segs[sreg::DS as usize].selector = 0x1234;
    m.step(&[0x1E]).unwrap(); // push ds (o32)
    assert_eq!(m.esp(), 0x7FFFC);
    assert_eq!(
        m.read32(0x7FFFC),
        0xDEAD_1234,
        "upper half of the slot untouched"
    );
    m.cpu.state.segs[sreg::GS as usize].selector = 0x5678;
    m.step(&[0x66, 0x0F, 0xA8]).unwrap(); // push gs (o16)
    assert_eq!(m.esp(), 0x7FFFA);
    assert_eq!(m.read16(0x7FFFA), 0x5678);
    m.step(&[0x0E]).unwrap(); // push cs
    assert_eq!(m.read16(0x7FFF6), 0x08);
}

#[test]
fn push_imm_sign_extends_imm8() {
    let mut m = Machine::flat32();
    m.step(&[0x6A, 0x81]).unwrap(); // push -127 (o32)
    assert_eq!(m.read32(0x7FFFC), 0xFFFF_FF81);
    m.write32(0x7FFF8, 0xDEAD_BEEF);
    m.step(&[0x66, 0x6A, 0x81]).unwrap(); // o16 push -127
    assert_eq!(m.esp(), 0x7FFFA);
    assert_eq!(m.read32(0x7FFF8), 0xFF81_BEEF);
    m.step(&[0x68, 0x44, 0x33, 0x22, 0x11]).unwrap();
    assert_eq!(m.read32(m.esp()), 0x1122_3344);
}

#[test]
fn push_and_pop_memory() {
    let mut m = Machine::flat32();
    m.write32(0x3000, 0x1122_3344);
    m.step(&[0xFF, 0x35, 0x00, 0x30, 0x00, 0x00]).unwrap(); // push dword [0x3000]
    assert_eq!(m.read32(0x7FFFC), 0x1122_3344);
    m.step(&[0x8F, 0x05, 0x00, 0x40, 0x00, 0x00]).unwrap(); // pop dword [0x4000]
    assert_eq!(m.read32(0x4000), 0x1122_3344);
    assert_eq!(m.esp(), 0x80000);
    // pop word [0x4000] leaves the upper half.
    m.step(&[0x66, 0x6A, 0x55]).unwrap();
    m.step(&[0x66, 0x8F, 0x05, 0x00, 0x40, 0x00, 0x00]).unwrap();
    assert_eq!(m.read32(0x4000), 0x1122_0055);
}

#[test]
fn pop_to_esp_based_memory_uses_incremented_esp() {
    let mut m = Machine::flat32();
    m.write32(0x7FFFC, 0xAABB_CCDD);
    m.set(reg::ESP, 0x7FFFC);
    m.step(&[0x8F, 0x04, 0x24]).unwrap(); // pop dword [esp]
    assert_eq!(m.esp(), 0x80000);
    assert_eq!(m.read32(0x80000), 0xAABB_CCDD, "stored at the new ESP");
}

#[test]
fn pop_memory_fault_leaves_esp() {
    let mut m = Machine::flat32();
    m.cpu.state.segs[sreg::DS as usize] = data_segment(0x10, 0, 0xFFF, true);
    m.set(reg::ESP, 0x7FFFC);
    let r = m.step(&[0x8F, 0x05, 0x00, 0x20, 0x00, 0x00]); // pop dword [0x2000] beyond DS limit
    assert_eq!(r, Err(Fault::GP0));
    assert_eq!(m.esp(), 0x7FFFC);
}

#[test]
fn push_fault_leaves_esp_unchanged() {
    let mut m = Machine::flat32();
    m.enable_paging();
    m.set_pte_flags(0x7F000, 0); // the page below ESP is not present
    m.set(reg::ESP, 0x80000);
    let r = m.step(&[0x50]);
    assert_eq!(r, Err(Fault::with_code(vector::PF, 2)));
    assert_eq!(m.cpu.state.cr2, 0x7FFFC);
    assert_eq!(m.esp(), 0x80000);
    // #SS at the stack limit.
    let mut m = Machine::flat32();
    m.cpu.state.segs[sreg::SS as usize] = data_segment(0x18, 0, 0xFFFF, true);
    m.set(reg::ESP, 0x2);
    assert_eq!(m.step(&[0x50]), Err(Fault::ss(0)));
    assert_eq!(m.esp(), 0x2);
}

#[test]
fn pusha_popa_32_and_16() {
    let mut m = Machine::flat32();
    for r in 0..8u8 {
        if r != reg::ESP {
            m.set(r, 0x1111_1111 * (u32::from(r) + 1));
        }
    }
    m.step(&[0x60]).unwrap(); // pushad
    assert_eq!(m.esp(), 0x80000 - 32);
    let expect = [
        0x1111_1111,
        0x2222_2222,
        0x3333_3333,
        0x4444_4444,
        0x80000,
        0x6666_6666,
        0x7777_7777,
        0x8888_8888,
    ];
    for (n, &v) in expect.iter().enumerate() {
        assert_eq!(m.read32(0x80000 - 4 - 4 * n as u32), v, "slot {n}");
    }
    m.write32(0x80000 - 20, 0xDEAD_BEEF); // the saved ESP slot is ignored by POPAD
    for r in 0..8u8 {
        if r != reg::ESP {
            m.set(r, 0);
        }
    }
    m.step(&[0x61]).unwrap(); // popad
    assert_eq!(m.esp(), 0x80000);
    for r in 0..8u8 {
        if r != reg::ESP {
            assert_eq!(m.reg(r), expect[r as usize], "reg {r}");
        }
    }
    // 16-bit forms touch only the low halves.
    m.set(reg::EAX, 0xAAAA_0001);
    m.step(&[0x66, 0x60]).unwrap();
    assert_eq!(m.esp(), 0x80000 - 16);
    assert_eq!(m.read16(0x80000 - 2), 0x0001);
    assert_eq!(m.read16(0x80000 - 10), 0x0000, "SP before the push");
    m.write16(0x80000 - 2, 0x0002);
    m.step(&[0x66, 0x61]).unwrap();
    assert_eq!(m.reg(reg::EAX), 0xAAAA_0002);
    assert_eq!(m.esp(), 0x80000);
}

#[test]
fn pusha_fault_leaves_stack_and_esp_untouched() {
    let mut m = Machine::flat32();
    m.enable_paging();
    m.set_pte_flags(0x7F000, 0);
    m.set(reg::ESP, 0x80010); // four slots in the present page, four below it
    m.write32(0x8000C, 0x5A5A_5A5A);
    let r = m.step(&[0x60]);
    assert_eq!(r.map_err(|f| f.vector()), Err(vector::PF));
    assert_eq!(m.esp(), 0x80010);
    assert_eq!(m.read32(0x8000C), 0x5A5A_5A5A, "no slot written");
}

#[test]
fn pushf_image_and_popf_at_cpl0() {
    let mut m = Machine::flat32();
    m.cpu.state.eflags = flag::FIXED | flag::RF | flag::IF | flag::CF;
    m.step(&[0x9C]).unwrap(); // pushfd
    assert_eq!(
        m.read32(m.esp()),
        flag::FIXED | flag::IF | flag::CF,
        "RF not pushed"
    );
    // POPFD at CPL 0: IOPL, IF, NT, AC, ID changeable; VM, VIF, VIP never set; RF cleared.
    let all = 0xFFFF_FFFF;
    m.write32(m.esp(), all);
    m.step(&[0x9D]).unwrap();
    let f = m.cpu.state.flags();
    assert_eq!(
        f,
        flag::FIXED
            | flag::ARITH
            | flag::TF
            | flag::IF
            | flag::DF
            | flag::IOPL
            | flag::NT
            | flag::AC
            | flag::ID
    );
    // 16-bit POPF leaves bits 31:16.
    m.step(&[0x66, 0x6A, 0x00]).unwrap();
    m.step(&[0x66, 0x9D]).unwrap();
    assert_eq!(m.cpu.state.flags(), flag::FIXED | flag::AC | flag::ID);
}

#[test]
fn popf_privilege_rules_at_cpl3() {
    let mut m = Machine::flat32();
    m.to_ring3();
    // IOPL 0 < CPL 3: neither IF nor IOPL change.
    m.cpu.state.eflags = flag::FIXED;
    m.write32(0x7FFFC, flag::IF | flag::IOPL | flag::CF | flag::VM);
    m.set(reg::ESP, 0x7FFFC);
    m.step(&[0x9D]).unwrap();
    assert_eq!(m.cpu.state.flags(), flag::FIXED | flag::CF);
    // IOPL 3 = CPL: IF changes, IOPL still does not.
    m.cpu.state.eflags = flag::FIXED | flag::IOPL;
    m.write32(0x7FFFC, flag::IF);
    m.set(reg::ESP, 0x7FFFC);
    m.step(&[0x9D]).unwrap();
    assert_eq!(m.cpu.state.flags(), flag::FIXED | flag::IOPL | flag::IF);
}

#[test]
fn popf_and_pushf_in_v86_mode() {
    let mut m = Machine::flat32();
    m.to_v86(0);
    let esp = m.esp();
    assert_eq!(m.step(&[0x9C]), Err(Fault::GP0), "PUSHF at IOPL 0");
    assert_eq!(m.step(&[0x9D]), Err(Fault::GP0), "POPF at IOPL 0");
    assert_eq!(m.step(&[0x66, 0x9D]), Err(Fault::GP0), "POPFD at IOPL 0");
    assert_eq!(m.esp(), esp);
    m.to_v86(3);
    m.step(&[0x66, 0x9C]).unwrap(); // pushfd: VM is not in the image
    let sp = m.esp() & 0xFFFF;
    assert_eq!(m.read32(sp) & flag::VM, 0);
    assert_eq!(m.read32(sp) & flag::IOPL, flag::IOPL);
    m.write32(sp, flag::IF | flag::DF); // IOPL 0 in the image: IOPL must stay 3
    m.step(&[0x66, 0x9D]).unwrap();
    let f = m.cpu.state.flags();
    assert_eq!(f, flag::FIXED | flag::VM | flag::IOPL | flag::IF | flag::DF);
}

#[test]
fn popf_in_real_mode_changes_iopl_and_if() {
    let mut m = Machine::real();
    m.write16(0xFFF0, flag::IOPL | flag::IF | flag::NT | flag::ZF);
    m.step(&[0x9D]).unwrap();
    assert_eq!(
        m.cpu.state.flags(),
        flag::FIXED | flag::IOPL | flag::IF | flag::NT | flag::ZF
    );
    assert_eq!(m.esp(), 0xFFF2);
}

/// The frame ENTER should build, computed the way SDM vol. 2A ENTER describes it, on a plain
/// byte array standing for the stack segment (`stack32` picks ESP/EBP or SP/BP arithmetic).
fn enter_model(
    mem: &mut [u8],
    esp: &mut u32,
    ebp: &mut u32,
    size: u32,
    stack32: bool,
    alloc: u32,
    level: u32,
) {
    let wrap = |v: u32| if stack32 { v } else { v & 0xFFFF };
    let push = |mem: &mut [u8], esp: &mut u32, value: u32| {
        let sp = wrap(esp.wrapping_sub(size));
        *esp = if stack32 {
            sp
        } else {
            (*esp & 0xFFFF_0000) | sp
        };
        mem[sp as usize..(sp + size) as usize]
            .copy_from_slice(&value.to_le_bytes()[..size as usize]);
    };
    let read = |mem: &[u8], at: u32| {
        let mut b = [0u8; 4];
        b[..size as usize].copy_from_slice(&mem[at as usize..(at + size) as usize]);
        u32::from_le_bytes(b)
    };
    let level = level % 32;
    let opmask = if size == 2 { 0xFFFF } else { u32::MAX };
    push(mem, esp, *ebp & opmask);
    let frame_temp = *esp & opmask;
    let mut walk = *ebp;
    if level > 0 {
        for _ in 1..level {
            walk = if stack32 {
                walk.wrapping_sub(size)
            } else {
                (walk & 0xFFFF_0000) | (walk.wrapping_sub(size) & 0xFFFF)
            };
            let v = read(mem, wrap(walk));
            push(mem, esp, v);
        }
        push(mem, esp, frame_temp);
    }
    *ebp = (*ebp & !opmask) | frame_temp;
    let sp = wrap(wrap(*esp).wrapping_sub(alloc));
    *esp = if stack32 {
        sp
    } else {
        (*esp & 0xFFFF_0000) | sp
    };
}

#[test]
fn enter_matches_the_sdm_algorithm() {
    for &stack32 in &[false, true] {
        for &size in &[2u32, 4] {
            for &level in &[0u32, 1, 2, 4, 36] {
                let mut m = Machine::flat32();
                // Stack segment at 0x100000 so offsets index a model array directly.
                let base = 0x10_0000;
                m.cpu.state.segs[sreg::SS as usize] = data_segment(0x18, base, 0xF_FFFF, stack32);
                let (esp0, ebp0) = if stack32 {
                    (0x0001_0000, 0x0001_0800)
                } else {
                    (0x0003_1000, 0x0005_1800)
                };
                let mut mem = vec![0u8; 0x2_0000];
                for (n, b) in mem.iter_mut().enumerate() {
                    *b = (n * 7 + 3) as u8;
                }
                m.write_bytes(base, &mem);
                m.set(reg::ESP, esp0);
                m.set(reg::EBP, ebp0);
                let alloc = 0x123;
                let mut code = vec![];
                if size == 2 {
                    code.push(0x66);
                }
                code.extend_from_slice(&[0xC8, 0x23, 0x01, level as u8]);
                m.step(&code).unwrap();
                let (mut esp, mut ebp) = (esp0, ebp0);
                enter_model(&mut mem, &mut esp, &mut ebp, size, stack32, alloc, level);
                let what = format!("stack32={stack32} size={size} level={level}");
                assert_eq!(m.esp(), esp, "ESP {what}");
                assert_eq!(m.reg(reg::EBP), ebp, "EBP {what}");
                assert_eq!(m.read_bytes(base, mem.len()), mem, "stack {what}");
            }
        }
    }
}

#[test]
fn enter_final_write_fault_changes_nothing() {
    // test386 POST 1A: at CPL 3, ENTER whose stack is a supervisor page faults, and neither
    // ESP, EBP nor memory change.
    let mut m = Machine::flat32();
    m.enable_paging();
    m.to_ring3();
    m.set_pte_flags(0x5000, PTE_P); // supervisor, read-only
    m.set(reg::ESP, 0x6008);
    m.set(reg::EBP, 0x6100);
    m.write32(0x6004, 0x1111_1111);
    // enter 0x10, 0: the push of EBP (0x6004) is fine; the final ESP 0x5FF4 is not writable.
    let r = m.step(&[0xC8, 0x10, 0x00, 0x00]);
    assert_eq!(r, Err(Fault::with_code(vector::PF, 7)));
    assert_eq!(m.cpu.state.cr2, 0x5FF4);
    assert_eq!(m.esp(), 0x6008);
    assert_eq!(m.reg(reg::EBP), 0x6100);
    assert_eq!(m.read32(0x6004), 0x1111_1111, "EBP was not pushed");
    // The same with the frame in a user page succeeds.
    m.set_pte_flags(0x5000, PTE_P | PTE_US | 2);
    m.step(&[0xC8, 0x10, 0x00, 0x00]).unwrap();
    assert_eq!(m.esp(), 0x5FF4);
    assert_eq!(m.reg(reg::EBP), 0x6004);
    assert_eq!(m.read32(0x6004), 0x6100);
}

#[test]
fn leave_16_and_32() {
    // test386 POST 1B: LEAVE copies EBP to ESP by the stack size, pops by the operand size.
    for &(o16, stack32, esp, ebp) in &[
        (true, false, 0x0000_0006u32, 0x0001_5678u32),
        (true, true, 0x0001_0006, 0x0001_5678),
        (false, false, 0x0000_0008, 0x1234_5678),
        (false, true, 0x0001_0008, 0x1234_5678),
    ] {
        let mut m = Machine::flat32();
        m.cpu.state.segs[sreg::SS as usize] = data_segment(0x18, 0x20_0000, 0xF_FFFF, stack32);
        m.set(reg::ESP, 0x10008);
        m.step(&[0x68, 0x78, 0x56, 0x34, 0x12]).unwrap();
        m.set(reg::EBP, m.esp());
        m.set(reg::ESP, 0);
        m.step(if o16 { &[0x66, 0xC9] } else { &[0xC9] }).unwrap();
        assert_eq!(
            (m.esp(), m.reg(reg::EBP)),
            (esp, ebp),
            "o16={o16} stack32={stack32}"
        );
    }
}

#[test]
fn leave_fault_leaves_esp() {
    let mut m = Machine::flat32();
    m.cpu.state.segs[sreg::SS as usize] = data_segment(0x18, 0, 0xFFFF, true);
    m.set(reg::EBP, 0x1_0000);
    m.set(reg::ESP, 0x100);
    assert_eq!(m.step(&[0xC9]), Err(Fault::ss(0)));
    assert_eq!(m.esp(), 0x100);
    let _ = CODE;
}

#[test]
fn enter_nested_frame_read_fault_changes_nothing() {
    let mut m = Machine::flat32();
    m.enable_paging();
    m.set_pte_flags(0x30_0000, 0); // the old frame's page is not present
    m.set(reg::ESP, 0x8_0000);
    m.set(reg::EBP, 0x30_0010);
    m.write32(0x7_FFFC, 0x4444_4444);
    let r = m.step(&[0xC8, 0x08, 0x00, 0x03]); // enter 8, 3: reads [ebp-4], [ebp-8]
    assert_eq!(r, Err(Fault::with_code(vector::PF, 0)));
    assert_eq!(m.cpu.state.cr2, 0x30_000C);
    assert_eq!((m.esp(), m.reg(reg::EBP)), (0x8_0000, 0x30_0010));
    assert_eq!(m.read32(0x7_FFFC), 0x4444_4444, "EBP not pushed");
}
