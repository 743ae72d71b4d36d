//! Motorola MC146818A real-time clock and CMOS RAM (ports 0x70–0x71, IRQ 8).
//!
//! Port 0x70 selects a register (bits 6:0) and masks NMI (bit 7, see [`Rtc::nmi_masked`]);
//! port 0x71 reads or writes it. Registers 0x00–0x09 hold the time and alarm in BCD or binary,
//! 12- or 24-hour format as register B says; A–D (0x0A–0x0D) are the control and status
//! registers; the remaining 114 bytes are battery-backed RAM, with the PC's memory-size bytes set
//! by [`Rtc::set_memory_size`].
//!
//! Time: the clock is set from a Unix time at construction and then runs on machine time passed
//! to [`Rtc::advance`]. Once per second (machine time multiple of 1 s) an update cycle advances
//! the time registers, sets UF and checks the alarm; UIP (register A bit 7) is high during the
//! 244 µs + 1984 µs before each update (datasheet "update cycle"), and the periodic flag follows
//! the rate selected in register A. [`Rtc::irq_level`] is IRQF (register C bit 7), the level of
//! the IRQ 8 line; reading register C clears it.

use serde::{Deserialize, Serialize};

const NS_PER_SEC: u64 = 1_000_000_000;
/// UIP is set this long before an update completes: tBUC (244 µs) + tUC (1984 µs).
const UIP_WINDOW_NS: u64 = 2_228_000;
/// Register A divider value for the 32.768 kHz time base with the chain running.
const DIVIDER_NORMAL: u8 = 0x20;

/// Register indices.
pub mod reg {
    pub const SECONDS: u8 = 0x00;
    pub const SECONDS_ALARM: u8 = 0x01;
    pub const MINUTES: u8 = 0x02;
    pub const MINUTES_ALARM: u8 = 0x03;
    pub const HOURS: u8 = 0x04;
    pub const HOURS_ALARM: u8 = 0x05;
    pub const DAY_OF_WEEK: u8 = 0x06;
    pub const DAY_OF_MONTH: u8 = 0x07;
    pub const MONTH: u8 = 0x08;
    pub const YEAR: u8 = 0x09;
    pub const A: u8 = 0x0A;
    pub const B: u8 = 0x0B;
    pub const C: u8 = 0x0C;
    pub const D: u8 = 0x0D;
    /// The PC's century byte (IBM AT convention).
    pub const CENTURY: u8 = 0x32;
}

/// Register B bits.
pub mod reg_b {
    pub const SET: u8 = 0x80;
    pub const PIE: u8 = 0x40;
    pub const AIE: u8 = 0x20;
    pub const UIE: u8 = 0x10;
    pub const BINARY: u8 = 0x04;
    pub const HOUR24: u8 = 0x02;
}

/// Register C bits.
pub mod reg_c {
    pub const IRQF: u8 = 0x80;
    pub const PF: u8 = 0x40;
    pub const AF: u8 = 0x20;
    pub const UF: u8 = 0x10;
}

/// A calendar time (proleptic Gregorian, binary fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DateTime {
    pub year: i64,
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
}

/// Days since 1970-01-01 of a civil date (H. Hinnant's days-from-civil algorithm).
fn days_from_civil(y: i64, m: u8, d: u8) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u8, u8) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    (yoe + era * 400 + (m <= 2) as i64, m, d)
}

impl DateTime {
    /// The calendar time of a Unix time.
    pub fn from_unix(secs: i64) -> Self {
        let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        let (year, month, day) = civil_from_days(days);
        DateTime {
            year,
            month,
            day,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
        }
    }

    /// Unix time of this calendar time.
    pub fn to_unix(self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + self.hour as i64 * 3600
            + self.minute as i64 * 60
            + self.second as i64
    }

    /// Day of week as the RTC counts it: 1 = Sunday … 7 = Saturday.
    fn day_of_week(self) -> u8 {
        // 1970-01-01 was a Thursday.
        ((days_from_civil(self.year, self.month, self.day) + 4).rem_euclid(7) + 1) as u8
    }
}

fn to_bcd(v: u8) -> u8 {
    ((v / 10) << 4) | (v % 10)
}

fn from_bcd(v: u8) -> u8 {
    (v >> 4).wrapping_mul(10).wrapping_add(v & 0xF)
}

/// The RTC and its CMOS RAM.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rtc {
    /// All 128 registers and RAM bytes (time registers in the guest's format).
    pub cmos: Vec<u8>,
    /// Register selected through port 0x70.
    pub index: u8,
    /// Port 0x70 bit 7: NMI disabled.
    pub nmi_masked: bool,
    /// Machine time of the last `advance`.
    pub now_ns: u64,
    /// Machine time at which the next update cycle completes.
    pub next_update_ns: u64,
    /// Index of the last periodic-interrupt tick seen (32.768 kHz ticks / period).
    pub periodic_index: u64,
}

impl Rtc {
    /// Ports 0x70–0x71.
    pub const PORT: u16 = 0x70;
    /// Number of ports in the window.
    pub const PORT_LEN: u16 = 2;
    /// The IRQ the RTC drives.
    pub const IRQ: u8 = 8;

    /// An RTC reading `unix_time` at machine time 0: BCD, 24-hour, divider running at
    /// 32.768 kHz with a 1024 Hz periodic rate selected (as PC firmware leaves it), no interrupts
    /// enabled, valid RAM.
    pub fn new(unix_time: i64) -> Self {
        let mut rtc = Rtc {
            cmos: vec![0; 128],
            index: 0,
            nmi_masked: false,
            now_ns: 0,
            next_update_ns: NS_PER_SEC,
            periodic_index: 0,
        };
        rtc.cmos[reg::A as usize] = DIVIDER_NORMAL | 0x06;
        rtc.cmos[reg::B as usize] = reg_b::HOUR24;
        rtc.cmos[reg::D as usize] = 0x80;
        rtc.store_time(DateTime::from_unix(unix_time));
        rtc
    }

    fn binary(&self) -> bool {
        self.cmos[reg::B as usize] & reg_b::BINARY != 0
    }

    fn encode(&self, v: u8) -> u8 {
        if self.binary() {
            v
        } else {
            to_bcd(v)
        }
    }

    fn decode(&self, v: u8) -> u8 {
        if self.binary() {
            v
        } else {
            from_bcd(v)
        }
    }

    fn encode_hour(&self, h: u8) -> u8 {
        if self.cmos[reg::B as usize] & reg_b::HOUR24 != 0 {
            self.encode(h)
        } else {
            let h12 = if h.is_multiple_of(12) { 12 } else { h % 12 };
            self.encode(h12) | if h >= 12 { 0x80 } else { 0 }
        }
    }

    fn decode_hour(&self, v: u8) -> u8 {
        if self.cmos[reg::B as usize] & reg_b::HOUR24 != 0 {
            self.decode(v)
        } else {
            let h = self.decode(v & 0x7F) % 12;
            h + if v & 0x80 != 0 { 12 } else { 0 }
        }
    }

    /// The time the registers hold (out-of-range values clamped).
    pub fn time(&self) -> DateTime {
        let c = &self.cmos;
        let century = match self.decode(c[reg::CENTURY as usize]) {
            19..=99 => self.decode(c[reg::CENTURY as usize]) as i64,
            _ => 20,
        };
        DateTime {
            year: century * 100 + self.decode(c[reg::YEAR as usize]).min(99) as i64,
            month: self.decode(c[reg::MONTH as usize]).clamp(1, 12),
            day: self.decode(c[reg::DAY_OF_MONTH as usize]).clamp(1, 31),
            hour: self.decode_hour(c[reg::HOURS as usize]).min(23),
            minute: self.decode(c[reg::MINUTES as usize]).min(59),
            second: self.decode(c[reg::SECONDS as usize]).min(59),
        }
    }

    fn store_time(&mut self, t: DateTime) {
        let year = t.year.rem_euclid(10_000);
        self.cmos[reg::SECONDS as usize] = self.encode(t.second);
        self.cmos[reg::MINUTES as usize] = self.encode(t.minute);
        self.cmos[reg::HOURS as usize] = self.encode_hour(t.hour);
        self.cmos[reg::DAY_OF_WEEK as usize] = self.encode(t.day_of_week());
        self.cmos[reg::DAY_OF_MONTH as usize] = self.encode(t.day);
        self.cmos[reg::MONTH as usize] = self.encode(t.month);
        self.cmos[reg::YEAR as usize] = self.encode((year % 100) as u8);
        self.cmos[reg::CENTURY as usize] = self.encode((year / 100) as u8);
    }

    fn divider_running(&self) -> bool {
        self.cmos[reg::A as usize] & 0x70 == DIVIDER_NORMAL
    }

    /// Periodic interrupt period in 32.768 kHz ticks (register A rate select), if enabled.
    fn periodic_ticks(&self) -> Option<u64> {
        match self.cmos[reg::A as usize] & 0x0F {
            0 => None,
            1 => Some(128),
            2 => Some(256),
            rs => Some(1 << (rs - 1)),
        }
    }

    fn periodic_index_at(&self, ns: u64) -> Option<u64> {
        let period = self.periodic_ticks()?;
        let ticks = (ns as u128 * 32_768 / NS_PER_SEC as u128) as u64;
        Some(ticks / period)
    }

    /// Moves time forward to `now_ns`: runs due update cycles and periodic ticks.
    pub fn advance(&mut self, now_ns: u64) {
        let now = now_ns.max(self.now_ns);
        self.now_ns = now;
        if !self.divider_running() {
            self.next_update_ns = now.saturating_add(NS_PER_SEC);
            self.periodic_index = self.periodic_index_at(now).unwrap_or(0);
            return;
        }
        if let Some(idx) = self.periodic_index_at(now) {
            if idx != self.periodic_index {
                self.periodic_index = idx;
                self.raise(reg_c::PF);
            }
        }
        if now >= self.next_update_ns {
            let seconds = (now - self.next_update_ns) / NS_PER_SEC + 1;
            self.next_update_ns += seconds * NS_PER_SEC;
            if self.cmos[reg::B as usize] & reg_b::SET == 0 {
                let t = self.time().to_unix().saturating_add(seconds as i64);
                self.store_time(DateTime::from_unix(t));
                self.raise(reg_c::UF);
                if self.alarm_matches() {
                    self.raise(reg_c::AF);
                }
            }
        }
    }

    fn alarm_matches(&self) -> bool {
        let c = &self.cmos;
        let field = |alarm: u8, now: u8| alarm & 0xC0 == 0xC0 || alarm == now;
        field(c[reg::SECONDS_ALARM as usize], c[reg::SECONDS as usize])
            && field(c[reg::MINUTES_ALARM as usize], c[reg::MINUTES as usize])
            && field(c[reg::HOURS_ALARM as usize], c[reg::HOURS as usize])
    }

    fn raise(&mut self, flag: u8) {
        self.cmos[reg::C as usize] |= flag;
        self.update_irqf();
    }

    fn update_irqf(&mut self) {
        let b = self.cmos[reg::B as usize];
        let c = &mut self.cmos[reg::C as usize];
        let enabled = b & (reg_b::PIE | reg_b::AIE | reg_b::UIE);
        if *c & enabled & (reg_c::PF | reg_c::AF | reg_c::UF) != 0 {
            *c |= reg_c::IRQF;
        } else {
            *c &= !reg_c::IRQF;
        }
    }

    /// Level of the IRQ 8 line (register C IRQF).
    pub fn irq_level(&self) -> bool {
        self.cmos[reg::C as usize] & reg_c::IRQF != 0
    }

    /// Machine time of the next event that can raise IRQ 8 (an enabled periodic tick or update).
    pub fn next_event_ns(&self) -> Option<u64> {
        if !self.divider_running() {
            return None;
        }
        let b = self.cmos[reg::B as usize];
        let update = (b & (reg_b::UIE | reg_b::AIE) != 0 && b & reg_b::SET == 0)
            .then_some(self.next_update_ns);
        let periodic = if b & reg_b::PIE != 0 {
            self.periodic_ticks().map(|p| {
                let tick = (self.periodic_index + 1) * p;
                (tick as u128 * NS_PER_SEC as u128).div_ceil(32_768) as u64
            })
        } else {
            None
        };
        match (update, periodic) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Port 0x70 bit 7.
    pub fn nmi_masked(&self) -> bool {
        self.nmi_masked
    }

    fn update_in_progress(&self) -> bool {
        self.divider_running()
            && self.cmos[reg::B as usize] & reg_b::SET == 0
            && self.now_ns.saturating_add(UIP_WINDOW_NS) >= self.next_update_ns
    }

    fn read_register(&mut self, index: u8) -> u8 {
        match index {
            reg::A => self.cmos[reg::A as usize] | (self.update_in_progress() as u8) << 7,
            reg::C => {
                let v = self.cmos[reg::C as usize];
                self.cmos[reg::C as usize] = 0;
                v
            }
            _ => self.cmos[index as usize & 0x7F],
        }
    }

    fn write_register(&mut self, index: u8, value: u8) {
        match index {
            reg::A => {
                let was_running = self.divider_running();
                self.cmos[reg::A as usize] = value & 0x7F;
                if self.divider_running() && !was_running {
                    // Leaving divider reset: the first update comes half a second later.
                    self.next_update_ns = self.now_ns + NS_PER_SEC / 2;
                    self.periodic_index = self.periodic_index_at(self.now_ns).unwrap_or(0);
                }
                if let Some(idx) = self.periodic_index_at(self.now_ns) {
                    self.periodic_index = idx;
                }
            }
            reg::B => {
                let mut value = value;
                if value & reg_b::SET != 0 {
                    // Setting SET ends any update cycle and clears UIE.
                    value &= !reg_b::UIE;
                }
                self.cmos[reg::B as usize] = value;
                self.update_irqf();
            }
            reg::C | reg::D => {}
            _ => self.cmos[index as usize & 0x7F] = value,
        }
    }

    /// Fills the PC memory-size bytes for `ram_bytes` of RAM (base 640 KiB, extended memory above
    /// 1 MiB in KiB at 0x17/0x18 and 0x30/0x31, memory above 16 MiB in 64 KiB units at
    /// 0x34/0x35) and the checksum over 0x10–0x2D at 0x2E/0x2F.
    pub fn set_memory_size(&mut self, ram_bytes: u64) {
        let ext_kib = (ram_bytes.saturating_sub(1 << 20) / 1024).min(0xFFFF) as u16;
        let high_64k = (ram_bytes.saturating_sub(16 << 20) / 65_536).min(0xFFFF) as u16;
        let base_kib: u16 = 640;
        for (lo, v) in [
            (0x15, base_kib),
            (0x17, ext_kib),
            (0x30, ext_kib),
            (0x34, high_64k),
        ] {
            self.cmos[lo] = v as u8;
            self.cmos[lo + 1] = (v >> 8) as u8;
        }
        let sum: u16 = self.cmos[0x10..=0x2D].iter().map(|&b| b as u16).sum();
        self.cmos[0x2E] = (sum >> 8) as u8;
        self.cmos[0x2F] = sum as u8;
    }
}

impl crate::PortIo for Rtc {
    fn read(&mut self, offset: u16, _size: u8) -> u32 {
        match offset {
            0 => 0xFF, // The index register is write-only.
            _ => self.read_register(self.index) as u32,
        }
    }

    fn write(&mut self, offset: u16, _size: u8, value: u32) {
        let value = value as u8;
        match offset {
            0 => {
                self.index = value & 0x7F;
                self.nmi_masked = value & 0x80 != 0;
            }
            _ => self.write_register(self.index, value),
        }
    }
}

#[cfg(test)]
#[path = "rtc_tests.rs"]
mod tests;
