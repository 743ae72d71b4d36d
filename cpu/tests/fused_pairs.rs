//! Fused pairs and side exits: a 32-bit ALU operation, TEST, INC or DEC on registers followed
//! by a Jcc runs as one op, and a Jcc with room after it does not end its block (a taken
//! branch leaves it as a side exit). The pair must still behave as two instructions: the same
//! registers, flags and EIP as running them one at a time (which the execution loop does when
//! the instruction budget ends inside a block, so the budget is the oracle), exact retired
//! counts, and a Jcc fault (#GP(0) beyond the CS limit) that reports the Jcc's own address
//! after the first instruction has retired. Pairs inside a block take the side-exit form; a
//! pair that fills a block to its 64-instruction cap ends it, and takes the plain form.
//!
//! Real mode at 0000:1000 with an operand-size prefix for 32-bit operands; every exception
//! vector leads to a `jmp $` at 0000:0600. The code is hand-assembled; every byte is explained.

mod machine;

use machine::tables::{enter_real_mode, new_cpu, poke};
use webx86_cpu::state::{flag, reg, sreg};
use webx86_cpu::{Cpu, RunExit};

const CODE: u16 = 0x1000;
const FAULT_HANDLER: u16 = 0x0600;
const STACK: u16 = 0x8000;

fn cpu_with(code: &[u8]) -> Cpu {
    let mut cpu = new_cpu(1 << 20);
    enter_real_mode(&mut cpu, 0, CODE, 0, STACK, Some(FAULT_HANDLER));
    poke(&mut cpu, u32::from(FAULT_HANDLER), &[0xEB, 0xFE]); // jmp $
    poke(&mut cpu, u32::from(CODE), code);
    cpu
}

/// The first instructions of the pairs under test, each `op ebx, eax` or `op ebx, imm32`
/// (ModRM C3: mod 11, reg EAX (or the /digit), rm EBX).
fn first_instructions(imm: u32) -> Vec<(&'static str, Vec<u8>)> {
    let imm = imm.to_le_bytes();
    let with_imm = |opcode: &[u8]| [&[0x66][..], opcode, &imm].concat();
    vec![
        ("add ebx, eax", vec![0x66, 0x01, 0xC3]),   // 01 /r
        ("or ebx, eax", vec![0x66, 0x09, 0xC3]),    // 09 /r
        ("and ebx, eax", vec![0x66, 0x21, 0xC3]),   // 21 /r
        ("sub ebx, eax", vec![0x66, 0x29, 0xC3]),   // 29 /r
        ("xor ebx, eax", vec![0x66, 0x31, 0xC3]),   // 31 /r
        ("cmp ebx, eax", vec![0x66, 0x39, 0xC3]),   // 39 /r
        ("test ebx, eax", vec![0x66, 0x85, 0xC3]),  // 85 /r
        ("add ebx, imm", with_imm(&[0x81, 0xC3])),  // 81 /0 id
        ("or ebx, imm", with_imm(&[0x81, 0xCB])),   // 81 /1 id
        ("and ebx, imm", with_imm(&[0x81, 0xE3])),  // 81 /4 id
        ("sub ebx, imm", with_imm(&[0x81, 0xEB])),  // 81 /5 id
        ("xor ebx, imm", with_imm(&[0x81, 0xF3])),  // 81 /6 id
        ("cmp ebx, imm", with_imm(&[0x81, 0xFB])),  // 81 /7 id
        ("test ebx, imm", with_imm(&[0xF7, 0xC3])), // F7 /0 id
        ("inc ebx", vec![0x66, 0x43]),              // 40+rd
        ("dec ebx", vec![0x66, 0x4B]),              // 48+rd
    ]
}

/// Everything the pair can change.
fn snapshot(cpu: &Cpu) -> (u32, [u32; 8], u32, u64) {
    (
        cpu.state.eip,
        cpu.state.regs,
        cpu.state.flags(),
        cpu.state.retired,
    )
}

/// Values of EBX and of the other operand (EAX or the immediate).
const VALUES: [(u32, u32); 8] = [
    (0, 0),
    (1, 2),
    (5, 5),
    (0x7FFF_FFFF, 1),
    (0x8000_0000, 1),
    (0xFFFF_FFFF, 1),
    (0x8000_0000, 0x7FFF_FFFF),
    (0x0000_0080, 0xFFFF_FF80),
];

/// Runs `padding` NOPs, then each first instruction and each Jcc with the `values`, once with
/// a budget that covers the whole block and once one instruction at a time, and checks both
/// end in the same state. Returns how many branches were taken.
fn check_pairs(cpu: &mut Cpu, padding: usize, values: &[(u32, u32)]) -> usize {
    let start = cpu.state;
    let mut taken = 0;
    for &(ebx, other) in values {
        for (name, first) in first_instructions(other) {
            for cc in 0..16u8 {
                for carry in [false, true] {
                    // NOPs; first; jcc +0x10; then a `jmp $` where each path ends.
                    let mut code = vec![0x90; padding];
                    code.extend_from_slice(&first);
                    code.extend_from_slice(&[0x70 + cc, 0x10]);
                    let fall = u32::from(CODE) + code.len() as u32;
                    let mut run = |budgets: &[u64]| {
                        cpu.state = start;
                        poke(cpu, u32::from(CODE), &code);
                        poke(cpu, fall, &[0xEB, 0xFE]); // jmp $ (not taken)
                        poke(cpu, fall + 0x10, &[0xEB, 0xFE]); // jmp $ (taken)
                        cpu.state.regs[reg::EBX as usize] = ebx;
                        cpu.state.regs[reg::EAX as usize] = other;
                        if carry {
                            cpu.state.eflags |= flag::CF;
                        }
                        for &budget in budgets {
                            assert_eq!(cpu.run(budget), RunExit::Budget);
                        }
                        snapshot(cpu)
                    };
                    // The NOPs, the pair and one `jmp $`.
                    let all = padding as u64 + 3;
                    let whole = run(&[all]);
                    let one_by_one = run(&vec![1; all as usize]);
                    let what =
                        format!("{name} (ebx {ebx:#x}, other {other:#x}, CF {carry}); j{cc:x}");
                    assert_eq!(whole, one_by_one, "{what}");
                    assert_eq!(whole.3, all, "{what}: retired");
                    assert!(whole.0 == fall || whole.0 == fall + 0x10, "{what}: EIP");
                    taken += usize::from(whole.0 == fall + 0x10);
                }
            }
        }
    }
    taken
}

#[test]
fn a_fused_pair_matches_its_two_instructions_run_one_at_a_time() {
    // One CPU for all cases (a fresh one each is slow in debug builds): its state is put back
    // and the code rewritten (which drops the decoded blocks) before every run.
    let mut cpu = cpu_with(&[]);
    let taken = check_pairs(&mut cpu, 0, &VALUES);
    // Both outcomes occur (every condition and its negation are tried on the same values).
    assert_eq!(taken * 2, VALUES.len() * 16 * 16 * 2);
}

#[test]
fn a_fused_pair_that_fills_a_block_ends_it() {
    // 62 NOPs, then the pair as instructions 63 and 64 of the block.
    let mut cpu = cpu_with(&[]);
    let taken = check_pairs(&mut cpu, 62, &VALUES[1..3]);
    assert_eq!(taken * 2, 2 * 16 * 16 * 2);
}

#[test]
fn a_jcc_fault_in_a_fused_pair_reports_the_jcc_after_the_first_instruction() {
    #[rustfmt::skip]
    let code = [
        0x66, 0x39, 0xC3, // 1000: cmp ebx, eax (39 /r, ModRM C3: reg EAX, rm EBX)
        0x72, 0x40,       // 1003: jb +0x40 → 1045, beyond the CS limit of 0x1010
    ];
    let mut cpu = cpu_with(&code);
    cpu.state.segs[sreg::CS as usize].limit = 0x1010;
    cpu.state.regs[reg::EBX as usize] = 1;
    cpu.state.regs[reg::EAX as usize] = 2;
    // The CMP retires; the Jcc's #GP is delivered (a delivery counts as one instruction).
    assert_eq!(cpu.run(2), RunExit::Budget);
    assert_eq!(cpu.state.retired, 2, "retired: the CMP and the delivery");
    assert_eq!(cpu.state.eip, u32::from(FAULT_HANDLER), "#GP was delivered");
    let sp = cpu.state.regs[reg::ESP as usize];
    assert_eq!(sp, u32::from(STACK) - 6, "FLAGS, CS and IP were pushed");
    let mut frame = [0u8; 6];
    cpu.mmu
        .phys
        .read_bytes(webx86_cpu::mmu::PhysAddr(sp), &mut frame);
    assert_eq!(
        u16::from_le_bytes([frame[0], frame[1]]),
        0x1003,
        "the pushed IP is the Jcc's"
    );
    let pushed_flags = u32::from(u16::from_le_bytes([frame[4], frame[5]]));
    assert_eq!(
        pushed_flags & flag::ARITH,
        flag::CF | flag::SF | flag::AF | flag::PF,
        "the pushed FLAGS are the CMP's (1 - 2)"
    );
}

#[test]
fn budgets_ending_inside_a_loop_of_fused_pairs_stop_at_the_exact_instruction() {
    #[rustfmt::skip]
    let code = [
        0x66, 0xB9, 0x05, 0x00, 0x00, 0x00, // 1000: mov ecx, 5
        0x66, 0x49,                         // 1006: dec ecx
        0x75, 0xFC,                         // 1008: jnz 1006
        0xEB, 0xFE,                         // 100A: jmp $
    ];
    // After the MOV, each pass retires DEC and JNZ: 1 + 2k instructions leave EIP at the DEC
    // (k < 5) or at `jmp $` (k = 5); one more leaves it at the JNZ.
    for budget in 1..=11u64 {
        let mut cpu = cpu_with(&code);
        assert_eq!(cpu.run(budget), RunExit::Budget);
        assert_eq!(cpu.state.retired, budget);
        let passes = (budget - 1) / 2;
        let (eip, ecx) = if budget % 2 == 0 {
            (0x1008, 4 - passes as u32)
        } else if passes < 5 {
            (0x1006, 5 - passes as u32)
        } else {
            (0x100A, 0)
        };
        assert_eq!(cpu.state.eip, eip, "EIP after {budget} instructions");
        assert_eq!(
            cpu.state.regs[reg::ECX as usize],
            ecx,
            "ECX after {budget} instructions"
        );
    }
}
