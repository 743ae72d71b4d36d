//! MC146818A tests: time formats, the update cycle, periodic and alarm interrupts, CMOS RAM.

use super::*;
use crate::PortIo;

const MS: u64 = 1_000_000;

fn read(rtc: &mut Rtc, index: u8) -> u8 {
    rtc.write(0, 1, index as u32);
    rtc.read(1, 1) as u8
}

fn write(rtc: &mut Rtc, index: u8, value: u8) {
    rtc.write(0, 1, index as u32);
    rtc.write(1, 1, value as u32);
}

#[test]
fn calendar_conversion() {
    // 2023-11-14 22:13:20 UTC, a Tuesday (3 in the RTC's Sunday = 1 numbering).
    let t = DateTime::from_unix(1_700_000_000);
    assert_eq!(
        (t.year, t.month, t.day, t.hour, t.minute, t.second),
        (2023, 11, 14, 22, 13, 20)
    );
    assert_eq!(t.day_of_week(), 3);
    for secs in [0i64, 951_782_400, 1_709_164_799, 4_102_444_800, -86_400] {
        assert_eq!(DateTime::from_unix(secs).to_unix(), secs);
    }
}

#[test]
fn power_on_time_is_bcd_24h() {
    let mut rtc = Rtc::new(1_700_000_000);
    assert_eq!(read(&mut rtc, reg::SECONDS), 0x20);
    assert_eq!(read(&mut rtc, reg::MINUTES), 0x13);
    assert_eq!(read(&mut rtc, reg::HOURS), 0x22);
    assert_eq!(read(&mut rtc, reg::DAY_OF_WEEK), 0x03);
    assert_eq!(read(&mut rtc, reg::DAY_OF_MONTH), 0x14);
    assert_eq!(read(&mut rtc, reg::MONTH), 0x11);
    assert_eq!(read(&mut rtc, reg::YEAR), 0x23);
    assert_eq!(read(&mut rtc, reg::CENTURY), 0x20);
    assert_eq!(read(&mut rtc, reg::A), 0x26);
    assert_eq!(read(&mut rtc, reg::B), 0x02);
    assert_eq!(read(&mut rtc, reg::D), 0x80, "VRT: RAM and time valid");
}

#[test]
fn update_cycle_uip_and_update_ended_flag() {
    let mut rtc = Rtc::new(1_700_000_000);
    rtc.advance(MS);
    assert_eq!(
        read(&mut rtc, reg::C),
        reg_c::PF,
        "PF is set even with PIE clear"
    );
    write(&mut rtc, reg::A, 0x20); // no periodic rate
    rtc.advance(997 * MS);
    assert_eq!(
        read(&mut rtc, reg::A) & 0x80,
        0,
        "no update within 244 µs + 1984 µs"
    );
    rtc.advance(998 * MS);
    assert_eq!(read(&mut rtc, reg::A) & 0x80, 0x80, "UIP before the update");
    assert_eq!(read(&mut rtc, reg::SECONDS), 0x20);
    assert_eq!(read(&mut rtc, reg::C), 0);
    rtc.advance(1000 * MS);
    assert_eq!(read(&mut rtc, reg::A) & 0x80, 0);
    assert_eq!(read(&mut rtc, reg::SECONDS), 0x21);
    assert_eq!(read(&mut rtc, reg::C), reg_c::UF, "UF without UIE: no IRQF");
    assert_eq!(read(&mut rtc, reg::C), 0, "reading C clears it");
    // Update-ended interrupt.
    write(&mut rtc, reg::B, reg_b::HOUR24 | reg_b::UIE);
    assert_eq!(rtc.next_event_ns(), Some(2000 * MS));
    rtc.advance(2000 * MS);
    assert!(rtc.irq_level());
    assert_eq!(read(&mut rtc, reg::C), reg_c::IRQF | reg_c::UF);
    assert!(!rtc.irq_level());
    // A long gap advances by whole seconds at once.
    rtc.advance(3_601_000 * MS);
    assert_eq!(read(&mut rtc, reg::HOURS), 0x23);
    assert_eq!(read(&mut rtc, reg::MINUTES), 0x13);
    assert_eq!(read(&mut rtc, reg::SECONDS), 0x21);
}

#[test]
fn periodic_interrupt_at_1024_hz() {
    let mut rtc = Rtc::new(0);
    write(&mut rtc, reg::B, reg_b::HOUR24 | reg_b::PIE);
    // 1024 Hz: 32 ticks of 32.768 kHz = 976562.5 ns.
    assert_eq!(rtc.next_event_ns(), Some(976_563));
    rtc.advance(976_562);
    assert!(!rtc.irq_level());
    rtc.advance(976_563);
    assert!(rtc.irq_level());
    assert_eq!(read(&mut rtc, reg::C), reg_c::IRQF | reg_c::PF);
    assert!(!rtc.irq_level());
    assert_eq!(rtc.next_event_ns(), Some(1_953_125));
    // Rate 15 = 2 Hz; rate 0 stops it.
    write(&mut rtc, reg::A, 0x2F);
    rtc.advance(400 * MS);
    assert!(!rtc.irq_level());
    rtc.advance(500 * MS);
    assert!(rtc.irq_level());
    read(&mut rtc, reg::C);
    write(&mut rtc, reg::A, 0x20);
    assert_eq!(rtc.next_event_ns(), None);
    rtc.advance(990 * MS);
    assert!(!rtc.irq_level());
}

#[test]
fn alarm_interrupt_and_dont_care() {
    let mut rtc = Rtc::new(1_700_000_000); // 22:13:20
    write(&mut rtc, reg::A, 0x20);
    write(&mut rtc, reg::SECONDS_ALARM, 0x22);
    write(&mut rtc, reg::MINUTES_ALARM, 0x13);
    write(&mut rtc, reg::HOURS_ALARM, 0xC0); // any hour
    write(&mut rtc, reg::B, reg_b::HOUR24 | reg_b::AIE);
    rtc.advance(1000 * MS);
    assert!(!rtc.irq_level());
    rtc.advance(2000 * MS);
    assert!(rtc.irq_level());
    assert_eq!(read(&mut rtc, reg::C), reg_c::IRQF | reg_c::AF | reg_c::UF);
}

#[test]
fn binary_12_hour_mode_and_rollover() {
    let mut rtc = Rtc::new(0);
    write(&mut rtc, reg::B, reg_b::SET | reg_b::BINARY | reg_b::UIE);
    assert_eq!(read(&mut rtc, reg::B) & reg_b::UIE, 0, "SET clears UIE");
    // 1999-12-31 11:59:59 PM, binary, 12-hour.
    write(&mut rtc, reg::SECONDS, 59);
    write(&mut rtc, reg::MINUTES, 59);
    write(&mut rtc, reg::HOURS, 0x80 | 11);
    write(&mut rtc, reg::DAY_OF_MONTH, 31);
    write(&mut rtc, reg::MONTH, 12);
    write(&mut rtc, reg::YEAR, 99);
    write(&mut rtc, reg::CENTURY, 19);
    rtc.advance(1000 * MS);
    assert_eq!(read(&mut rtc, reg::SECONDS), 59, "SET inhibits updates");
    assert_eq!(read(&mut rtc, reg::A) & 0x80, 0, "no UIP while SET");
    write(&mut rtc, reg::B, reg_b::BINARY);
    rtc.advance(2000 * MS);
    assert_eq!(read(&mut rtc, reg::SECONDS), 0);
    assert_eq!(read(&mut rtc, reg::HOURS), 12, "12 AM");
    assert_eq!(read(&mut rtc, reg::DAY_OF_MONTH), 1);
    assert_eq!(read(&mut rtc, reg::MONTH), 1);
    assert_eq!(read(&mut rtc, reg::YEAR), 0);
    assert_eq!(read(&mut rtc, reg::CENTURY), 20);
    assert_eq!(
        read(&mut rtc, reg::DAY_OF_WEEK),
        7,
        "2000-01-01 was a Saturday"
    );
    assert_eq!(rtc.time().hour, 0);
}

#[test]
fn leap_day() {
    let mut rtc = Rtc::new(1_709_164_799); // 2024-02-28 23:59:59
    rtc.advance(1000 * MS);
    assert_eq!(read(&mut rtc, reg::DAY_OF_MONTH), 0x29);
    assert_eq!(read(&mut rtc, reg::MONTH), 0x02);
}

#[test]
fn divider_reset_stops_the_clock() {
    let mut rtc = Rtc::new(1_700_000_000);
    write(&mut rtc, reg::A, 0x76); // divider reset
    rtc.advance(5000 * MS);
    assert_eq!(read(&mut rtc, reg::SECONDS), 0x20);
    write(&mut rtc, reg::A, 0x26);
    rtc.advance(5499 * MS);
    assert_eq!(read(&mut rtc, reg::SECONDS), 0x20);
    rtc.advance(5500 * MS);
    assert_eq!(
        read(&mut rtc, reg::SECONDS),
        0x21,
        "first update 500 ms after reset ends"
    );
}

#[test]
fn nmi_mask_index_and_ram() {
    let mut rtc = Rtc::new(0);
    rtc.write(0, 1, 0x80 | 0x40);
    assert!(rtc.nmi_masked());
    rtc.write(1, 1, 0x5A);
    rtc.write(0, 1, 0x40);
    assert!(!rtc.nmi_masked());
    assert_eq!(rtc.read(1, 1), 0x5A);
    write(&mut rtc, reg::D, 0);
    assert_eq!(read(&mut rtc, reg::D), 0x80, "D is read-only");
}

#[test]
fn memory_size_bytes() {
    let mut rtc = Rtc::new(0);
    rtc.set_memory_size(32 << 20);
    assert_eq!([read(&mut rtc, 0x15), read(&mut rtc, 0x16)], [0x80, 0x02]);
    let ext = (31u32 * 1024) as u16;
    assert_eq!(
        [read(&mut rtc, 0x17), read(&mut rtc, 0x18)],
        ext.to_le_bytes()
    );
    assert_eq!(
        [read(&mut rtc, 0x30), read(&mut rtc, 0x31)],
        ext.to_le_bytes()
    );
    let high = (16u32 * 16) as u16;
    assert_eq!(
        [read(&mut rtc, 0x34), read(&mut rtc, 0x35)],
        high.to_le_bytes()
    );
    rtc.set_memory_size(1 << 30);
    assert_eq!(
        [read(&mut rtc, 0x17), read(&mut rtc, 0x18)],
        [0xFF, 0xFF],
        "capped"
    );
    assert_eq!(
        [read(&mut rtc, 0x34), read(&mut rtc, 0x35)],
        (1008u16 * 16).to_le_bytes()
    );
    let sum: u16 = (0x10..=0x2D).map(|i| read(&mut rtc, i) as u16).sum();
    assert_eq!(
        [read(&mut rtc, 0x2E), read(&mut rtc, 0x2F)],
        sum.to_be_bytes()
    );
}

#[test]
fn state_round_trips_through_serde() {
    let mut rtc = Rtc::new(1_700_000_000);
    rtc.advance(1500 * MS);
    let back: Rtc = serde_json::from_str(&serde_json::to_string(&rtc).unwrap()).unwrap();
    assert_eq!(back, rtc);
}
