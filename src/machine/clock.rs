//! The machine's one clock. Every device, the PIT, the RTC and the TSC (RDTSC) read guest time
//! from here, so they always agree with each other: the kernel calibrates the TSC against the
//! PIT and checks both against the RTC.
//!
//! Within a slice, guest time always advances with the instructions retired, at a rate fixed
//! for the slice, so that code timing one device against another (Linux's TSC calibration
//! loop polls port 0x61 and reads the TSC, and gives up if one iteration takes ten times as
//! long as another) sees a steady machine. Two modes:
//!
//! - **deterministic**: one instruction is [`NS_PER_INSTRUCTION`] ns, and while the CPU halts
//!   the clock jumps to the next device event. Same input, same run.
//! - **realtime**: guest time tracks the host's monotonic clock, read through [`HostClock`]
//!   (the native front end passes `Instant`, a browser `performance.now()`), so `sleep 1` in the
//!   guest takes a second. Each slice's rate comes from the measured speed of the interpreter,
//!   stretched or squeezed (at most by half) to make up any difference from host time; while
//!   the CPU halts, guest time follows the host clock up to the next device event.
//!
//! No device reads the host.

/// Guest time in nanoseconds since power-on.
pub type Nanos = u64;

/// Nominal guest speed in deterministic mode: one instruction per nanosecond (1000 MIPS).
pub const NS_PER_INSTRUCTION: u64 = 1;
/// Realtime mode's first guess at the interpreter's speed (100 MIPS), refined as it runs.
const REALTIME_INITIAL_PER_US: u64 = 100;
/// TSC frequency: the TSC counts guest nanoseconds (1 GHz).
pub const TSC_HZ: u64 = 1_000_000_000;

/// The host's monotonic clock, in nanoseconds from an arbitrary origin.
pub trait HostClock {
    fn now_ns(&mut self) -> u64;
}

/// [`HostClock`] on `std::time::Instant` (not for wasm32-unknown-unknown, which has no clock).
#[cfg(not(target_arch = "wasm32"))]
pub struct StdHostClock(std::time::Instant);

#[cfg(not(target_arch = "wasm32"))]
impl Default for StdHostClock {
    fn default() -> Self {
        Self(std::time::Instant::now())
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl HostClock for StdHostClock {
    fn now_ns(&mut self) -> u64 {
        self.0.elapsed().as_nanos() as u64
    }
}

/// The host side of a realtime clock.
struct Host {
    clock: Box<dyn HostClock>,
    /// Host time at guest time zero.
    origin: u64,
    /// Host time when the current slice began (for measuring speed).
    slice_start: u64,
}

impl Host {
    fn elapsed(&mut self) -> Nanos {
        self.clock.now_ns().saturating_sub(self.origin)
    }
}

/// Guest time for the whole machine.
pub struct Clock {
    host: Option<Host>,
    /// Guest time and instruction count at the start of the current slice (or the last jump).
    anchor_time: Nanos,
    anchor_retired: u64,
    /// Picoseconds of guest time per instruction in the current slice.
    ps_per_instruction: u64,
    /// Measured instructions per microsecond of host time (realtime mode).
    per_us: u64,
    /// The latest time handed out: guest time never goes backwards.
    last: Nanos,
}

impl Clock {
    /// Time from retired instructions: same run, same times.
    pub fn deterministic() -> Self {
        Self {
            host: None,
            anchor_time: 0,
            anchor_retired: 0,
            ps_per_instruction: NS_PER_INSTRUCTION * 1_000,
            per_us: 1_000 / NS_PER_INSTRUCTION,
            last: 0,
        }
    }

    /// Time that follows the host's clock, starting at zero now.
    pub fn realtime(mut clock: Box<dyn HostClock>) -> Self {
        let origin = clock.now_ns();
        Self {
            host: Some(Host {
                clock,
                origin,
                slice_start: 0,
            }),
            ps_per_instruction: 1_000_000 / REALTIME_INITIAL_PER_US,
            per_us: REALTIME_INITIAL_PER_US,
            ..Self::deterministic()
        }
    }

    pub fn is_deterministic(&self) -> bool {
        self.host.is_none()
    }

    /// Guest time now, with `retired` instructions retired since power-on.
    pub fn now(&mut self, retired: u64) -> Nanos {
        let ran = retired.saturating_sub(self.anchor_retired);
        let time = self
            .anchor_time
            .saturating_add(ran.saturating_mul(self.ps_per_instruction) / 1_000);
        self.last = self.last.max(time);
        self.last
    }

    /// Starts a slice meant to cover `length` of guest time at `retired` instructions; returns
    /// how many instructions to run (at least one).
    pub fn begin_slice(&mut self, retired: u64, length: Nanos) -> u64 {
        let now = self.now(retired);
        self.anchor_time = now;
        self.anchor_retired = retired;
        let Some(host) = &mut self.host else {
            return (length / NS_PER_INSTRUCTION).max(1);
        };
        let host_now = host.elapsed();
        host.slice_start = host_now;
        // Cover `length` plus up to half of it again to catch up with the host, or half of it
        // less when ahead, in the instructions the host runs in `length`.
        let half = length / 2;
        let span = if host_now > now {
            length + (host_now - now).min(half)
        } else {
            length - (now - host_now).min(half)
        };
        let budget = (length.saturating_mul(self.per_us) / 1_000).max(1);
        self.ps_per_instruction = (span.saturating_mul(1_000) / budget).max(1);
        budget
    }

    /// Ends a slice in which the CPU ran `instructions` without halting: realtime mode learns
    /// the host's speed from it (a moving average, so one slow slice does not swing it).
    pub fn end_busy_slice(&mut self, instructions: u64) {
        let Some(host) = &mut self.host else {
            return;
        };
        let spent = host.elapsed().saturating_sub(host.slice_start);
        if spent >= 100_000 {
            let measured = instructions.saturating_mul(1_000) / spent;
            self.per_us = ((self.per_us * 3 + measured) / 4).clamp(1, 100_000);
        }
    }

    /// The CPU idles until `until`, the next device event. Deterministic mode jumps there;
    /// realtime mode moves guest time up to the host's time, but not past `until`. Returns
    /// whether guest time reached `until`.
    pub fn idle_until(&mut self, retired: u64, until: Nanos) -> bool {
        let now = self.now(retired);
        let target = match &mut self.host {
            None => until,
            Some(host) => host.elapsed().min(until),
        };
        if target > now {
            self.anchor_time = target;
            self.anchor_retired = retired;
            self.last = target;
        }
        self.last >= until
    }

    /// Realtime mode, idle with nothing scheduled: guest time follows the host's.
    pub fn idle_with_host(&mut self, retired: u64) {
        if let Some(host) = &mut self.host {
            let host_now = host.elapsed();
            self.idle_until(retired, host_now);
        }
    }

    /// The TSC value at guest time `now`.
    pub fn tsc(now: Nanos) -> u64 {
        // TSC_HZ is 1 GHz: one tick per nanosecond.
        now.wrapping_mul(TSC_HZ / 1_000_000_000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::rc::Rc;

    #[test]
    fn deterministic_time_follows_instructions_and_skips() {
        let mut clock = Clock::deterministic();
        assert_eq!(clock.now(0), 0);
        assert_eq!(clock.begin_slice(0, 2_000_000), 2_000_000);
        assert_eq!(clock.now(1_000), 1_000 * NS_PER_INSTRUCTION);
        assert!(clock.idle_until(1_000, 5_000_000));
        assert_eq!(clock.now(1_000), 5_000_000);
        assert_eq!(clock.now(1_500), 5_000_000 + 500 * NS_PER_INSTRUCTION);
        // Idling until the past does nothing; time never decreases.
        assert!(clock.idle_until(1_500, 10));
        assert_eq!(clock.now(1_400), 5_000_000 + 500 * NS_PER_INSTRUCTION);
        assert_eq!(clock.begin_slice(1_500, 0), 1, "at least one instruction");
    }

    struct FakeHost(Rc<Cell<u64>>);
    impl HostClock for FakeHost {
        fn now_ns(&mut self) -> u64 {
            self.0.get()
        }
    }

    fn realtime_at(start: u64) -> (Clock, Rc<Cell<u64>>) {
        let host = Rc::new(Cell::new(start));
        (Clock::realtime(Box::new(FakeHost(host.clone()))), host)
    }

    #[test]
    fn realtime_learns_the_speed_and_tracks_the_host() {
        let (mut clock, host) = realtime_at(7_000);
        assert!(!clock.is_deterministic());
        // The host really runs 300 instructions per microsecond; slices of 1 ms.
        let mut retired = 0;
        for _ in 0..40 {
            let budget = clock.begin_slice(retired, 1_000_000);
            retired += budget;
            host.set(host.get() + budget * 1_000 / 300);
            clock.end_busy_slice(budget);
        }
        let budget = clock.begin_slice(retired, 1_000_000);
        assert!((290_000..=300_000).contains(&budget), "{budget}");
        let guest = clock.now(retired);
        let host_time = host.get() - 7_000;
        assert!(
            guest.abs_diff(host_time) < 1_000_000,
            "guest {guest} host {host_time}"
        );
    }

    #[test]
    fn realtime_rate_is_steady_within_a_slice_and_bounded_between() {
        let (mut clock, host) = realtime_at(0);
        // The host is 10 ms ahead: the slice stretches by at most half.
        host.set(10_000_000);
        let budget = clock.begin_slice(0, 2_000_000);
        assert_eq!(budget, 200_000, "100 MIPS at first");
        assert_eq!(clock.now(budget / 2), 1_500_000);
        assert_eq!(clock.now(budget), 3_000_000);
    }

    #[test]
    fn realtime_idle_follows_the_host_up_to_the_event() {
        let (mut clock, host) = realtime_at(0);
        clock.begin_slice(0, 1_000_000);
        host.set(4_000_000);
        assert!(!clock.idle_until(0, 10_000_000));
        assert_eq!(clock.now(0), 4_000_000);
        host.set(12_000_000);
        assert!(clock.idle_until(0, 10_000_000));
        assert_eq!(clock.now(0), 10_000_000, "not past the event");
        clock.idle_with_host(0);
        assert_eq!(clock.now(0), 12_000_000);
    }
}
