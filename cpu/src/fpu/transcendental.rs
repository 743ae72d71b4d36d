//! FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X and FYL2XP1: special cases per the SDM's
//! tables, and finite arguments evaluated in [`Wide`] (128-bit significands) before one final
//! rounding, so results are correctly rounded except in cases closer to a rounding boundary
//! than 2^-120 relative.
//!
//! Trigonometric arguments are reduced as the Intel x87 does (SDM vol. 1 §8.3.10): modulo
//! π/2 using a 66-bit approximation of π, exactly; |x| ≥ 2^63 is out of range (C2 set, the
//! operand left unchanged).

use super::arith::{denormal_flag, nan_operand, nan_operands};
use super::fit;
use super::float80::{exc, round_pack, Class, Rounded, Rounding, BIAS, F80};
use super::wide::{Wide, LN2, PI};

/// π rounded to 66 bits, as an integer: π ≈ PI66 × 2^-64.
const PI66: u128 = 0x3_243F_6A88_85A3_08D3;

/// Which trigonometric function.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Trig {
    Sin,
    Cos,
    Tan,
}

/// An invalid operation: IE (which takes priority over DE) and the indefinite.
fn invalid(_denormal: u16) -> Rounded {
    Rounded::flagged(F80::INDEFINITE, exc::IE)
}

fn with_flags(mut r: Rounded, flags: u16) -> Rounded {
    r.flags |= flags;
    r
}

/// `|x|` (finite, nonzero, below 2^63) reduced modulo π66/2: (quadrant mod 4, remainder in
/// [−π/4, π/4]).
fn reduce(x: F80) -> (u32, Wide) {
    let (_, e, m) = x.unpack();
    let shift = e - BIAS + 2;
    if shift < 0 {
        return (0, Wide::from_f80(x.abs()));
    }
    // |x| = n × 2^-65 and π66/2 = PI66 × 2^-65.
    let n = u128::from(m) << shift;
    let mut q = n / PI66;
    let rem = n % PI66;
    let r = if 2 * rem > PI66 {
        q += 1;
        Wide::new(true, 127 - 65, PI66 - rem)
    } else {
        Wide::new(false, 127 - 65, rem)
    };
    ((q & 3) as u32, r)
}

/// sin r and cos r for |r| ≤ π/4 by their Taylor series.
fn sin_cos_series(r: Wide) -> (Wide, Wide) {
    let r2 = r.times(r);
    let mut sin = r;
    let mut term = r;
    let mut k = 1u64;
    while !term.is_zero() && term.exp > sin.exp - 140 {
        term = r2.times(term).div_small((2 * k) * (2 * k + 1)).negated();
        sin = sin.plus(term);
        k += 1;
    }
    let mut cos = Wide::ONE;
    let mut term = Wide::ONE;
    let mut k = 1u64;
    while !term.is_zero() && term.exp > -140 {
        term = r2.times(term).div_small((2 * k - 1) * (2 * k)).negated();
        cos = cos.plus(term);
        k += 1;
    }
    (sin, cos)
}

/// tan r for |r| < 2^-20 by r + r³/3 + 2r⁵/15 + 17r⁷/315: unlike sin r / cos r, every
/// term keeps its sign, so the sticky rounding in [`Wide::round`] errs the right way when
/// tan r rounds to r.
fn tan_small(r: Wide) -> Wide {
    let r2 = r.times(r);
    let r3 = r2.times(r);
    let r5 = r3.times(r2);
    let r7 = r5.times(r2);
    r.plus(r3.div_small(3))
        .plus(r5.times(Wide::from_u64(2)).div_small(15))
        .plus(r7.times(Wide::from_u64(17)).div_small(315))
}

/// FSIN, FCOS or FPTAN's tangent of `x`; `None` when |x| ≥ 2^63 (out of range).
pub fn trig(x: F80, which: Trig, control: u16) -> Option<Rounded> {
    if let Some(nan) = nan_operand(x) {
        return Some(nan);
    }
    match x.class() {
        Class::Infinity => return Some(invalid(0)),
        Class::Zero if which == Trig::Cos => return Some(Rounded::exact(F80::ONE)),
        Class::Zero => return Some(Rounded::exact(x)),
        _ => {}
    }
    if i32::from(x.exp()) - BIAS >= 63 {
        return None;
    }
    let de = denormal_flag(x, x);
    let (q, r) = reduce(x);
    let (s, c) = sin_cos_series(r);
    let value = match (which, q) {
        (Trig::Sin, 0) | (Trig::Cos, 3) => s,
        (Trig::Sin, 1) | (Trig::Cos, 0) => c,
        (Trig::Sin, 2) | (Trig::Cos, 1) => s.negated(),
        (Trig::Sin, _) | (Trig::Cos, _) => c.negated(),
        (Trig::Tan, 0) if r.exp < -20 => tan_small(r),
        (Trig::Tan, q) if q & 1 == 0 => s.over(c),
        (Trig::Tan, _) => c.over(s).negated(),
    };
    // sin and tan are odd, cos even.
    let value = if x.sign() && which != Trig::Cos {
        value.negated()
    } else {
        value
    };
    Some(with_flags(value.round(control), de))
}

/// atan t for 0 ≤ t ≤ 1: two argument halvings t ← t / (1 + √(1 + t²)), then the series;
/// below 2^-32 directly t − t³/3 + t⁵/5, whose subtraction leaves the value (jammed) below t,
/// so a t that is itself representable rounds to t from below, as on the reference hardware.
fn atan_unit(t: Wide) -> Wide {
    if t.exp < -32 {
        let t2 = t.times(t);
        let t3 = t2.times(t);
        return t.minus(t3.div_small(3)).plus(t3.times(t2).div_small(5));
    }
    let mut t = t;
    for _ in 0..2 {
        let hyp = Wide::ONE.plus(t.times(t)).sqrt();
        t = t.over(Wide::ONE.plus(hyp));
    }
    let t2 = t.times(t);
    let mut sum = t;
    let mut power = t;
    let mut k = 1u64;
    loop {
        power = power.times(t2).negated();
        let term = power.div_small(2 * k + 1);
        if term.is_zero() || term.exp < sum.exp - 140 {
            break;
        }
        sum = sum.plus(term);
        k += 1;
    }
    sum.scale(2)
}

/// π rounded to 68 bits (to nearest), the constant the reference hardware adds in FPATAN.
const PI68: Wide = Wide {
    neg: false,
    exp: 1,
    m: 0xC90F_DAA2_2168_C234_C000_0000_0000_0000,
};

/// `a / b` (finite, nonzero, as from [`Wide::from_f80`]) rounded to 68 bits, to nearest: the
/// reference hardware rounds FPATAN's ratio so before taking its arctangent.
fn ratio68(a: Wide, b: Wide) -> Wide {
    // The 64-bit significands (the low halves are zero), divided exactly in two steps.
    let (ma, mb) = (a.m >> 64, b.m >> 64);
    let (hi, rem) = ((ma << 64) / mb, (ma << 64) % mb);
    let (lo, rem) = ((rem << 6) / mb, (rem << 6) % mb);
    // a/b × 2^(70 + b.exp − a.exp), truncated: 70 or 71 bits.
    let q = (hi << 6) | lo;
    let drop = 128 - q.leading_zeros() - 68;
    let low = q & ((1u128 << drop) - 1);
    let half = 1u128 << (drop - 1);
    let mut kept = q >> drop;
    if low > half || (low == half && (rem != 0 || kept & 1 == 1)) {
        kept += 1;
    }
    Wide::new(false, a.exp - b.exp - 70 + 127 + drop as i32, kept)
}

/// The reference hardware's arctangent of the 68-bit ratio u: atan u plus its fitted error
/// u·R(u) (see [`fit::atan`]). Below 2^-7 the host's value is atan u itself (measured), which
/// keeps a representable u rounding to itself from below.
fn atan_hw(u: Wide) -> Wide {
    let exact = atan_unit(u);
    if u.exp < -7 {
        return exact;
    }
    // Clenshaw's recurrence for Σ c_k T_k(x), x = 2u − 1.
    let x = u.scale(1).minus(Wide::ONE);
    let (mut b1, mut b2) = (Wide::ZERO, Wide::ZERO);
    for &c in fit::atan::KERNEL[1..].iter().rev() {
        let b = c.plus(x.times(b1).scale(1)).minus(b2);
        b2 = b1;
        b1 = b;
    }
    let r = fit::atan::KERNEL[0].plus(x.times(b1)).minus(b2);
    exact.plus(u.times(r))
}

/// The fitted smooth error c1·u + c2·u² of one octant (see [`fit::atan`]).
fn octant_error(c: &[Wide; 2], u: Wide) -> Wide {
    c[0].times(u).plus(c[1].times(u).times(u))
}

/// FPATAN: the angle of (x, y) = atan(y/x) placed in the right quadrant.
///
/// Finite operands follow the reference hardware (measured by `scripts/x87-fit/atan.py`): the
/// smaller magnitude over the larger, u, is rounded to 68 bits; atan u is taken (far more
/// precisely) and, outside the first octant, added to or subtracted from π or π/2 rounded to
/// 68 bits, with a small fitted error; π/2 − atan u below 1 is rounded to 68 bits before the
/// final rounding. All this stays within about 0.1 ulp of the exact angle.
pub fn atan2(y: F80, x: F80, control: u16) -> Rounded {
    if let Some(nan) = nan_operands(y, x) {
        return nan;
    }
    let de = denormal_flag(y, x);
    let half_pi = PI.scale(-1);
    let (cy, cx) = (y.class(), x.class());
    let angle = match (cy, cx) {
        (Class::Zero, _) => {
            if x.sign() {
                PI
            } else {
                return Rounded::flagged(y, de);
            }
        }
        (_, Class::Zero) => half_pi,
        (Class::Infinity, Class::Infinity) => {
            let quarter = PI.scale(-2);
            if x.sign() {
                quarter.times(Wide::from_u64(3))
            } else {
                quarter
            }
        }
        (Class::Infinity, _) => half_pi,
        (_, Class::Infinity) => {
            if x.sign() {
                PI
            } else {
                return Rounded::flagged(F80::zero(y.sign()), de);
            }
        }
        _ => {
            let (a, b) = (Wide::from_f80(y).abs(), Wide::from_f80(x).abs());
            let steep = (a.exp, a.m) > (b.exp, b.m);
            let u = if steep { ratio68(b, a) } else { ratio68(a, b) };
            let base = atan_hw(u);
            let half_pi68 = PI68.scale(-1);
            match (x.sign(), steep) {
                (false, false) => base,
                (true, false) => PI68.minus(base).plus(octant_error(&fit::atan::PI_MINUS, u)),
                (true, true) => half_pi68
                    .plus(base)
                    .plus(octant_error(&fit::atan::HALF_PI_PLUS, u)),
                (false, true) => {
                    let angle = half_pi68
                        .minus(base)
                        .plus(octant_error(&fit::atan::HALF_PI_MINUS, u));
                    if angle.exp < 0 {
                        return with_flags(round_68_then_64(angle, y.sign(), control), de);
                    }
                    angle
                }
            }
        }
    };
    let angle = if y.sign() { angle.negated() } else { angle };
    with_flags(angle.round(control), de)
}

/// `v` (positive) rounded to 68 bits to nearest and then to 64 bits per the control word, as
/// the hardware does for π/2 − atan u below 1: a tie at the second rounding goes to even, while
/// an exact second rounding still reports PE and, in C1, the direction of the first.
fn round_68_then_64(v: Wide, neg: bool, control: u16) -> Rounded {
    let drop: u32 = 128 - 68;
    let low = v.m & ((1u128 << drop) - 1);
    let half = 1u128 << (drop - 1);
    let mut kept = v.m >> drop;
    let up = low > half || (low == half && kept & 1 == 1);
    kept += u128::from(up);
    let mut r = round_pack(
        neg,
        v.exp + BIAS + drop as i32,
        kept,
        &Rounding::full(control),
    );
    if r.flags & exc::PE == 0 {
        r.up = up;
        r.flags |= exc::PE;
    }
    r
}

/// e^t − 1 by its Taylor series (|t| below 1).
fn expm1(t: Wide) -> Wide {
    let mut sum = t;
    let mut term = t;
    let mut k = 2u64;
    while !term.is_zero() && term.exp > sum.exp - 140 && k < 200 {
        term = term.times(t).div_small(k);
        sum = sum.plus(term);
        k += 1;
    }
    sum
}

/// F2XM1: 2^x − 1, defined for −1 ≤ x ≤ 1 (larger arguments are split into an integer and a
/// fractional power).
pub fn exp2m1(x: F80, control: u16) -> Rounded {
    if let Some(nan) = nan_operand(x) {
        return nan;
    }
    let de = denormal_flag(x, x);
    match x.class() {
        Class::Zero => return Rounded::exact(x),
        Class::Infinity if x.sign() => return Rounded::exact(F80::ONE.negate()),
        Class::Infinity => return Rounded::exact(x),
        _ => {}
    }
    let w = Wide::from_f80(x);
    let value = if w.exp < 0 {
        expm1(w.times(LN2))
    } else {
        // 2^x = 2^n · 2^f with n the nearest integer (|x| < 2^15 matters; beyond saturates).
        let n = if w.exp >= 20 {
            if x.sign() {
                -40000
            } else {
                40000
            }
        } else {
            super::load_store::to_int(x, 32, 0).0 as u32 as i32
        };
        let f = w.minus(Wide::from_f80(super::load_store::from_i64(i64::from(n))));
        expm1(f.times(LN2))
            .plus(Wide::ONE)
            .scale(n)
            .minus(Wide::ONE)
    };
    with_flags(value.round(control), de)
}

/// ln m for m near 1 (between √2/2 and √2): 2·atanh((m − 1)/(m + 1)).
fn ln_near_one(num: Wide, den: Wide) -> Wide {
    let s = num.over(den);
    let s2 = s.times(s);
    let mut sum = s;
    let mut power = s;
    let mut k = 1u64;
    // Arguments outside the documented range converge slowly: bound the work.
    while k < 400 {
        power = power.times(s2);
        let term = power.div_small(2 * k + 1);
        if term.is_zero() || term.exp < sum.exp - 140 {
            break;
        }
        sum = sum.plus(term);
        k += 1;
    }
    sum.scale(1)
}

/// log2 of a positive finite value.
fn log2(x: F80) -> Wide {
    let (_, e, m) = x.unpack();
    let mut exponent = e - BIAS;
    let mut mant = Wide::new(false, 127 - 63, u128::from(m));
    // Keep the significand within [√2/2, √2): above √2 (0xB504F333…) halve it.
    if m > 0xB504_F333_F9DE_6484 {
        mant = mant.scale(-1);
        exponent += 1;
    }
    let ln = ln_near_one(mant.minus(Wide::ONE), mant.plus(Wide::ONE));
    let frac = ln.over(LN2);
    let int = Wide::new(exponent < 0, 127, u128::from(exponent.unsigned_abs()));
    int.plus(frac)
}

/// The sign of log2(x) for x > 0: −1, 0 (x = 1) or +1.
fn log_sign(x: F80) -> i32 {
    if x == F80::ONE {
        0
    } else if x.class() == Class::Infinity || x.exp() >= 0x3FFF {
        1
    } else {
        -1
    }
}

/// FYL2X: y × log2(x).
pub fn y_log2_x(y: F80, x: F80, control: u16) -> Rounded {
    if let Some(nan) = nan_operands(y, x) {
        return nan;
    }
    let de = denormal_flag(y, x);
    let (cy, cx) = (y.class(), x.class());
    if x.sign() && cx != Class::Zero {
        return invalid(de);
    }
    if cx == Class::Zero {
        return match cy {
            Class::Zero => invalid(de),
            Class::Infinity => Rounded::flagged(F80::infinity(!y.sign()), de),
            // Zero divide takes priority over a denormal operand.
            _ => Rounded::flagged(F80::infinity(!y.sign()), exc::ZE),
        };
    }
    let ls = log_sign(x);
    if cy == Class::Infinity || cx == Class::Infinity {
        // ∞ × log2(x) or y × ∞.
        let other_zero = if cy == Class::Infinity {
            ls == 0
        } else {
            cy == Class::Zero
        };
        if other_zero {
            return invalid(de);
        }
        return Rounded::flagged(F80::infinity(y.sign() != (ls < 0)), de);
    }
    if cy == Class::Zero || ls == 0 {
        return Rounded::flagged(F80::zero(y.sign() != (ls < 0)), de);
    }
    with_flags(Wide::from_f80(y).times(log2(x)).round(control), de)
}

/// FYL2XP1: y × log2(x + 1), for |x| < 1 − √2/2.
pub fn y_log2_xp1(y: F80, x: F80, control: u16) -> Rounded {
    if let Some(nan) = nan_operands(y, x) {
        return nan;
    }
    let de = denormal_flag(y, x);
    let (cy, cx) = (y.class(), x.class());
    match (cy, cx) {
        (Class::Infinity, Class::Zero) | (Class::Zero, Class::Infinity) => return invalid(de),
        (Class::Zero, _) | (_, Class::Zero) => {
            return Rounded::flagged(F80::zero(y.sign() != x.sign()), de)
        }
        (Class::Infinity, _) | (_, Class::Infinity) => {
            if x.sign() && cx == Class::Infinity {
                return invalid(de);
            }
            return Rounded::flagged(F80::infinity(y.sign() != x.sign()), de);
        }
        _ => {}
    }
    let w = Wide::from_f80(x);
    let one_plus = Wide::ONE.plus(w);
    if one_plus.neg || one_plus.is_zero() {
        return invalid(de);
    }
    let log = ln_near_one(w, Wide::ONE.plus(one_plus)).over(LN2);
    with_flags(Wide::from_f80(y).times(log).round(control), de)
}
