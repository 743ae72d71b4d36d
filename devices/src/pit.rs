//! Intel 8254 programmable interval timer (ports 0x40–0x43; IRQ 0 from channel 0; channel 2's
//! gate and output through port 0x61, see [`crate::system_ports`]).
//!
//! Time comes in from outside: [`Pit::advance`] gives the current machine time in nanoseconds
//! and the device converts it to ticks of its 1.193182 MHz input clock. Counter values and OUT
//! levels are computed from elapsed ticks in closed form, never by stepping tick by tick, so a
//! read at any instant is exact (the kernel calibrates the TSC against channel 2 and reads
//! channel 0 as a clocksource). [`Pit::take_irq0_edge`] reports whether OUT0 rose since the last
//! call, and [`Pit::next_irq0_ns`] when it will next rise, so the machine can schedule.
//!
//! Behaviour follows the Intel 82C54 datasheet (23124406): control word, counter latch and
//! read-back commands; LSB/MSB/LSB-then-MSB access; binary and BCD counting; modes 0–5 with
//! the count loaded on the clock after it is written; gate semantics per mode.

use serde::{Deserialize, Serialize};

/// Input clock of the PC's 8254 (14.31818 MHz / 12).
pub const PIT_HZ: u64 = 1_193_182;

/// The tick of the PIT clock at machine time `ns`.
pub fn ns_to_ticks(ns: u64) -> u64 {
    (ns as u128 * PIT_HZ as u128 / 1_000_000_000) as u64
}

/// The earliest machine time (ns) at which tick `tick` has begun.
pub fn ticks_to_ns(tick: u64) -> u64 {
    let ns = (tick as u128 * 1_000_000_000).div_ceil(PIT_HZ as u128);
    ns.min(u64::MAX as u128) as u64
}

/// What a channel's counting element is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Phase {
    /// No count loaded, or waiting for a gate trigger (modes 1, 5), or stopped by the gate
    /// (modes 2, 3): the counter holds `idle_count`, OUT is `idle_out`.
    Idle,
    /// Counting: the elapsed count is `base + (tick - resume)` once `tick >= resume`.
    Counting { resume: u64, base: u64 },
    /// Gate low in modes 0 and 4: counting suspended after `elapsed` clocks.
    Paused { elapsed: u64 },
}

/// One of the three counters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PitChannel {
    /// Mode 0–5 (6 and 7 are stored as 2 and 3).
    pub mode: u8,
    /// BCD counting.
    pub bcd: bool,
    /// Read/write access: 1 = LSB only, 2 = MSB only, 3 = LSB then MSB.
    pub access: u8,
    /// The count register (last complete count written), 1..=modulus (0 written = modulus).
    pub reload: u64,
    /// The count the current cycle runs with.
    pub active: u64,
    /// A count has been written since the control word.
    pub armed: bool,
    /// Counter state.
    pub phase: Phase,
    /// Counter value while `Idle`.
    pub idle_count: u64,
    /// OUT while `Idle`, or before the count is loaded.
    pub idle_out: bool,
    /// Mode 2/3: the tick at which `reload` replaces `active` (end of the current cycle).
    pub switch_at: Option<u64>,
    /// Gate input level.
    pub gate: bool,
    /// Null count status bit: a count was written but not yet loaded.
    pub null_count: bool,
    /// LSB/MSB access: the next write is the MSB.
    pub write_msb_next: bool,
    /// LSB written, waiting for the MSB.
    pub write_lsb: u8,
    /// LSB/MSB access: the next read is the MSB.
    pub read_msb_next: bool,
    /// Latched count (counter latch or read-back), and whether its LSB was already read.
    pub latched_count: Option<u16>,
    /// Latched status byte (read-back).
    pub latched_status: Option<u8>,
    /// Set when OUT rose because of a write or a gate change (not by counting).
    pub forced_edge: bool,
}

impl PitChannel {
    fn new(gate: bool) -> Self {
        PitChannel {
            mode: 0,
            bcd: false,
            access: 3,
            reload: 0x10000,
            active: 0x10000,
            armed: false,
            phase: Phase::Idle,
            idle_count: 0,
            // Undefined at power-on; high means the first control word makes no edge.
            idle_out: true,
            switch_at: None,
            gate,
            null_count: true,
            write_msb_next: false,
            write_lsb: 0,
            read_msb_next: false,
            latched_count: None,
            latched_status: None,
            forced_edge: false,
        }
    }

    fn modulus(&self) -> u64 {
        if self.bcd {
            10_000
        } else {
            0x10000
        }
    }

    /// Applies what became true by tick `t`: the count loaded, a mode 2/3 cycle switched.
    fn sync(&mut self, t: u64) {
        if let Some(at) = self.switch_at {
            if t >= at {
                self.active = self.reload;
                self.phase = Phase::Counting {
                    resume: at,
                    base: 0,
                };
                self.switch_at = None;
                self.null_count = false;
            }
        }
        if let Phase::Counting { resume, .. } = self.phase {
            if t >= resume && self.switch_at.is_none() {
                self.null_count = false;
            }
        }
    }

    /// Elapsed clocks since the load, or `None` before the load / when idle.
    fn elapsed(&self, t: u64) -> Option<u64> {
        match self.phase {
            Phase::Idle => None,
            Phase::Counting { resume, base } => {
                (t >= resume).then(|| base.saturating_add(t - resume))
            }
            Phase::Paused { elapsed } => Some(elapsed),
        }
    }

    /// Counter value and OUT after `e` clocks of counting with count `n`.
    fn count_and_out(&self, n: u64, e: u64) -> (u64, bool) {
        let m = self.modulus();
        let down = |n: u64, e: u64| (n % m + m - e % m) % m;
        match self.mode {
            0 | 1 => (down(n, e), e >= n),
            2 => {
                let p = e % n;
                ((n - p) % m, n == 1 || p != n - 1)
            }
            3 => {
                let p = e % n;
                if n.is_multiple_of(2) {
                    let h = n / 2;
                    ((n - 2 * (p % h)) % m, p < h)
                } else {
                    let hi = n.div_ceil(2);
                    let (count, out) = if p < hi {
                        (if p == 0 { n } else { n + 1 - 2 * p }, true)
                    } else {
                        let q = p - hi;
                        (if q == 0 { n } else { n - 1 - 2 * q }, false)
                    };
                    (count % m, out)
                }
            }
            _ => (down(n, e), e != n),
        }
    }

    /// Current counter value (binary) and OUT level at tick `t` (after `sync(t)`).
    ///
    /// Between a count's write and the clock that loads it, a real 8254's counting element
    /// holds an undefined value that no reader can see: an ISA port access takes about a
    /// microsecond, longer than a PIT clock, while here it takes one instruction. Reads in that
    /// window return the new count, as they would a moment later, which is what Linux's fast
    /// TSC calibration counts on (it reads the counter once "to delay for a microsecond").
    fn state_at(&self, t: u64) -> (u64, bool) {
        match (self.elapsed(t), self.phase) {
            (Some(e), _) => self.count_and_out(self.active, e),
            (None, Phase::Counting { base: 0, .. }) => {
                (self.count_and_out(self.active, 0).0, self.idle_out)
            }
            (None, _) => (self.idle_count, self.idle_out),
        }
    }

    fn out(&self, t: u64) -> bool {
        self.state_at(t).1
    }

    /// The first tick after `t` at which OUT rises by counting, if any.
    fn next_rise_after(&self, t: u64) -> Option<u64> {
        let Phase::Counting { resume, base } = self.phase else {
            return None;
        };
        let n = self.active;
        // The edge must lie strictly after the elapsed count reached by tick `t` (or, before
        // the load, after the count the cycle starts from).
        let lower = if t >= resume {
            base.saturating_add(t - resume)
        } else {
            base
        };
        let edge = match self.mode {
            0 | 1 => n,
            4 | 5 => n + 1,
            2 | 3 if n > 1 => n.saturating_mul(lower / n + 1),
            _ => return None,
        };
        if edge <= lower {
            return None;
        }
        resume.checked_add(edge - base)
    }

    /// Starts counting with the count loaded at the clock after tick `t`.
    fn load_next_clock(&mut self, t: u64) {
        self.active = self.reload;
        self.switch_at = None;
        self.phase = Phase::Counting {
            resume: t + 1,
            base: 0,
        };
    }

    /// Freezes the counter into `Idle` with its current value and the given OUT.
    fn go_idle(&mut self, t: u64, out: bool) {
        self.idle_count = self.state_at(t).0;
        self.idle_out = out;
        self.phase = Phase::Idle;
        self.switch_at = None;
    }

    fn write_control(&mut self, t: u64, value: u8) {
        let mode = (value >> 1) & 7;
        self.idle_count = self.state_at(t).0;
        self.access = (value >> 4) & 3;
        self.mode = if mode >= 6 { mode - 4 } else { mode };
        self.bcd = value & 1 != 0;
        self.phase = Phase::Idle;
        self.switch_at = None;
        self.idle_out = self.mode != 0;
        self.armed = false;
        self.null_count = true;
        self.write_msb_next = false;
        self.read_msb_next = false;
        self.latched_count = None;
        self.latched_status = None;
    }

    /// A complete count `raw` (as the guest wrote it) arrived at tick `t`.
    fn write_count(&mut self, t: u64, raw: u16) {
        let value = if self.bcd {
            bcd_to_binary(raw)
        } else {
            raw as u64
        };
        self.reload = if value == 0 { self.modulus() } else { value };
        self.null_count = true;
        let counting = !matches!(self.phase, Phase::Idle);
        match self.mode {
            0 | 4 => {
                self.idle_out = self.mode == 4;
                self.load_next_clock(t);
                if !self.gate {
                    self.phase = Phase::Paused { elapsed: 0 };
                }
            }
            1 | 5 => {
                // Loaded at the next gate trigger.
                if !counting {
                    self.idle_out = true;
                }
            }
            _ => {
                if counting && self.armed {
                    // New count takes effect at the end of the current cycle.
                    self.switch_at = self.next_cycle_end(t);
                } else if self.gate {
                    self.idle_out = true;
                    self.load_next_clock(t);
                } else {
                    self.idle_out = true;
                }
            }
        }
        self.armed = true;
    }

    /// Mode 2/3: the tick at which the running cycle reloads.
    fn next_cycle_end(&self, t: u64) -> Option<u64> {
        let Phase::Counting { resume, base } = self.phase else {
            return None;
        };
        let n = self.active;
        let e = if t >= resume {
            base + (t - resume)
        } else {
            return Some(resume);
        };
        resume.checked_add(n * (e / n + 1) - base)
    }

    fn set_gate(&mut self, t: u64, level: bool) {
        let rising = level && !self.gate;
        let falling = !level && self.gate;
        self.gate = level;
        match self.mode {
            0 | 4 => {
                if falling {
                    if let Some(e) = self.elapsed(t) {
                        self.phase = Phase::Paused { elapsed: e };
                    }
                } else if rising {
                    if let Phase::Paused { elapsed } = self.phase {
                        self.phase = Phase::Counting {
                            resume: t,
                            base: elapsed,
                        };
                    }
                }
            }
            1 | 5 => {
                if rising && self.armed {
                    self.idle_out = self.out(t);
                    self.load_next_clock(t);
                }
            }
            _ => {
                if falling {
                    self.go_idle(t, true);
                } else if rising && self.armed {
                    self.idle_out = true;
                    self.load_next_clock(t);
                }
            }
        }
    }

    fn status(&self, t: u64) -> u8 {
        (self.out(t) as u8) << 7
            | (self.null_count as u8) << 6
            | self.access << 4
            | self.mode << 1
            | self.bcd as u8
    }

    fn latch_count(&mut self, t: u64) {
        if self.latched_count.is_none() {
            self.latched_count = Some(self.readable_count(t));
            self.read_msb_next = false;
        }
    }

    /// The counter as the guest reads it (BCD-encoded in BCD mode).
    fn readable_count(&self, t: u64) -> u16 {
        let c = self.state_at(t).0;
        if self.bcd {
            binary_to_bcd(c)
        } else {
            c as u16
        }
    }

    fn read(&mut self, t: u64) -> u8 {
        if let Some(status) = self.latched_status.take() {
            return status;
        }
        let (value, latched) = match self.latched_count {
            Some(v) => (v, true),
            None => (self.readable_count(t), false),
        };
        let (byte, done) = match self.access {
            1 => (value as u8, true),
            2 => ((value >> 8) as u8, true),
            _ => {
                let msb = self.read_msb_next;
                self.read_msb_next = !msb;
                (if msb { (value >> 8) as u8 } else { value as u8 }, msb)
            }
        };
        if latched && done {
            self.latched_count = None;
        }
        byte
    }

    fn write(&mut self, t: u64, value: u8) {
        match self.access {
            1 => self.write_count(t, value as u16),
            2 => self.write_count(t, (value as u16) << 8),
            _ => {
                if self.write_msb_next {
                    self.write_msb_next = false;
                    self.write_count(t, (value as u16) << 8 | self.write_lsb as u16);
                } else {
                    self.write_msb_next = true;
                    self.write_lsb = value;
                    if self.mode == 0 {
                        // Mode 0: writing the first byte stops counting and drives OUT low.
                        self.go_idle(t, false);
                    }
                }
            }
        }
    }
}

fn bcd_to_binary(v: u16) -> u64 {
    (0..4).rev().fold(0u64, |acc, i| {
        acc * 10 + ((v >> (4 * i)) & 0xF).min(9) as u64
    })
}

fn binary_to_bcd(v: u64) -> u16 {
    let v = v % 10_000;
    (0..4).fold(0u16, |acc, i| {
        acc | (((v / 10u64.pow(i)) % 10) as u16) << (4 * i)
    })
}

/// The 8254 with its three channels. Channel 0 drives IRQ 0, channel 1 (DRAM refresh on the
/// AT) is unconnected, channel 2 feeds the speaker and is read back through port 0x61.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pit {
    /// The three counters.
    pub channels: [PitChannel; 3],
    /// Current time in PIT ticks (from the last `advance`).
    pub now_tick: u64,
    /// Channel 0 OUT rose since the last `take_irq0_edge`.
    pub irq0_edge: bool,
}

impl Default for Pit {
    fn default() -> Self {
        Self::new()
    }
}

impl Pit {
    /// The device's port window: 0x40–0x43.
    pub const PORT: u16 = 0x40;
    /// Number of ports in the window.
    pub const PORT_LEN: u16 = 4;
    /// The IRQ channel 0 drives.
    pub const IRQ: u8 = 0;

    /// Power-on state at time 0: channels unprogrammed, gates of channels 0 and 1 high, channel 2
    /// gate low (port 0x61 bit 0 clear).
    pub fn new() -> Self {
        Pit {
            channels: [
                PitChannel::new(true),
                PitChannel::new(true),
                PitChannel::new(false),
            ],
            now_tick: 0,
            irq0_edge: false,
        }
    }

    /// Moves time forward to `now_ns` (machine time; never goes backwards).
    pub fn advance(&mut self, now_ns: u64) {
        let t = ns_to_ticks(now_ns).max(self.now_tick);
        if let Some(rise) = self.channels[0].next_rise_after(self.now_tick) {
            if rise <= t {
                self.irq0_edge = true;
            }
        }
        self.now_tick = t;
        for ch in &mut self.channels {
            ch.sync(t);
        }
    }

    /// Whether OUT0 rose (by counting, or by a write) since the last call.
    pub fn take_irq0_edge(&mut self) -> bool {
        let forced = std::mem::take(&mut self.channels[0].forced_edge);
        std::mem::take(&mut self.irq0_edge) || forced
    }

    /// OUT of `channel` now.
    pub fn out(&self, channel: usize) -> bool {
        self.channels
            .get(channel)
            .is_some_and(|c| c.out(self.now_tick))
    }

    /// Gate of `channel` (only channel 2's is wired to anything: port 0x61 bit 0).
    pub fn gate(&self, channel: usize) -> bool {
        self.channels.get(channel).is_some_and(|c| c.gate)
    }

    /// Drives the gate of `channel` at the current time.
    pub fn set_gate(&mut self, channel: usize, level: bool) {
        let t = self.now_tick;
        if let Some(c) = self.channels.get_mut(channel) {
            let before = c.out(t);
            c.set_gate(t, level);
            c.forced_edge |= !before && c.out(t);
        }
    }

    /// Machine time (ns) of the next rising edge of OUT0 after now, if one is scheduled.
    pub fn next_irq0_ns(&self) -> Option<u64> {
        self.channels[0]
            .next_rise_after(self.now_tick)
            .map(ticks_to_ns)
    }

    fn read_back(&mut self, value: u8) {
        let t = self.now_tick;
        for (i, ch) in self.channels.iter_mut().enumerate() {
            if value & (2 << i) == 0 {
                continue;
            }
            if value & 0x20 == 0 {
                ch.latch_count(t);
            }
            if value & 0x10 == 0 && ch.latched_status.is_none() {
                ch.latched_status = Some(ch.status(t));
            }
        }
    }
}

impl crate::PortIo for Pit {
    fn read(&mut self, offset: u16, _size: u8) -> u32 {
        let t = self.now_tick;
        match offset {
            0..=2 => self.channels[offset as usize].read(t) as u32,
            _ => 0xFF, // The control register is write-only.
        }
    }

    fn write(&mut self, offset: u16, _size: u8, value: u32) {
        let t = self.now_tick;
        let value = value as u8;
        let channel = match offset {
            0..=2 => offset as usize,
            _ => match value >> 6 {
                3 => return self.read_back(value),
                sc => sc as usize,
            },
        };
        let ch = &mut self.channels[channel];
        let before = ch.out(t);
        if offset == 3 {
            if value & 0x30 == 0 {
                ch.latch_count(t);
            } else {
                ch.write_control(t, value);
            }
        } else {
            ch.write(t, value);
        }
        ch.forced_edge |= !before && ch.out(t);
    }
}

#[cfg(test)]
#[path = "pit_tests.rs"]
mod tests;
