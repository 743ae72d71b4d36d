//! The common case on the host's floating point: rounding to nearest with normal operands and a
//! normal result. IEEE 754 makes the host's `f32`/`f64` result bit-exact on every platform
//! (WebAssembly included: only NaN bits are unspecified there, and no NaN arises here), and
//! a normal result cannot have underflowed, overflowed or met FTZ/DAZ; only PE remains, decided
//! exactly with integer arithmetic or an error-free sum. Anything else returns `None` and takes
//! the exact path.

use super::mxcsr::PE;
use super::softfloat::{Arith, Format, DOUBLE};

/// The significand (with the implicit bit) of a normal value.
fn sig(f: Format, x: u64) -> u128 {
    u128::from((x & f.frac_mask()) | 1 << f.frac_bits)
}

fn normal(f: Format, x: u64) -> bool {
    let e = f.exp_field(x);
    e != 0 && e != f.exp_all()
}

/// The odd part of `v` (trailing zeros removed).
fn odd(v: u128) -> u128 {
    v >> v.trailing_zeros()
}

macro_rules! ops {
    ($t:ty, $bits:ty) => {
        /// `(result bits, inexact)` or `None` when the result is not normal.
        pub(super) fn compute(f: Format, op: Arith, a: u64, b: u64) -> Option<(u64, bool)> {
            let (x, y) = (<$t>::from_bits(a as $bits), <$t>::from_bits(b as $bits));
            let y = if op == Arith::Sub { -y } else { y };
            let r = match op {
                Arith::Add | Arith::Sub => x + y,
                Arith::Mul => x * y,
                Arith::Div => x / y,
            };
            if !r.is_normal() {
                return None;
            }
            let bits = u64::from(r.to_bits());
            let inexact = match op {
                Arith::Add | Arith::Sub => {
                    // Knuth's TwoSum: the exact rounding error of x + y.
                    let yy = r - x;
                    let err = (x - (r - yy)) + (y - yy);
                    err != 0.0
                }
                Arith::Mul => {
                    let p = sig(f, a) * sig(f, b);
                    128 - p.leading_zeros() - p.trailing_zeros() > f.frac_bits + 1
                }
                // Exact iff r × y = x: compare the odd parts of the significands.
                Arith::Div => odd(sig(f, bits) * sig(f, b)) != odd(sig(f, a)),
            };
            Some((bits, inexact))
        }

        pub(super) fn root(f: Format, a: u64) -> Option<(u64, bool)> {
            let r = <$t>::from_bits(a as $bits).sqrt();
            if !r.is_normal() {
                return None;
            }
            let bits = u64::from(r.to_bits());
            let s = sig(f, bits);
            Some((bits, odd(s * s) != odd(sig(f, a))))
        }
    };
}

mod single {
    use super::*;
    ops!(f32, u32);
}
mod double {
    use super::*;
    ops!(f64, u64);
}

pub(super) fn arith(f: Format, op: Arith, a: u64, b: u64) -> Option<(u64, u32)> {
    if !normal(f, a) || !normal(f, b) {
        return None;
    }
    let (bits, inexact) = if f == DOUBLE {
        double::compute(f, op, a, b)?
    } else {
        single::compute(f, op, a, b)?
    };
    Some((bits, if inexact { PE } else { 0 }))
}

pub(super) fn sqrt(f: Format, a: u64) -> Option<(u64, u32)> {
    if !normal(f, a) || f.sign(a) {
        return None;
    }
    let (bits, inexact) = if f == DOUBLE {
        double::root(f, a)?
    } else {
        single::root(f, a)?
    };
    Some((bits, if inexact { PE } else { 0 }))
}
