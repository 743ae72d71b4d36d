//! A 128-bit-significand binary floating-point type for evaluating the transcendental
//! functions with enough guard bits that rounding the result to 64 bits is almost always
//! correct. Operations truncate; each loses at most a unit in the 128th bit.

use super::float80::{round_pack, Rounded, Rounding, BIAS, F80};

/// `m × 2^(exp − 127)`, `m` normalized (bit 127 set) or zero.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Wide {
    pub neg: bool,
    pub exp: i32,
    pub m: u128,
}

/// π to 128 bits: 0xC90F…1CD1 × 2^(1 − 127).
pub const PI: Wide = Wide {
    neg: false,
    exp: 1,
    m: 0xC90F_DAA2_2168_C234_C4C6_628B_80DC_1CD1,
};
/// ln 2 to 128 bits.
pub const LN2: Wide = Wide {
    neg: false,
    exp: -1,
    m: 0xB172_17F7_D1CF_79AB_C9E3_B398_03F2_F6AF,
};

/// The 256-bit product of two 128-bit integers as (high, low).
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    let (a1, a0) = (a >> 64, a & u128::from(u64::MAX));
    let (b1, b0) = (b >> 64, b & u128::from(u64::MAX));
    let p00 = a0 * b0;
    let p01 = a0 * b1;
    let p10 = a1 * b0;
    let p11 = a1 * b1;
    let mid = (p00 >> 64) + (p01 & u128::from(u64::MAX)) + (p10 & u128::from(u64::MAX));
    let lo = (p00 & u128::from(u64::MAX)) | (mid << 64);
    let hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    (hi, lo)
}

impl Wide {
    pub const ZERO: Wide = Wide {
        neg: false,
        exp: 0,
        m: 0,
    };
    pub const ONE: Wide = Wide {
        neg: false,
        exp: 0,
        m: 1 << 127,
    };

    /// `m × 2^(exp − 127)` normalized.
    pub fn new(neg: bool, exp: i32, m: u128) -> Self {
        if m == 0 {
            return Self::ZERO;
        }
        let lz = m.leading_zeros();
        Self {
            neg,
            exp: exp - lz as i32,
            m: m << lz,
        }
    }

    pub fn from_u64(v: u64) -> Self {
        Self::new(false, 127, u128::from(v))
    }

    /// An extended value (finite, supported) exactly.
    pub fn from_f80(v: F80) -> Self {
        if v.sig == 0 {
            return Self::ZERO;
        }
        let (sign, e, m) = v.unpack();
        Self::new(sign, e - BIAS, u128::from(m) << 64)
    }

    pub fn is_zero(self) -> bool {
        self.m == 0
    }
    pub fn negated(self) -> Self {
        Self {
            neg: !self.neg && self.m != 0,
            ..self
        }
    }
    pub fn abs(self) -> Self {
        Self { neg: false, ..self }
    }
    /// `self × 2^n`.
    pub fn scale(self, n: i32) -> Self {
        if self.m == 0 {
            return self;
        }
        Self {
            exp: self.exp + n,
            ..self
        }
    }

    pub fn times(self, o: Self) -> Self {
        if self.m == 0 || o.m == 0 {
            return Self::ZERO;
        }
        let (hi, lo) = mul_wide(self.m, o.m);
        let (m, exp) = if hi >> 127 == 1 {
            (hi, self.exp + o.exp + 1)
        } else {
            ((hi << 1) | (lo >> 127), self.exp + o.exp)
        };
        Self {
            neg: self.neg != o.neg,
            exp,
            m,
        }
    }

    pub fn plus(self, o: Self) -> Self {
        if self.m == 0 {
            return o;
        }
        if o.m == 0 {
            return self;
        }
        let (big, small) = if (self.exp, self.m) >= (o.exp, o.m) {
            (self, o)
        } else {
            (o, self)
        };
        let shift = (big.exp - small.exp) as u32;
        // One bit of headroom for the carry.
        let x = big.m >> 1;
        let y = if shift + 1 >= 128 {
            0
        } else {
            small.m >> (shift + 1)
        };
        if big.neg == small.neg {
            Self::new(big.neg, big.exp + 1, x + y)
        } else {
            // Subtract at full width; bits shifted out are jammed into bit 0 so that the
            // difference errs below the true value, as the sticky bit in `round` assumes.
            let y = super::float80::shift_right_jam(small.m, shift);
            Self::new(big.neg, big.exp, big.m - y)
        }
    }

    pub fn minus(self, o: Self) -> Self {
        self.plus(o.negated())
    }

    /// `self ÷ d` for a small integer `d`.
    pub fn div_small(self, d: u64) -> Self {
        if self.m == 0 {
            return self;
        }
        let d = u128::from(d);
        let q = self.m / d;
        let r = self.m % d;
        let s = q.leading_zeros();
        let low = if s == 0 { 0 } else { (r << s) / d };
        Self {
            neg: self.neg,
            exp: self.exp - s as i32,
            m: (q << s) | low,
        }
    }

    pub fn over(self, o: Self) -> Self {
        if self.m == 0 || o.m == 0 {
            return Self::ZERO;
        }
        let (mut r, d) = (self.m, o.m);
        let mut q: u128 = 0;
        let mut carry = false;
        for _ in 0..128 {
            q <<= 1;
            if carry || r >= d {
                r = r.wrapping_sub(d);
                q |= 1;
            }
            carry = r >> 127 == 1;
            r <<= 1;
        }
        Self::new(self.neg != o.neg, self.exp - o.exp, q)
    }

    pub fn sqrt(self) -> Self {
        if self.m == 0 || self.neg {
            return Self::ZERO;
        }
        let approx = (self.m >> 64) as f64 * 2f64.powi((self.exp - 63).clamp(-1000, 1000));
        let mut y = Self::from_f64(approx.sqrt());
        for _ in 0..3 {
            y = y.plus(self.over(y)).scale(-1);
        }
        y
    }

    fn from_f64(v: f64) -> Self {
        let bits = v.to_bits();
        let e = ((bits >> 52) & 0x7FF) as i32 - 1023;
        let m = (bits & ((1 << 52) - 1)) | (1 << 52);
        Self::new(false, e, u128::from(m) << 75)
    }

    /// `self` rounded to nearest (ties to even) at `bits` significant bits (1 to 127), as the
    /// reference hardware rounds its intermediate values.
    pub fn round_nearest(self, bits: u32) -> Self {
        let drop = 128 - bits.clamp(1, 127);
        let half = 1u128 << (drop - 1);
        let low = self.m & ((half << 1) - 1);
        let mut kept = self.m >> drop;
        if low > half || (low == half && kept & 1 == 1) {
            kept += 1;
        }
        Self::new(self.neg, self.exp + drop as i32, kept)
    }

    /// Rounds to an extended value per the control word's rounding mode (full precision).
    pub fn round(self, control: u16) -> Rounded {
        if self.m == 0 {
            return Rounded::exact(F80::zero(self.neg));
        }
        // Truncation error lies below bit 0; mark it sticky so exact-looking ties are not.
        round_pack(
            self.neg,
            self.exp + BIAS,
            self.m | 1,
            &Rounding::full(control),
        )
    }
}
