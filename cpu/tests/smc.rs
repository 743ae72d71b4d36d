//! Self-modifying code (issue 3, acceptance 3): a store into code that is already decoded must
//! take effect before that code runs again, as on a P6, which snoops stores against its
//! prefetched and in-flight instructions (SDM vol. 3A §8.1.3): patching the very next
//! instruction, an instruction further on in the same decoded block, code of a block that ran
//! before (a loop), an instruction that straddles a page boundary, and code written through a
//! second linear mapping of the same physical page. Each program ends in `jmp $`; the test runs
//! a bounded budget and checks where the CPU stopped and the registers the patched code left.
//!
//! The code is hand-assembled; every byte is explained beside it.

mod bare_machine;

use bare_machine::{enter_protected_mode, enter_real_mode, new_cpu, poke, poke32, ProtectedSetup};
use webx86_cpu::state::reg;
use webx86_cpu::{Cpu, RunExit};

/// Real-mode programs sit at 0000:1000; every exception vector leads to a `jmp $` at 0000:0600.
const CODE: u16 = 0x1000;
const FAULT_HANDLER: u16 = 0x0600;

fn real_mode_cpu(code_at: u16, code: &[u8]) -> Cpu {
    let mut cpu = new_cpu(1 << 20);
    enter_real_mode(&mut cpu, 0, code_at, 0, 0x8000, Some(FAULT_HANDLER));
    poke(&mut cpu, u32::from(FAULT_HANDLER), &[0xEB, 0xFE]); // jmp $
    poke(&mut cpu, u32::from(code_at), code);
    cpu
}

/// Runs until the program spins in its final `jmp $` at `stop`.
fn run_to(cpu: &mut Cpu, stop: u32) {
    let exit = cpu.run(10_000);
    assert_eq!(exit, RunExit::Budget, "the CPU stopped early");
    assert_ne!(
        cpu.state.eip,
        u32::from(FAULT_HANDLER),
        "an exception was raised (EIP is at the fault handler)"
    );
    assert_eq!(
        cpu.state.eip, stop,
        "the program did not reach its final `jmp $`"
    );
}

fn reg16(cpu: &Cpu, r: u8) -> u32 {
    cpu.state.reg::<2>(r)
}

#[test]
fn patching_the_next_instruction() {
    #[rustfmt::skip]
    let code = [
        0xC6, 0x06, 0x06, 0x10, 0x42, // 1000: mov byte [0x1006], 0x42 (C6 /0, ModRM 06 = [disp16])
        0xB0, 0x00,                   // 1005: mov al, 0x00 -- its immediate (1006) becomes 0x42
        0xEB, 0xFE,                   // 1007: jmp $
    ];
    let mut cpu = real_mode_cpu(CODE, &code);
    run_to(&mut cpu, 0x1007);
    assert_eq!(
        cpu.state.reg::<1>(reg::EAX),
        0x42,
        "AL: the old `mov al, 0` ran"
    );
}

#[test]
fn patching_an_opcode_later_in_the_same_block() {
    #[rustfmt::skip]
    let code = [
        0xB8, 0x0A, 0x00,             // 1000: mov ax, 10
        0xBB, 0x03, 0x00,             // 1003: mov bx, 3
        0xC6, 0x06, 0x10, 0x10, 0x29, // 1006: mov byte [0x1010], 0x29 -- ADD r/m16,r16 (01) -> SUB (29)
        0xB9, 0x07, 0x00,             // 100B: mov cx, 7 (an unpatched instruction in between)
        0x01, 0xC9,                   // 100E: add cx, cx (ModRM C9: reg=CX, rm=CX)
        0x01, 0xD8,                   // 1010: add ax, bx (ModRM D8: reg=BX, rm=AX), patched to sub ax, bx
        0xEB, 0xFE,                   // 1012: jmp $
    ];
    let mut cpu = real_mode_cpu(CODE, &code);
    run_to(&mut cpu, 0x1012);
    assert_eq!(
        reg16(&cpu, reg::EAX),
        7,
        "AX: 10 - 3 unless the old ADD ran"
    );
    assert_eq!(reg16(&cpu, reg::ECX), 14, "CX");
    assert!(!cpu.state.cf(), "CF of 10 - 3");
    assert!(!cpu.state.zf(), "ZF of 10 - 3");
}

#[test]
fn patching_code_that_already_ran() {
    // The loop body starts a block of its own (the `jmp` before it ends the first block), so
    // the second pass re-enters the very block the first pass decoded and patched.
    #[rustfmt::skip]
    let code = [
        0x31, 0xC0,                   // 1000: xor ax, ax
        0xB9, 0x02, 0x00,             // 1002: mov cx, 2
        0xEB, 0x00,                   // 1005: jmp loop (rel8 0: the next instruction)
        0x05, 0x01, 0x00,             // 1007: loop: add ax, 1 (05 iw) -- immediate at 1008
        0xC6, 0x06, 0x08, 0x10, 0x10, // 100A: mov byte [0x1008], 0x10 -- next pass adds 0x10
        0x83, 0xE9, 0x01,             // 100F: sub cx, 1 (83 /5 ib)
        0x75, 0xF3,                   // 1012: jnz loop (0x1007 - 0x1014 = -13 = F3)
        0xEB, 0xFE,                   // 1014: jmp $
    ];
    let mut cpu = real_mode_cpu(CODE, &code);
    run_to(&mut cpu, 0x1014);
    assert_eq!(reg16(&cpu, reg::EAX), 0x11, "AX: 1 then 0x10");
    assert_eq!(reg16(&cpu, reg::ECX), 0, "CX");
}

#[test]
fn patching_an_instruction_that_straddles_a_page_boundary() {
    #[rustfmt::skip]
    let code = [
        0x31, 0xC0,                   // 1FF8: xor ax, ax
        0xB9, 0x02, 0x00,             // 1FFA: mov cx, 2
        0x90,                         // 1FFD: nop
        0x05, 0x01, 0x00,             // 1FFE: loop: add ax, 0x0001 -- bytes 1FFE..2000, high immediate byte on the next page
        0xC6, 0x06, 0x00, 0x20, 0x01, // 2001: mov byte [0x2000], 1 -- next pass adds 0x0101
        0x83, 0xE9, 0x01,             // 2006: sub cx, 1
        0x75, 0xF3,                   // 2009: jnz loop (0x1FFE - 0x200B = -13 = F3)
        0xEB, 0xFE,                   // 200B: jmp $
    ];
    let mut cpu = real_mode_cpu(0x1FF8, &code);
    run_to(&mut cpu, 0x200B);
    assert_eq!(reg16(&cpu, reg::EAX), 0x102, "AX: 1 then 0x101");
}

#[test]
fn patching_through_a_second_mapping_of_the_page() {
    // 32-bit flat protected mode with paging; linear 0x00400000 is mapped (through the spare
    // page table) onto physical 0x10000, where the code also runs at linear 0x10000.
    let setup = ProtectedSetup {
        code32: true,
        base: 0,
        limit: 0xF_FFFF,
        paging: true,
        ring3: false,
        fault_handler: 0x0600,
        stack_top: 0x9000,
    };
    let mut cpu = new_cpu(4 << 20);
    enter_protected_mode(&mut cpu, &setup, 0x10000);
    poke(&mut cpu, 0x0600, &[0xEB, 0xFE]); // fault handler: jmp $
    poke32(
        &mut cpu,
        bare_machine::PAGE_DIR + 4, // PDE 1: linear 4-8 MiB
        bare_machine::SPARE_PAGE_TABLE | 0x7,
    );
    poke32(&mut cpu, bare_machine::SPARE_PAGE_TABLE, 0x10000 | 0x7); // PTE 0 -> 0x10000
    #[rustfmt::skip]
    let code = [
        0xB8, 0x05, 0x00, 0x00, 0x00, // 10000: mov eax, 5
        0xC6, 0x05,                   // 10005: mov byte [disp32], imm8 (C6 /0, ModRM 05 = [disp32])
        0x0E, 0x00, 0x40, 0x00,       //        disp32 = 0x0040000E: the alias of physical 0x1000E
        0x07,                         //        imm8 = 7
        0x83, 0xC0, 0x01,             // 1000C: add eax, 1 (83 /0 ib) -- its immediate (1000E) becomes 7
        0xEB, 0xFE,                   // 1000F: jmp $
    ];
    poke(&mut cpu, 0x10000, &code);
    let exit = cpu.run(10_000);
    assert_eq!(exit, RunExit::Budget, "the CPU stopped early");
    assert_ne!(cpu.state.eip, 0x0600, "an exception was raised");
    assert_eq!(cpu.state.eip, 0x1000F, "did not reach the final `jmp $`");
    assert_eq!(cpu.state.regs[reg::EAX as usize], 12, "EAX: 5 + 7");
}
