//! The tests' pseudo-random numbers.

/// xorshift64*: a fixed-seed generator, so failures reproduce.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed` (its lowest bit set: xorshift never leaves 0).
    pub fn new(seed: u64) -> Self {
        Self(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    pub fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    /// A number below `n`, by scaling the next 32 bits.
    pub fn below(&mut self, n: u32) -> u32 {
        ((u64::from(self.next_u32()) * u64::from(n)) >> 32) as u32
    }
    /// The next 64 bits modulo `n` (the x87 tests' operand streams are drawn this way).
    pub fn modulo(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }
    /// True with probability `percent` / 100 (by [`Self::modulo`]).
    pub fn chance(&mut self, percent: u64) -> bool {
        self.modulo(100) < percent
    }
    pub fn bool(&mut self) -> bool {
        self.next_u32() & 1 != 0
    }
}

/// xorshift32: the generator the string tests were written with, kept so that their random
/// cases (and so their run time) stay the same.
pub struct XorShift32(pub u32);

impl XorShift32 {
    pub fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}
