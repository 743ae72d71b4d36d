//! FSIN, FCOS, FSINCOS, FPTAN, FPATAN, F2XM1, FYL2X and FYL2XP1: special cases per the SDM's
//! tables, and finite arguments evaluated in [`Wide`] (128-bit significands) before one final
//! rounding.
//!
//! Real x87 units are not correctly rounded: each evaluates its own polynomial approximations,
//! whose errors (up to a few hundredths of an ulp) decide the rounding of about one result in
//! thirty. To round as hardware does, the emulator evaluates the approximations of its
//! reference hardware (AMD's Zen-family x87 unit), fitted to measurements of that unit by the
//! generators in `scripts/x87-fit/` (see `fit`), instead of the exact functions: FSIN, FCOS
//! and FSINCOS (its sine and cosine polynomials), FPTAN (its rational P/Q with 68-bit
//! intermediates, and Q/P in the odd quadrants), FPATAN (its 68-bit ratio and arctangent
//! error), FYL2X and FYL2XP1 (its 68-bit log2) and F2XM1 for |x| < 2^-13 (its Cody–Waite
//! rational). Larger F2XM1 arguments are still evaluated exactly and correctly rounded: the
//! hardware's method there is not yet fully known (`scripts/x87-fit/exp2.py` records what was
//! measured).
//!
//! Trigonometric arguments are reduced as the Intel x87 does (SDM vol. 1 §8.3.10): modulo
//! π/2 using a 66-bit approximation of π, exactly; |x| ≥ 2^63 is out of range (C2 set, the
//! operand left unchanged).

use super::arith::{denormal_flag, nan_operand, nan_operands};
use super::fit;
use super::fit::sincos::{COS, SIN};
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

/// `p(z)` by Horner's rule, coefficients lowest power first.
fn horner(coefficients: &[Wide], z: Wide) -> Wide {
    coefficients
        .iter()
        .rev()
        .fold(Wide::ZERO, |acc, &c| acc.times(z).plus(c))
}

/// sin r and cos r for |r| ≤ π/4 as the reference hardware approximates them: its minimax
/// polynomials in r² (fitted by `scripts/x87-fit/sincos.py`), which are not correctly rounded.
fn sin_cos_model(r: Wide) -> (Wide, Wide) {
    let z = r.times(r);
    (r.times(horner(&SIN, z)), cos_model(r))
}

/// cos r as the reference hardware forms it from its polynomial C(z) = 1 − z·H(z): with z and
/// H(z) rounded to nearest at 68 bits, and their product too, subtracted from one (measured:
/// it reproduces the host's rounding noise near π/4, which the exact C(z) does not).
fn cos_model(r: Wide) -> Wide {
    let z = r.times(r).round_nearest(68);
    let h = horner(&COS[1..], z).negated().round_nearest(68);
    Wide::ONE.minus(z.times(h).round_nearest(68))
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

/// `v` rounded to nearest (ties to even) at [`fit::tan::INTERNAL_BITS`] significant bits.
fn tan_internal(v: Wide) -> Wide {
    v.round_nearest(fit::tan::INTERNAL_BITS)
}

/// `c`(z) as the reference hardware's FPTAN evaluates it (see `fit::tan`): Horner's rule with
/// each product rounded to [`fit::tan::INTERNAL_BITS`] bits, the inner sums exact and the last
/// sum, with the constant term, rounded likewise.
fn tan_horner(c: &[Wide], z: Wide) -> Wide {
    let (last, rest) = c.split_last().expect("coefficients");
    let (constant, middle) = rest.split_first().expect("coefficients");
    let inner = middle
        .iter()
        .rev()
        .fold(*last, |v, &k| tan_internal(v.times(z)).plus(k));
    tan_internal(tan_internal(inner.times(z)).plus(*constant))
}

/// |tan r| (or, with `cot`, 1/|tan r|) for 0 < |r| ≤ π/4 as the reference hardware evaluates
/// it (see `fit::tan`), given the sign `neg`, rounded under `control`: the rounded numerator
/// |r|·P(z) and the rounded Q(z), one divided by the other with an exact remainder, since for
/// tiny r the quotient round68(r·a)/a can be exactly r (the host then returns r in every
/// rounding mode).
fn tan_model(r: Wide, cot: bool, neg: bool, control: u16) -> Rounded {
    let r = Wide { neg: false, ..r };
    let z = tan_internal(r.times(r));
    let num = tan_internal(r.times(tan_horner(&fit::tan::P, z)));
    let den = tan_horner(&fit::tan::Q, z);
    let (num, den) = if cot { (den, num) } else { (num, den) };
    // 68-bit significands (num.m and den.m have bit 127 set), divided in two 59-bit steps:
    // n/d × 2^118 with a sticky bit for a nonzero remainder.
    let drop = 128 - fit::tan::INTERNAL_BITS;
    let (n, d) = (num.m >> drop, den.m >> drop);
    let (hi, rem) = ((n << 59) / d, (n << 59) % d);
    let (lo, rem) = ((rem << 59) / d, (rem << 59) % d);
    let q = (hi << 59) | lo | u128::from(rem != 0);
    // Value q × 2^(num.exp − den.exp − 118); round_pack normalizes q to bit 127.
    round_pack(
        neg,
        num.exp - den.exp - 118 + 127 + BIAS,
        q,
        &Rounding::full(control),
    )
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
    if which == Trig::Tan {
        // r is never zero (π66 is odd and wider than any significand), but a zero would
        // divide by zero in the odd quadrants: keep it on the series path.
        if x.exp() == 0 || r.is_zero() {
            // A denormal: tan x rounds to x, from above.
            let value = tan_small(r);
            let value = if x.sign() { value.negated() } else { value };
            return Some(with_flags(value.round(control), de));
        }
        // tan is odd and has period π: −1/tan r in the odd quadrants.
        let cot = q & 1 == 1;
        let neg = x.sign() ^ r.neg ^ cot;
        return Some(with_flags(tan_model(r, cot, neg, control), de));
    }
    let (s, c) = sin_cos_model(r);
    let value = match (which, q) {
        (Trig::Sin, 0) | (Trig::Cos, 3) => s,
        (Trig::Sin, 1) | (Trig::Cos, 0) => c,
        (Trig::Sin, 2) | (Trig::Cos, 1) => s.negated(),
        _ => c.negated(),
    };
    // sin is odd, cos even.
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

/// `v` rounded to nearest (ties to even) at [`fit::exp2::INTERNAL_BITS`] significant bits, the
/// precision of the reference hardware's intermediate values in F2XM1.
fn exp2_internal(v: Wide) -> Wide {
    v.round_nearest(fit::exp2::INTERNAL_BITS)
}

/// 2^x − 1 for 0 < |x| < 2^[`fit::exp2::SMALL_LIMIT`] as the reference hardware evaluates
/// it (see `fit::exp2`): the Cody–Waite form 2·O/(E − O), O/E ≈ tanh(x·ln2/2), with
/// R = A/2 + R1·x² + R2·x⁴, O = x·R, E = C0 + x·R/tanh(x·ln2/2) − A/ln2 (R unrounded
/// there) and D = E − O each rounded to the internal precision.
fn exp2m1_small(x: Wide) -> Wide {
    use fit::exp2::{A, A_OVER_LN2, C0, R1, R2};
    let w = x.times(x);
    let r = A.scale(-1).plus(R1.times(w)).plus(R2.times(w).times(w));
    let o = exp2_internal(x.times(exp2_internal(r)));
    // x/tanh(x·ln2/2) = x·(e^y + 1)/(e^y − 1) with y = x·ln2.
    let em1 = expm1(x.times(LN2));
    let x_over_tanh = x.times(em1.plus(Wide::ONE.scale(1))).over(em1);
    let e = exp2_internal(C0.plus(r.times(x_over_tanh)).minus(A_OVER_LN2));
    o.scale(1).over(exp2_internal(e.minus(o)))
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
    let value = if w.exp < fit::exp2::SMALL_LIMIT {
        exp2m1_small(w)
    } else if w.exp < 0 {
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

/// `v` rounded to nearest (ties to even) with the reference hardware's internal precision,
/// [`fit::log2::INTERNAL_BITS`] significant bits: its log2 rounds every step so, whatever
/// the rounding control.
fn internal(v: Wide) -> Wide {
    v.round_nearest(fit::log2::INTERNAL_BITS)
}

/// log2((1 + s)/(1 − s)) = 2·atanh(s)/ln 2 for |s| ≤ (√2 − 1)/(√2 + 1) as the hardware
/// evaluates it (see `fit::log2`): the rounded leading term s·2·log2(e) and the rounded
/// rest s³·R(s²), R the polynomial fitted to the host, for the caller to add.
fn log2_near_one(s: Wide) -> (Wide, Wide) {
    let z = s.times(s);
    let rest = fit::log2::REST;
    let mut acc = rest[rest.len() - 1];
    for &c in rest[..rest.len() - 1].iter().rev() {
        acc = acc.times(z).plus(c);
    }
    (
        internal(s.times(fit::log2::TWO_LOG2E)),
        internal(s.times(z).times(acc)),
    )
}

/// log2 of a positive finite value as the hardware computes it before the multiplication by
/// y: x = 2^k·m with m in [√2/2, √2), s = (m − 1)/(m + 1), then (k + leading term) + rest,
/// each step rounded to the internal precision.
fn log2(x: F80) -> Wide {
    let (_, e, m) = x.unpack();
    let mut exponent = e - BIAS;
    let mut mant = Wide::new(false, 127 - 63, u128::from(m));
    // Keep the significand within [√2/2, √2): above √2 (0xB504F333…) halve it.
    if m > 0xB504_F333_F9DE_6484 {
        mant = mant.scale(-1);
        exponent += 1;
    }
    // m ± 1 are exact (66 bits at most).
    let s = internal(mant.minus(Wide::ONE).over(mant.plus(Wide::ONE)));
    let (lead, rest) = log2_near_one(s);
    if exponent == 0 {
        return internal(lead.plus(rest));
    }
    let int = Wide::new(exponent < 0, 127, u128::from(exponent.unsigned_abs()));
    internal(internal(int.plus(lead)).plus(rest))
}

/// y × log2(…) rounded once per the control word. The hardware flags the product as inexact
/// (precision, and underflow when tiny) even when it is exact (x a power of two), but then
/// does not round it.
fn times_log(y: F80, log: Wide, control: u16) -> Rounded {
    let product = Wide::from_f80(y).times(log);
    let inexact = product.round(control);
    if product.is_zero() {
        return inexact;
    }
    // Significant bits of y's and log's significands (both nonzero here).
    let (_, _, ym) = y.unpack();
    let lm = log.m >> (128 - fit::log2::INTERNAL_BITS);
    let bits = (64 - ym.trailing_zeros()) + (fit::log2::INTERNAL_BITS - lm.trailing_zeros());
    if bits > 128 {
        return inexact;
    }
    // The 128-bit product is exact: its value rounds without a sticky bit.
    let exact = round_pack(
        product.neg,
        product.exp + BIAS,
        product.m,
        &Rounding::full(control),
    );
    Rounded {
        flags: inexact.flags,
        ..exact
    }
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
    with_flags(times_log(y, log2(x), control), de)
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
    // log2(1 + x) with s = x/(2 + x), 2 + x rounded first.
    let s = internal(w.over(internal(Wide::ONE.plus(one_plus))));
    let (lead, rest) = log2_near_one(s);
    with_flags(times_log(y, internal(lead.plus(rest)), control), de)
}
