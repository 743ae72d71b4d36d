//! The machine loop with tiny real-mode guests: interrupts from the PIT with the clock skipping
//! idle time, power-off by HLT with interrupts disabled, reset and A20 requests from ports.

use std::cell::Cell;
use std::rc::Rc;

use webx86_cpu::state::{sreg, Segment};

use super::*;

/// A deterministic machine with `code` at 0000:1000 and the CPU in real mode there.
fn machine_with(code: &[u8], clock: Clock) -> Machine {
    let mut machine = Machine::new(MachineConfig::default(), clock);
    let cpu = machine.cpu_mut();
    cpu.mmu
        .phys
        .write_bytes(webx86_cpu::mmu::PhysAddr(0x1000), code);
    cpu.state.segs[sreg::CS as usize] = Segment::real_mode(0);
    cpu.state.eip = 0x1000;
    machine
}

/// Runs slices until one does not end with `Ran`.
fn run_to_end(machine: &mut Machine) -> SliceEnd {
    for _ in 0..100_000 {
        match machine.run_slice() {
            SliceEnd::Ran => {}
            end => return end,
        }
    }
    panic!("the guest never stopped");
}

/// Programs the PIC (vectors 8-15, only IRQ 0 unmasked) and PIT channel 0 (mode 2, 10 ms),
/// then halts until the IRQ 0 handler at 0000:2000 has counted five ticks at 0000:0500, and
/// ends with CLI; HLT.
const TIMER_GUEST: &[u8] = &[
    0xB0, 0x11, 0xE6, 0x20, // ICW1: edge, cascade, ICW4
    0xB0, 0x08, 0xE6, 0x21, // ICW2: vector base 8
    0xB0, 0x04, 0xE6, 0x21, // ICW3: slave on IR2
    0xB0, 0x01, 0xE6, 0x21, // ICW4: 8086 mode
    0xB0, 0xFE, 0xE6, 0x21, // OCW1: only IRQ 0
    0xB0, 0x34, 0xE6, 0x43, // PIT channel 0, LSB then MSB, mode 2
    0xB0, 0x9C, 0xE6, 0x40, // 11932 ticks of 1.193182 MHz = 10 ms
    0xB0, 0x2E, 0xE6, 0x40, //
    0xFB, // STI
    0xF4, // wait: HLT
    0x80, 0x3E, 0x00, 0x05, 0x05, // CMP BYTE [0500], 5
    0x72, 0xF8, // JB wait
    0xFA, 0xF4, // CLI; HLT
];
/// IRQ 0 handler: INC BYTE [0500]; EOI; IRET.
const TIMER_HANDLER: &[u8] = &[0xFE, 0x06, 0x00, 0x05, 0xB0, 0x20, 0xE6, 0x20, 0xCF];

fn timer_machine(clock: Clock) -> Machine {
    let mut machine = machine_with(TIMER_GUEST, clock);
    let phys = &mut machine.cpu_mut().mmu.phys;
    phys.write_bytes(webx86_cpu::mmu::PhysAddr(0x2000), TIMER_HANDLER);
    // IVT entry 8: 0000:2000.
    phys.write_bytes(webx86_cpu::mmu::PhysAddr(8 * 4), &[0x00, 0x20, 0x00, 0x00]);
    machine
}

#[test]
fn timer_interrupts_wake_a_halted_cpu_and_idle_time_is_skipped() {
    let mut machine = timer_machine(Clock::deterministic());
    assert_eq!(run_to_end(&mut machine), SliceEnd::PoweredOff);
    assert_eq!(
        machine
            .cpu_mut()
            .mmu
            .phys
            .read(webx86_cpu::mmu::PhysAddr(0x500), 1),
        5
    );
    // Five 10 ms periods of guest time passed, in a few hundred instructions.
    let now = machine.now();
    assert!(
        (50_000_000..50_100_000).contains(&now),
        "guest time {now} ns"
    );
    assert!(
        machine.retired() < 1_000,
        "{} instructions",
        machine.retired()
    );
}

#[test]
fn deterministic_runs_repeat_exactly() {
    let run = || {
        let mut machine = timer_machine(Clock::deterministic());
        run_to_end(&mut machine);
        (machine.retired(), machine.now())
    };
    assert_eq!(run(), run());
}

struct FakeHost(Rc<Cell<u64>>);

impl HostClock for FakeHost {
    fn now_ns(&mut self) -> u64 {
        self.0.get()
    }
}

#[test]
fn realtime_idle_reports_when_the_next_event_is_due() {
    let host = Rc::new(Cell::new(0));
    let mut machine = timer_machine(Clock::realtime(Box::new(FakeHost(host.clone()))));
    // The guest programs the timer and halts; host time stands still, so the machine idles
    // until the first period ends 10 ms (11932 PIT ticks) from when the count was loaded.
    let end = run_to_end(&mut machine);
    let SliceEnd::Idle { until: Some(until) } = end else {
        panic!("{end:?}");
    };
    assert!(
        (9_990_000..10_010_000).contains(&until),
        "next event at {until} ns"
    );
    // Once the host reaches that time, the interrupt is taken and the guest halts again.
    host.set(until);
    assert!(matches!(run_to_end(&mut machine), SliceEnd::Idle { .. }));
    assert_eq!(
        machine
            .cpu_mut()
            .mmu
            .phys
            .read(webx86_cpu::mmu::PhysAddr(0x500), 1),
        1
    );
}

#[test]
fn keyboard_controller_pulse_requests_a_reset() {
    // MOV AL, FE; OUT 64, AL; HLT (never reached).
    let mut machine = machine_with(&[0xB0, 0xFE, 0xE6, 0x64, 0xF4], Clock::deterministic());
    assert_eq!(run_to_end(&mut machine), SliceEnd::ResetRequested);
    assert_eq!(
        machine.cpu().state.eip,
        0x1004,
        "stopped right after the OUT"
    );
}

#[test]
fn port_92_closes_and_opens_the_a20_gate() {
    // IN AL, 92; AND AL, FD; OUT 92, AL; CLI; HLT.
    let code = [0xE4, 0x92, 0x24, 0xFD, 0xE6, 0x92, 0xFA, 0xF4];
    let mut machine = machine_with(&code, Clock::deterministic());
    assert!(
        machine.cpu().mmu.a20_enabled(),
        "A20 starts open, as firmware leaves it"
    );
    assert_eq!(run_to_end(&mut machine), SliceEnd::PoweredOff);
    assert!(!machine.cpu().mmu.a20_enabled());

    // OR AL, 02 opens it again.
    let code = [
        0xE4, 0x92, 0x24, 0xFD, 0xE6, 0x92, 0x0C, 0x02, 0xE6, 0x92, 0xFA, 0xF4,
    ];
    let mut machine = machine_with(&code, Clock::deterministic());
    assert_eq!(run_to_end(&mut machine), SliceEnd::PoweredOff);
    assert!(machine.cpu().mmu.a20_enabled());
}

#[test]
fn console_bytes_pass_through_com1() {
    // Transmit 'A' on COM1: MOV DX, 3F8; MOV AL, 41; OUT DX, AL; CLI; HLT.
    let code = [0xBA, 0xF8, 0x03, 0xB0, 0x41, 0xEE, 0xFA, 0xF4];
    let mut machine = machine_with(&code, Clock::deterministic());
    machine.platform().send_console_input(b"hi");
    assert_eq!(run_to_end(&mut machine), SliceEnd::PoweredOff);
    assert_eq!(machine.platform().take_console_output(), b"A");
    // With its FIFO off (as after reset) COM1 holds one received byte; the other waits in the
    // machine until the guest reads, instead of overrunning.
    assert_eq!(machine.platform().console_input_pending(), 1);
}

#[test]
fn triple_fault_ends_the_machine() {
    // Real mode with an IDT limit of 0: INT3 cannot be delivered, nor #GP, nor #DF.
    let mut machine = machine_with(&[0xCC], Clock::deterministic());
    machine.cpu_mut().state.idtr.limit = 0;
    assert_eq!(run_to_end(&mut machine), SliceEnd::TripleFault);
}

/// Reads PCI configuration dword 0 (device and vendor ID) of bus 0 devices 3, 4 and 5 into
/// 0000:0600.., and the ELCR (ports 0x4D0/0x4D1) into 0000:0610, then CLI; HLT.
const PCI_PROBE_GUEST: &[u8] = &[
    0x66, 0xB8, 0x00, 0x18, 0x00, 0x80, // MOV EAX, 0x80001800 (00:03.0, register 0)
    0xBA, 0xF8, 0x0C, 0x66, 0xEF, // MOV DX, 0xCF8; OUT DX, EAX
    0xBA, 0xFC, 0x0C, 0x66, 0xED, // MOV DX, 0xCFC; IN EAX, DX
    0x66, 0xA3, 0x00, 0x06, // MOV [0600], EAX
    0x66, 0xB8, 0x00, 0x20, 0x00, 0x80, // 00:04.0
    0xBA, 0xF8, 0x0C, 0x66, 0xEF, 0xBA, 0xFC, 0x0C, 0x66, 0xED, 0x66, 0xA3, 0x04, 0x06, 0x66, 0xB8,
    0x00, 0x28, 0x00, 0x80, // 00:05.0
    0xBA, 0xF8, 0x0C, 0x66, 0xEF, 0xBA, 0xFC, 0x0C, 0x66, 0xED, 0x66, 0xA3, 0x08, 0x06, 0xBA, 0xD0,
    0x04, 0xEC, 0xA2, 0x10, 0x06, // MOV DX, 0x4D0; IN AL, DX; MOV [0610], AL
    0x42, 0xEC, 0xA2, 0x11, 0x06, // INC DX; IN AL, DX; MOV [0611], AL
    0xFA, 0xF4, // CLI; HLT
];

#[test]
fn virtio_functions_are_on_pci_with_level_triggered_irqs() {
    let run = |with_disk: bool| {
        let mut machine = machine_with(PCI_PROBE_GUEST, Clock::deterministic());
        if with_disk {
            let disk = webx86_disk::MemoryDisk::zeroed(1 << 20);
            machine.attach_disk(Box::new(disk)).unwrap();
        }
        assert_eq!(run_to_end(&mut machine), SliceEnd::PoweredOff);
        let mut ids = [0u8; 18];
        let phys = &mut machine.cpu_mut().mmu.phys;
        phys.read_bytes(webx86_cpu::mmu::PhysAddr(0x600), &mut ids);
        let id = |at: usize| u32::from_le_bytes(ids[at..at + 4].try_into().unwrap());
        (id(0), id(4), id(8), u16::from_le_bytes([ids[16], ids[17]]))
    };
    // Virtio 1.x PCI IDs: vendor 0x1AF4, device 0x1040 + type (2 block, 3 console, 4 rng).
    let (disk, console, rng, elcr) = run(true);
    assert_eq!(disk, 0x1042_1AF4, "virtio-blk at 00:03.0");
    assert_eq!(console, 0x1043_1AF4, "virtio-console at 00:04.0");
    assert_eq!(rng, 0x1044_1AF4, "virtio-rng at 00:05.0");
    assert_eq!(
        elcr,
        1 << 9 | 1 << 10 | 1 << 11,
        "IRQs 9-11 level-triggered"
    );
    let (disk, _, _, elcr) = run(false);
    assert_eq!(disk, 0xFFFF_FFFF, "no disk: nothing answers at 00:03.0");
    assert_eq!(elcr, 1 << 9 | 1 << 11);
}
