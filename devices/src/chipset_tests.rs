//! The chipset wired together, driven through ports as the Linux kernel drives it.

use super::*;
use crate::pit::{ticks_to_ns, PIT_HZ};

fn chipset() -> Chipset {
    Chipset::new(&ChipsetConfig {
        rtc_unix_time: 1_700_000_000,
        ram_bytes: 64 << 20,
        a20_enabled: true,
    })
}

/// Linux `init_8259A(0)`: vectors 0x30/0x38, cascade on IR2, all unmasked.
fn init_pic(c: &mut Chipset, t: u64) {
    for (port, v) in [
        (0x20, 0x11),
        (0x21, 0x30),
        (0x21, 0x04),
        (0x21, 0x01),
        (0xA0, 0x11),
        (0xA1, 0x38),
        (0xA1, 0x02),
        (0xA1, 0x01),
        (0x21, 0x00),
        (0xA1, 0x00),
    ] {
        c.io_write(port, 1, v, t);
    }
}

#[test]
fn periodic_timer_interrupt_reaches_the_cpu() {
    let mut c = chipset();
    init_pic(&mut c, 0);
    c.io_write(0x43, 1, 0x34, 0);
    c.io_write(0x40, 1, 4773 & 0xFF, 0);
    c.io_write(0x40, 1, 4773 >> 8, 0);
    assert!(!c.intr());
    let due = c.next_event_ns().unwrap();
    assert_eq!(due, ticks_to_ns(1 + 4773));
    c.advance(due - 1);
    assert!(!c.intr());
    c.advance(due);
    assert!(c.intr());
    assert_eq!(c.acknowledge(), 0x30);
    assert!(!c.intr());
    c.io_write(0x20, 1, 0x20, due);
    let next = c.next_event_ns().unwrap();
    assert_eq!(next, ticks_to_ns(1 + 2 * 4773));
    c.advance(next);
    assert_eq!(c.acknowledge(), 0x30);
}

#[test]
fn tsc_calibration_through_port_61() {
    let mut c = chipset();
    // pit_calibrate_tsc: gate high, speaker off; ch2 mode 0 with a 10 ms count.
    let v = c.io_read(0x61, 1, 0);
    c.io_write(0x61, 1, (v & !0x02) | 0x01, 0);
    c.io_write(0x43, 1, 0xB0, 0);
    let latch = PIT_HZ / 100;
    c.io_write(0x42, 1, (latch & 0xFF) as u32, 0);
    c.io_write(0x42, 1, (latch >> 8) as u32, 0);
    let end = ticks_to_ns(1 + latch);
    assert_eq!(c.io_read(0x61, 1, end - 1) & 0x20, 0);
    assert_eq!(c.io_read(0x61, 1, end) & 0x20, 0x20);
    assert!((end as i64 - 10_000_000).abs() < 2_000, "10 ms of PIT time");
}

/// Linux's quick_pit_calibrate (arch/x86/kernel/tsc.c) as the guest runs it, with port
/// accesses a few nanoseconds apart (one instruction each) and a 1 GHz time-stamp counter: it
/// must see channel 2's MSB step down from 0xFF and measure the counter within 500 ppm.
#[test]
fn fast_tsc_calibration_sees_the_counter_step() {
    const ITERATIONS: u32 = 50 * PIT_HZ as u32 / 1000 / 256;
    let mut c = chipset();
    let now = std::cell::Cell::new(5_000_000u64);
    let tick = || {
        now.set(now.get() + 3);
        now.get()
    };
    let inb = |c: &mut Chipset, port: u16| {
        let t = tick();
        (c.io_read(port, 1, t), t)
    };
    let v = inb(&mut c, 0x61).0;
    c.io_write(0x61, 1, (v & !0x02) | 0x01, tick());
    c.io_write(0x43, 1, 0xB0, tick());
    c.io_write(0x42, 1, 0xFF, tick());
    c.io_write(0x42, 1, 0xFF, tick());
    let verify_msb = |c: &mut Chipset, val: u32| {
        inb(c, 0x42);
        let (msb, t) = inb(c, 0x42);
        (msb == val, t)
    };
    // pit_expect_msb: (enough reads saw `val`, TSC at the last of them, its uncertainty).
    let expect_msb = |c: &mut Chipset, val: u32| {
        let (mut tsc, mut prev, mut count, mut last) = (0u64, 0u64, 0, 0);
        while count < 50_000 {
            let (same, t) = verify_msb(c, val);
            last = t;
            if !same {
                break;
            }
            prev = tsc;
            tsc = t;
            count += 1;
        }
        (count > 5, tsc, last - prev)
    };
    let (ok, start, d1) = expect_msb(&mut c, 0xFF);
    assert!(ok, "the MSB reads 0xFF right after the count is written");
    let mut khz = None;
    for i in 1..=ITERATIONS {
        let (ok, end, d2) = expect_msb(&mut c, 0xFF - i);
        assert!(ok, "the MSB steps to {:#x}", 0xFF - i);
        let delta = end - start;
        if d1 + d2 < delta >> 11 {
            khz = Some(delta * PIT_HZ / (u64::from(i) * 256 * 1000));
            break;
        }
    }
    let khz = khz.expect("the calibration converges");
    assert!(
        khz.abs_diff(1_000_000) <= 500,
        "measured {khz} kHz for a 1 GHz counter"
    );
}

#[test]
fn serial_console_and_receive_interrupt() {
    let mut c = chipset();
    init_pic(&mut c, 0);
    for &b in b"Linux\n" {
        c.io_write(0x3F8, 1, b as u32, 0);
    }
    assert_eq!(c.take_serial_output(), b"Linux\n");
    c.io_write(0x3F9, 1, 0x01, 0); // IER: RX data
    c.io_write(0x3FC, 1, 0x0B, 0); // DTR RTS OUT2
    assert_eq!(c.serial_input(b"ab", 10), 1, "no FIFO: one byte fits");
    assert!(c.intr());
    assert_eq!(c.acknowledge(), 0x34);
    assert_eq!(c.io_read(0x3F8, 1, 20), b'a' as u32);
    assert_eq!(c.serial_input(b"b", 30), 1);
}

#[test]
fn rtc_time_and_cmos_memory_size() {
    let mut c = chipset();
    c.io_write(0x70, 1, 0x00, 2_000_000_000);
    assert_eq!(
        c.io_read(0x71, 1, 2_000_000_000),
        0x22,
        "two seconds after 22:13:20"
    );
    c.io_write(0x70, 1, 0x34, 0);
    assert_eq!(c.io_read(0x71, 1, 0), 0x00);
    c.io_write(0x70, 1, 0x35, 0);
    assert_eq!(
        c.io_read(0x71, 1, 0),
        0x03,
        "48 MiB above 16 MiB in 64 KiB units"
    );
}

#[test]
fn keyboard_bytes_each_interrupt() {
    let mut c = chipset();
    init_pic(&mut c, 0);
    c.io_write(0x60, 1, 0xFF, 0);
    assert_eq!(c.acknowledge(), 0x31);
    assert_eq!(c.io_read(0x60, 1, 0), 0xFA);
    c.io_write(0x20, 1, 0x20, 0);
    assert!(c.intr(), "second byte raises IRQ 1 again");
    assert_eq!(c.acknowledge(), 0x31);
    assert_eq!(c.io_read(0x60, 1, 0), 0xAA);
}

#[test]
fn unknown_ports_and_wide_accesses() {
    let mut c = chipset();
    assert_eq!(c.io_read(0x2F8, 1, 0), 0xFF);
    assert_eq!(c.io_read(0x2F8, 1, 0), 0xFF);
    assert_eq!(c.io_read(0x3E8, 4, 0), 0xFFFF_FFFF);
    let notices = c.take_notices();
    assert_eq!(notices.len(), 5, "0x2F8 once, 0x3E8..0x3EB once each");
    c.io_write(0xCF8, 4, 0x8000_0000, 0);
    assert_eq!(c.io_read(0xCFC, 4, 0), 0x1237_8086);
    assert_eq!(c.io_read(0xCFE, 2, 0), 0x1237);
}

#[test]
fn a20_and_reset_sources() {
    let mut c = chipset();
    assert!(c.a20_enabled());
    c.io_write(0x92, 1, 0x00, 0);
    assert!(!c.a20_enabled());
    c.io_write(0x64, 1, 0xD1, 0);
    c.io_write(0x60, 1, 0x03, 0);
    assert!(c.a20_enabled(), "i8042 output port opens A20 too");
    assert!(!c.take_reset_request());
    c.io_write(0x64, 1, 0xFE, 0);
    assert!(c.take_reset_request());
    c.io_write(0xCF9, 1, 0x06, 0);
    assert!(c.take_reset_request());
    c.io_write(0x92, 1, 0x01, 0);
    assert!(c.take_reset_request());
    c.io_write(0xE9, 1, b'!' as u32, 0);
    assert_eq!(c.take_debug_output(), b"!");
}

#[test]
fn snapshot_round_trip() {
    let mut c = chipset();
    init_pic(&mut c, 0);
    c.io_write(0x43, 1, 0x34, 0);
    c.io_write(0x40, 1, 0x00, 0);
    c.io_write(0x40, 1, 0x10, 0);
    c.advance(5_000_000);
    let json = serde_json::to_string(&c.state()).unwrap();
    let mut d = chipset();
    d.restore(serde_json::from_str(&json).unwrap());
    assert_eq!(d.state(), c.state());
    let t = c.next_event_ns().unwrap();
    assert_eq!(d.next_event_ns(), Some(t));
    c.advance(t);
    d.advance(t);
    assert_eq!(c.acknowledge(), d.acknowledge());
}
