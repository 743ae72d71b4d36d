//! 16550A tests: the Linux 8250 driver's probes, FIFOs, IIR priorities and the THRE rules.

use super::*;
use crate::PortIo;

const THR: u16 = 0;
const IER: u16 = 1;
const IIR: u16 = 2;
const FCR: u16 = 2;
const LCR: u16 = 3;
const MCR: u16 = 4;
const LSR: u16 = 5;
const MSR: u16 = 6;
const SCR: u16 = 7;

fn rd(u: &mut Uart16550, off: u16) -> u8 {
    u.read(off, 1) as u8
}

fn wr(u: &mut Uart16550, off: u16, v: u8) {
    u.write(off, 1, v as u32);
}

#[test]
fn linux_autoconfig_sees_a_16550a() {
    let mut u = Uart16550::new();
    // Scratch register.
    wr(&mut u, SCR, 0xA5);
    assert_eq!(rd(&mut u, SCR), 0xA5);
    // IER: writable low nibble, reads back.
    wr(&mut u, IER, 0);
    assert_eq!(rd(&mut u, IER), 0);
    wr(&mut u, IER, 0xFF);
    assert_eq!(rd(&mut u, IER), 0x0F);
    wr(&mut u, IER, 0);
    // Loopback with RTS|OUT2: MSR reads CTS|DCD.
    wr(&mut u, MCR, mcr::LOOP | 0x0A);
    assert_eq!(rd(&mut u, MSR) & 0xF0, 0x90);
    wr(&mut u, MCR, 0);
    // FIFO enable: IIR bits 7:6 = 11 (16550A, not 16550).
    wr(&mut u, FCR, 0x01);
    assert_eq!(rd(&mut u, IIR) & 0xC0, 0xC0);
    // 16750 check: the 64-byte bit (FCR 5 with DLAB) is not there.
    wr(&mut u, LCR, 0x80);
    wr(&mut u, FCR, 0x21);
    wr(&mut u, LCR, 0);
    assert_eq!(rd(&mut u, IIR) >> 5, 6);
    // EFR check at LCR 0xBF reads IIR, which is not 0.
    wr(&mut u, LCR, 0xBF);
    assert_ne!(rd(&mut u, IIR), 0);
    wr(&mut u, LCR, 0x03);
    assert_ne!(rd(&mut u, LSR), 0xFF);
    assert_eq!(rd(&mut u, LSR), lsr::THRE | lsr::TEMT);
}

#[test]
fn divisor_latch() {
    let mut u = Uart16550::new();
    wr(&mut u, LCR, 0x83);
    wr(&mut u, 0, 0x01);
    wr(&mut u, 1, 0x00);
    assert_eq!((rd(&mut u, 0), rd(&mut u, 1)), (0x01, 0x00));
    wr(&mut u, LCR, 0x03);
    assert_eq!(u.divisor, 1);
    wr(&mut u, THR, b'x');
    assert_eq!(u.take_output(), b"x");
    assert_eq!(rd(&mut u, IER), 0, "DLAB clear: offset 1 is IER again");
}

#[test]
fn thre_interrupt_rules() {
    let mut u = Uart16550::new();
    wr(&mut u, MCR, mcr::OUT2 | mcr::DTR | mcr::RTS);
    // Linux UART_BUG_THRE probe: THRE must reassert when ETBEI is set again.
    wr(&mut u, IER, ier::THRE);
    let iir1 = rd(&mut u, IIR);
    wr(&mut u, IER, 0);
    wr(&mut u, IER, ier::THRE);
    let iir2 = rd(&mut u, IIR);
    wr(&mut u, IER, 0);
    assert_eq!(iir1 & 0x0F, iir::THRE);
    assert_eq!(iir2 & 0x0F, iir::THRE);
    // Reading IIR cleared it; with ETBEI on and nothing written, no interrupt.
    wr(&mut u, IER, ier::THRE);
    assert!(u.irq_level());
    assert_eq!(rd(&mut u, IIR), iir::THRE);
    assert!(!u.irq_level(), "IIR read clears THRE");
    assert_eq!(rd(&mut u, IIR), iir::NONE);
    // Writing THR: the byte goes out, THR empties, THRE interrupt again (a new edge).
    wr(&mut u, THR, b'a');
    assert!(u.irq_level());
    wr(&mut u, THR, b'b');
    assert_eq!(u.take_output(), b"ab");
    // OUT2 gates the PC's IRQ line.
    wr(&mut u, MCR, 0);
    assert!(!u.irq_level());
    assert_eq!(rd(&mut u, IIR), iir::THRE, "still pending inside the UART");
}

#[test]
fn rx_fifo_trigger_level_and_timeout() {
    let mut u = Uart16550::new();
    wr(&mut u, LCR, 0x03); // 8N1, divisor 12 (9600 baud): 10 bits = 1041666 ns per char
    wr(&mut u, FCR, 0x81); // FIFO on, trigger 8
    wr(&mut u, IER, ier::RX_DATA);
    wr(&mut u, MCR, mcr::OUT2);
    u.advance(1000);
    for b in 0..7u8 {
        u.receive(b);
    }
    assert_eq!(rd(&mut u, IIR), iir::FIFO_ENABLED | iir::NONE);
    let char_ns = 10 * 12 * 1_000_000_000 / 115_200;
    assert_eq!(u.next_event_ns(), Some(1000 + 4 * char_ns));
    u.advance(1000 + 4 * char_ns - 1);
    assert!(!u.irq_level());
    u.advance(1000 + 4 * char_ns);
    assert!(u.irq_level());
    assert_eq!(rd(&mut u, IIR), iir::FIFO_ENABLED | iir::RX_TIMEOUT);
    assert_eq!(rd(&mut u, THR), 0, "reading RBR resets the timeout");
    assert!(!u.irq_level());
    u.receive(7);
    u.receive(8);
    assert_eq!(u.rx.len(), 8);
    assert_eq!(rd(&mut u, IIR), iir::FIFO_ENABLED | iir::RX_DATA);
    assert_eq!(rd(&mut u, LSR) & lsr::DATA_READY, lsr::DATA_READY);
    assert_eq!(rd(&mut u, THR), 1);
    assert_eq!(rd(&mut u, IIR) & 0x0F, iir::NONE, "below the trigger again");
    // Trigger 14 and FIFO clear.
    wr(&mut u, FCR, 0xC3);
    assert!(u.rx.is_empty());
    assert_eq!(u.rx_trigger, 14);
    assert_eq!(u.rx_space(), 16);
}

#[test]
fn overrun_and_line_status_priority() {
    let mut u = Uart16550::new();
    wr(&mut u, IER, ier::RX_DATA | ier::LINE_STATUS | ier::THRE);
    // Without FIFOs the holding register takes one byte.
    assert_eq!(u.rx_space(), 1);
    u.receive(b'1');
    u.receive(b'2');
    assert_eq!(
        rd(&mut u, IIR),
        iir::LINE_STATUS,
        "line status outranks data and THRE"
    );
    assert_eq!(
        rd(&mut u, LSR),
        lsr::DATA_READY | lsr::OVERRUN | lsr::THRE | lsr::TEMT
    );
    assert_eq!(rd(&mut u, LSR) & lsr::OVERRUN, 0, "LSR read clears OE");
    assert_eq!(rd(&mut u, IIR), iir::RX_DATA, "data outranks THRE");
    assert_eq!(rd(&mut u, THR), b'1');
    assert_eq!(rd(&mut u, IIR), iir::THRE);
    // FIFO: the 17th byte overruns.
    wr(&mut u, FCR, 0x01);
    for b in 0..17 {
        u.receive(b);
    }
    assert_eq!(u.rx.len(), 16);
    assert_ne!(rd(&mut u, LSR) & lsr::OVERRUN, 0);
}

#[test]
fn modem_status_interrupt() {
    let mut u = Uart16550::new();
    wr(&mut u, IER, ier::MODEM_STATUS);
    assert_eq!(rd(&mut u, IIR), iir::NONE);
    u.set_modem_inputs(msr::DSR | msr::DCD | msr::RI);
    assert_eq!(rd(&mut u, IIR), iir::MODEM_STATUS);
    assert_eq!(rd(&mut u, MSR), msr::DSR | msr::DCD | msr::RI | 0x01);
    assert_eq!(rd(&mut u, IIR), iir::NONE, "MSR read clears the deltas");
    u.set_modem_inputs(msr::DSR | msr::DCD);
    assert_eq!(
        rd(&mut u, MSR),
        msr::DSR | msr::DCD | 0x04,
        "TERI on RI's trailing edge"
    );
}

#[test]
fn loopback_mode() {
    let mut u = Uart16550::new();
    wr(&mut u, FCR, 0x01);
    wr(&mut u, IER, ier::RX_DATA);
    wr(&mut u, MCR, mcr::LOOP | mcr::OUT2 | mcr::DTR);
    assert_eq!(rd(&mut u, MSR) & 0xF0, msr::DSR | msr::DCD);
    wr(&mut u, THR, 0x42);
    assert!(u.take_output().is_empty(), "loopback: nothing on the line");
    assert_eq!(rd(&mut u, IIR), iir::FIFO_ENABLED | iir::RX_DATA);
    assert!(!u.irq_level(), "the IRQ output is inactive in loopback");
    u.receive(0x99);
    assert_eq!(u.rx_space(), 0);
    assert_eq!(rd(&mut u, THR), 0x42);
    assert_eq!(
        rd(&mut u, LSR) & lsr::DATA_READY,
        0,
        "external input was ignored"
    );
}

#[test]
fn state_round_trips_through_serde() {
    let mut u = Uart16550::new();
    wr(&mut u, FCR, 0x41);
    u.receive(3);
    let back: Uart16550 = serde_json::from_str(&serde_json::to_string(&u).unwrap()).unwrap();
    assert_eq!(back, u);
}
