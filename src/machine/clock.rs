//! The machine's one clock. Every device, the PIT, the RTC and the TSC (RDTSC) read guest time
//! from here, so they always agree with each other: the kernel calibrates the TSC against the
//! PIT and checks both against the RTC.
//!
//! Two sources: **deterministic**, where time is a function of the instructions retired (one
//! instruction is [`NS_PER_INSTRUCTION`] ns) plus the idle time skipped while the CPU halts, so
//! the same input gives the same run; and **realtime**, where time is the host's monotonic
//! clock, read through [`HostClock`] (the native front end passes `Instant`, a browser
//! `performance.now()`), so `sleep 1` in the guest takes a second. No device reads the host.

/// Guest time in nanoseconds since power-on.
pub type Nanos = u64;

/// Nominal guest speed in deterministic mode: one instruction per nanosecond (1000 MIPS).
pub const NS_PER_INSTRUCTION: u64 = 1;
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

enum Source {
    Instructions,
    Host {
        host: Box<dyn HostClock>,
        origin: u64,
    },
}

/// Guest time for the whole machine.
pub struct Clock {
    source: Source,
    /// Deterministic mode: guest time skipped while the CPU idled in HLT.
    skipped: Nanos,
    /// The latest time handed out: guest time never goes backwards.
    last: Nanos,
}

impl Clock {
    /// Time from retired instructions: same run, same times.
    pub fn deterministic() -> Self {
        Self {
            source: Source::Instructions,
            skipped: 0,
            last: 0,
        }
    }

    /// Time from the host's clock, starting at zero now.
    pub fn realtime(mut host: Box<dyn HostClock>) -> Self {
        let origin = host.now_ns();
        Self {
            source: Source::Host { host, origin },
            skipped: 0,
            last: 0,
        }
    }

    pub fn is_deterministic(&self) -> bool {
        matches!(self.source, Source::Instructions)
    }

    /// Guest time now, with `retired` instructions retired since power-on.
    pub fn now(&mut self, retired: u64) -> Nanos {
        let raw = match &mut self.source {
            Source::Instructions => retired
                .wrapping_mul(NS_PER_INSTRUCTION)
                .wrapping_add(self.skipped),
            Source::Host { host, origin } => host.now_ns().saturating_sub(*origin),
        };
        self.last = self.last.max(raw);
        self.last
    }

    /// Instructions that take `ns` of guest time (deterministic mode; in realtime mode the same
    /// nominal rate sizes slices).
    pub fn instructions_for(ns: Nanos) -> u64 {
        (ns / NS_PER_INSTRUCTION).max(1)
    }

    /// Deterministic mode: the CPU idles until `until`; jump there. No effect in realtime mode
    /// (the host waits instead) or when `until` is not in the future.
    pub fn skip_to(&mut self, until: Nanos, retired: u64) {
        if self.is_deterministic() {
            let now = self.now(retired);
            if until > now {
                self.skipped += until - now;
                self.last = until;
            }
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

    #[test]
    fn deterministic_time_follows_instructions_and_skips() {
        let mut clock = Clock::deterministic();
        assert_eq!(clock.now(0), 0);
        assert_eq!(clock.now(1_000), 1_000 * NS_PER_INSTRUCTION);
        clock.skip_to(5_000_000, 1_000);
        assert_eq!(clock.now(1_000), 5_000_000);
        assert_eq!(clock.now(1_500), 5_000_000 + 500 * NS_PER_INSTRUCTION);
        // Skipping backwards does nothing; time never decreases.
        clock.skip_to(10, 1_500);
        assert_eq!(clock.now(1_400), 5_000_000 + 500 * NS_PER_INSTRUCTION);
    }

    struct FakeHost(std::rc::Rc<std::cell::Cell<u64>>);
    impl HostClock for FakeHost {
        fn now_ns(&mut self) -> u64 {
            self.0.get()
        }
    }

    #[test]
    fn realtime_follows_the_host_from_zero() {
        let host = std::rc::Rc::new(std::cell::Cell::new(7_000));
        let mut clock = Clock::realtime(Box::new(FakeHost(host.clone())));
        assert!(!clock.is_deterministic());
        assert_eq!(clock.now(123), 0);
        host.set(9_500);
        assert_eq!(clock.now(0), 2_500);
        clock.skip_to(1_000_000, 0);
        assert_eq!(
            clock.now(0),
            2_500,
            "realtime idles on the host, not by skipping"
        );
        host.set(8_000);
        assert_eq!(clock.now(0), 2_500, "never backwards");
    }
}
