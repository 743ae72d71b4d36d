//! 8254 tests against the 82C54 datasheet's mode descriptions, driven through the ports.

use super::*;
use crate::PortIo;

fn at(pit: &mut Pit, tick: u64) {
    pit.advance(ticks_to_ns(tick));
    assert_eq!(pit.now_tick, tick);
}

fn control(pit: &mut Pit, value: u8) {
    pit.write(3, 1, value as u32);
}

fn write16(pit: &mut Pit, ch: u16, value: u16) {
    pit.write(ch, 1, (value & 0xFF) as u32);
    pit.write(ch, 1, (value >> 8) as u32);
}

/// Reads a lo/hi channel without latching (as the kernel's quick_pit_calibrate does).
fn read16(pit: &mut Pit, ch: u16) -> u16 {
    let lo = pit.read(ch, 1) as u16;
    let hi = pit.read(ch, 1) as u16;
    hi << 8 | lo
}

fn latch_read(pit: &mut Pit, ch: u16) -> u16 {
    control(pit, (ch as u8) << 6);
    read16(pit, ch)
}

#[test]
fn tick_conversion_round_trips() {
    for t in [0u64, 1, 2, 1193, 1_193_182, 1 << 40] {
        assert_eq!(ns_to_ticks(ticks_to_ns(t)), t);
        assert!(ns_to_ticks(ticks_to_ns(t) - (t > 0) as u64) < t.max(1));
    }
    assert_eq!(ns_to_ticks(1_000_000_000), PIT_HZ);
}

#[test]
fn mode0_counts_down_and_raises_out_at_terminal_count() {
    let mut pit = Pit::new();
    at(&mut pit, 1000);
    control(&mut pit, 0x30); // ch0, lo/hi, mode 0, binary
    assert!(!pit.out(0), "mode 0 OUT low after control word");
    write16(&mut pit, 0, 100);
    assert!(!pit.take_irq0_edge());
    at(&mut pit, 1001);
    assert_eq!(
        latch_read(&mut pit, 0),
        100,
        "count loaded on the next clock"
    );
    at(&mut pit, 1051);
    assert_eq!(latch_read(&mut pit, 0), 50);
    assert_eq!(pit.next_irq0_ns(), Some(ticks_to_ns(1101)));
    at(&mut pit, 1100);
    assert!(!pit.out(0));
    assert!(!pit.take_irq0_edge());
    at(&mut pit, 1101);
    assert!(pit.out(0), "OUT high N+1 clocks after the count write");
    assert!(pit.take_irq0_edge());
    assert_eq!(latch_read(&mut pit, 0), 0);
    at(&mut pit, 1102);
    assert_eq!(
        latch_read(&mut pit, 0),
        0xFFFF,
        "the counter wraps and keeps counting"
    );
    assert!(pit.out(0), "OUT stays high");
    assert_eq!(pit.next_irq0_ns(), None, "one-shot");
    at(&mut pit, 100_000);
    assert!(!pit.take_irq0_edge());
}

#[test]
fn mode0_first_byte_stops_counting() {
    let mut pit = Pit::new();
    control(&mut pit, 0x30);
    write16(&mut pit, 0, 10);
    at(&mut pit, 20);
    assert!(pit.out(0));
    pit.take_irq0_edge();
    pit.write(0, 1, 5);
    assert!(!pit.out(0), "first byte drives OUT low");
    at(&mut pit, 30);
    assert!(!pit.out(0), "no counting between the two bytes");
    pit.write(0, 1, 0);
    at(&mut pit, 36);
    assert!(pit.out(0));
    assert!(pit.take_irq0_edge());
}

#[test]
fn tsc_calibration_on_channel2_gate_and_out() {
    // Linux pit_calibrate_tsc: gate on, speaker off; ch2 mode 0 LSB/MSB; poll OUT2.
    let mut pit = Pit::new();
    at(&mut pit, 5);
    pit.set_gate(2, true);
    control(&mut pit, 0xB0);
    let latch = (PIT_HZ / 20) as u16; // 50 ms
    write16(&mut pit, 2, latch);
    let loaded = 6;
    at(&mut pit, loaded + latch as u64 - 1);
    assert!(!pit.out(2));
    at(&mut pit, loaded + latch as u64);
    assert!(pit.out(2), "OUT2 exactly `latch` clocks after the load");
    // quick_pit_calibrate reads the MSB of a free-running 0xFFFF count.
    control(&mut pit, 0xB0);
    write16(&mut pit, 2, 0xFFFF);
    let t0 = pit.now_tick + 1;
    for k in [0u64, 255, 256, 10_000, 0xFF00] {
        at(&mut pit, t0 + k);
        assert_eq!(read16(&mut pit, 2), (0xFFFF - k) as u16, "after {k} clocks");
    }
}

#[test]
fn mode0_gate_low_suspends_counting() {
    let mut pit = Pit::new();
    pit.set_gate(2, true);
    control(&mut pit, 0xB0);
    write16(&mut pit, 2, 100);
    at(&mut pit, 51);
    assert_eq!(latch_read(&mut pit, 2), 50);
    pit.set_gate(2, false);
    at(&mut pit, 500);
    assert_eq!(latch_read(&mut pit, 2), 50);
    pit.set_gate(2, true);
    at(&mut pit, 549);
    assert!(!pit.out(2));
    at(&mut pit, 550);
    assert!(pit.out(2));
}

#[test]
fn mode2_rate_generator_periodic_irq0() {
    let mut pit = Pit::new();
    control(&mut pit, 0x34); // Linux periodic: ch0 lo/hi mode 2
    assert!(pit.out(0));
    write16(&mut pit, 0, 4773);
    // Load at tick 1; OUT low for the clock when the count is 1 (elapsed N-1), edge at N.
    at(&mut pit, 1 + 4771);
    assert!(pit.out(0));
    assert_eq!(latch_read(&mut pit, 0), 2);
    at(&mut pit, 1 + 4772);
    assert!(!pit.out(0));
    assert_eq!(latch_read(&mut pit, 0), 1);
    assert!(!pit.take_irq0_edge());
    at(&mut pit, 1 + 4773);
    assert!(pit.out(0));
    assert_eq!(latch_read(&mut pit, 0), 4773, "reloaded");
    assert!(pit.take_irq0_edge());
    assert_eq!(pit.next_irq0_ns(), Some(ticks_to_ns(1 + 2 * 4773)));
    // Many periods in one step still give (at least) one edge; none without a period passing.
    at(&mut pit, 1 + 10 * 4773 + 5);
    assert!(pit.take_irq0_edge());
    at(&mut pit, 1 + 11 * 4773 - 1);
    assert!(!pit.take_irq0_edge());
    assert_eq!(latch_read(&mut pit, 0), 1);
}

#[test]
fn mode2_new_count_takes_effect_at_end_of_cycle() {
    let mut pit = Pit::new();
    control(&mut pit, 0x34);
    write16(&mut pit, 0, 1000);
    at(&mut pit, 301);
    write16(&mut pit, 0, 100);
    assert_eq!(latch_read(&mut pit, 0), 700, "current cycle continues");
    control(&mut pit, 0xE2); // read-back status of ch0
    assert_eq!(pit.read(0, 1) & 0x40, 0x40, "null count until the reload");
    at(&mut pit, 1001);
    assert_eq!(latch_read(&mut pit, 0), 100);
    at(&mut pit, 1101);
    assert!(pit.take_irq0_edge());
    assert_eq!(pit.next_irq0_ns(), Some(ticks_to_ns(1201)));
}

#[test]
fn mode2_gate_low_forces_out_high_and_rising_gate_reloads() {
    let mut pit = Pit::new();
    control(&mut pit, 0x94); // ch2 LSB only, mode 2
    pit.set_gate(2, true);
    pit.write(2, 1, 10);
    at(&mut pit, 10);
    assert!(!pit.out(2), "count 1: OUT low");
    pit.set_gate(2, false);
    assert!(pit.out(2));
    at(&mut pit, 100);
    pit.set_gate(2, true);
    at(&mut pit, 101);
    assert_eq!(
        latch_read_lsb(&mut pit),
        10,
        "reloaded on the clock after the gate rose"
    );
}

fn latch_read_lsb(pit: &mut Pit) -> u8 {
    control(pit, 0x80);
    pit.read(2, 1) as u8
}

#[test]
fn mode3_square_wave_even_and_odd() {
    let mut pit = Pit::new();
    control(&mut pit, 0x36);
    write16(&mut pit, 0, 10);
    // Even: high for 5 clocks, low for 5; counts by two from 10.
    let expect = [
        (10, true),
        (8, true),
        (6, true),
        (4, true),
        (2, true),
        (10, false),
        (8, false),
        (6, false),
        (4, false),
        (2, false),
        (10, true),
    ];
    for (k, &(count, out)) in expect.iter().enumerate() {
        at(&mut pit, 1 + k as u64);
        assert_eq!(
            (latch_read(&mut pit, 0), pit.out(0)),
            (count, out),
            "clock {k}"
        );
    }
    assert!(pit.take_irq0_edge());
    // Odd: high (N+1)/2, low (N-1)/2; first decrement by one, by three after a flip.
    control(&mut pit, 0x36);
    let start = pit.now_tick + 1;
    write16(&mut pit, 0, 7);
    let expect = [
        (7, true),
        (6, true),
        (4, true),
        (2, true),
        (7, false),
        (4, false),
        (2, false),
        (7, true),
    ];
    for (k, &(count, out)) in expect.iter().enumerate() {
        at(&mut pit, start + k as u64);
        assert_eq!(
            (latch_read(&mut pit, 0), pit.out(0)),
            (count, out),
            "odd clock {k}"
        );
    }
}

#[test]
fn mode4_software_strobe() {
    let mut pit = Pit::new();
    control(&mut pit, 0x38);
    assert!(pit.out(0));
    write16(&mut pit, 0, 5);
    at(&mut pit, 6);
    assert_eq!(latch_read(&mut pit, 0), 0);
    assert!(!pit.out(0), "low for one clock at terminal count");
    assert!(!pit.take_irq0_edge());
    at(&mut pit, 7);
    assert!(pit.out(0));
    assert!(pit.take_irq0_edge());
    assert_eq!(pit.next_irq0_ns(), None);
}

#[test]
fn mode1_and_mode5_are_gate_triggered() {
    let mut pit = Pit::new();
    control(&mut pit, 0xB2); // ch2 mode 1
    write16(&mut pit, 2, 20);
    at(&mut pit, 50);
    assert!(pit.out(2), "nothing happens until the gate rises");
    pit.set_gate(2, true);
    at(&mut pit, 51);
    assert!(!pit.out(2), "OUT low on the clock after the trigger");
    at(&mut pit, 61);
    assert_eq!(latch_read(&mut pit, 2), 10);
    // Retrigger restarts the count.
    pit.set_gate(2, false);
    pit.set_gate(2, true);
    at(&mut pit, 62);
    assert_eq!(latch_read(&mut pit, 2), 20);
    at(&mut pit, 81);
    assert!(!pit.out(2));
    at(&mut pit, 82);
    assert!(pit.out(2));

    control(&mut pit, 0xBA); // ch2 mode 5
    write16(&mut pit, 2, 3);
    pit.set_gate(2, false);
    at(&mut pit, 100);
    pit.set_gate(2, true);
    at(&mut pit, 104);
    assert!(!pit.out(2), "strobe N+1 clocks after the trigger");
    at(&mut pit, 105);
    assert!(pit.out(2));
}

#[test]
fn latch_freezes_value_until_read() {
    let mut pit = Pit::new();
    control(&mut pit, 0x34);
    write16(&mut pit, 0, 1000);
    at(&mut pit, 101);
    control(&mut pit, 0x00);
    at(&mut pit, 201);
    control(&mut pit, 0x00); // a second latch before reading is ignored
    assert_eq!(read16(&mut pit, 0), 900);
    assert_eq!(read16(&mut pit, 0), 800, "latch released after both bytes");
}

#[test]
fn read_back_status_and_count() {
    let mut pit = Pit::new();
    control(&mut pit, 0xB6); // ch2 lo/hi mode 3
    control(&mut pit, 0xE8); // read-back status of ch2
    assert_eq!(
        pit.read(2, 1),
        0x80 | 0x40 | 0x30 | 0x06,
        "OUT high, null count"
    );
    pit.set_gate(2, true);
    write16(&mut pit, 2, 0x1234);
    at(&mut pit, 11);
    control(&mut pit, 0xC8); // latch count and status
    assert_eq!(
        pit.read(2, 1),
        0x80 | 0x30 | 0x06,
        "status first, count loaded"
    );
    assert_eq!(read16(&mut pit, 2), 0x1234 - 20);
    control(&mut pit, 0xD8); // count only
    at(&mut pit, 12);
    assert_eq!(read16(&mut pit, 2), 0x1234 - 20, "latched at the command");
}

#[test]
fn bcd_counting_and_byte_access_modes() {
    let mut pit = Pit::new();
    control(&mut pit, 0x31); // lo/hi, mode 0, BCD
    write16(&mut pit, 0, 0x1000); // 1000 decimal
    at(&mut pit, 1 + 1);
    assert_eq!(latch_read(&mut pit, 0), 0x0999);
    at(&mut pit, 1 + 1000);
    assert!(pit.out(0));
    at(&mut pit, 1 + 1001);
    assert_eq!(latch_read(&mut pit, 0), 0x9999, "BCD wraps to 9999");
    // MSB-only access: the LSB of the count is zero.
    control(&mut pit, 0x20);
    pit.write(0, 1, 0x02);
    let t = pit.now_tick + 1;
    at(&mut pit, t + 0x10);
    control(&mut pit, 0x00);
    assert_eq!(pit.read(0, 1), 0x01, "MSB of 0x01F0");
    control(&mut pit, 0x10); // LSB only
    pit.write(0, 1, 0x80);
    let t = pit.now_tick + 1;
    at(&mut pit, t + 1);
    control(&mut pit, 0x00);
    assert_eq!(pit.read(0, 1), 0x7F);
}

#[test]
fn state_round_trips_through_serde() {
    let mut pit = Pit::new();
    control(&mut pit, 0x34);
    write16(&mut pit, 0, 500);
    at(&mut pit, 77);
    let json = serde_json::to_string(&pit).unwrap();
    let mut back: Pit = serde_json::from_str(&json).unwrap();
    assert_eq!(back, pit);
    at(&mut back, 1000);
    at(&mut pit, 1000);
    assert_eq!(latch_read(&mut back, 0), latch_read(&mut pit, 0));
}

#[test]
fn control_word_raising_out0_is_an_edge() {
    let mut pit = Pit::new();
    control(&mut pit, 0x30);
    write16(&mut pit, 0, 1000);
    at(&mut pit, 10);
    assert!(!pit.out(0));
    control(&mut pit, 0x34); // mode 2 drives OUT high at once
    assert!(pit.take_irq0_edge());
    assert!(!pit.take_irq0_edge());
}
