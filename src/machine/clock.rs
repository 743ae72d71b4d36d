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
    /// Instructions the CPU retires per microsecond of guest time: fixed in deterministic mode,
    /// measured in realtime mode (how fast the host runs the guest), for sizing slices.
    per_us: u64,
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
            per_us: 1_000 / NS_PER_INSTRUCTION,
            skipped: 0,
            last: 0,
        }
    }

    /// Time from the host's clock, starting at zero now.
    pub fn realtime(mut host: Box<dyn HostClock>) -> Self {
        let origin = host.now_ns();
        Self {
            source: Source::Host { host, origin },
            per_us: REALTIME_INITIAL_PER_US,
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

    /// Instructions that take about `ns` of guest time: exact in deterministic mode, an
    /// estimate from the measured speed in realtime mode. At least one.
    pub fn instructions_for(&self, ns: Nanos) -> u64 {
        (ns.saturating_mul(self.per_us) / 1_000).max(1)
    }

    /// Realtime mode: `instructions` ran in `ns` of guest (host) time without idling; refines
    /// the speed estimate (a moving average, so one slow slice does not swing it).
    pub fn observe_speed(&mut self, instructions: u64, ns: Nanos) {
        if self.is_deterministic() || ns < 100_000 {
            return;
        }
        let measured = instructions.saturating_mul(1_000) / ns;
        self.per_us = ((self.per_us * 3 + measured) / 4).clamp(1, 100_000);
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

    #[test]
    fn slices_are_sized_by_speed() {
        let mut clock = Clock::deterministic();
        assert_eq!(clock.instructions_for(2_000_000), 2_000_000);
        clock.observe_speed(1, 1_000_000);
        assert_eq!(
            clock.instructions_for(2_000_000),
            2_000_000,
            "fixed when deterministic"
        );
        assert_eq!(clock.instructions_for(0), 1);

        let host = std::rc::Rc::new(std::cell::Cell::new(0));
        let mut clock = Clock::realtime(Box::new(FakeHost(host)));
        assert_eq!(
            clock.instructions_for(1_000_000),
            100_000,
            "100 MIPS at first"
        );
        // The host turns out to run 300 M instructions per second.
        for _ in 0..20 {
            clock.observe_speed(3_000_000, 10_000_000);
        }
        let estimate = clock.instructions_for(1_000_000);
        assert!((295_000..=300_000).contains(&estimate), "{estimate}");
    }
}
