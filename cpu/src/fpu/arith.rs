//! The basic arithmetic of the x87 on extended values: add, subtract, multiply, divide and
//! square root with their special cases (SDM vol. 1 §4.8.3, §8.5), and the exact operations
//! FPREM/FPREM1, FSCALE, FXTRACT and FRNDINT.

use super::float80::{exc, rc, round_pack, round_value, Class, Rounded, Rounding, BIAS, F80};

/// The response to NaN or unsupported operands of a two-operand operation, if any operand is
/// one: unsupported operands are invalid and give the indefinite; otherwise the NaN rules of
/// SDM vol. 1 table 4-7 (the larger significand wins between two NaNs of one kind, a QNaN wins
/// over an SNaN, and the result is always quiet; any SNaN raises IE).
pub fn nan_operands(a: F80, b: F80) -> Option<Rounded> {
    let (ca, cb) = (a.class(), b.class());
    if ca == Class::Unsupported || cb == Class::Unsupported {
        return Some(Rounded::flagged(F80::INDEFINITE, exc::IE));
    }
    let nan = |c| matches!(c, Class::QNaN | Class::SNaN);
    if !nan(ca) && !nan(cb) {
        return None;
    }
    let flags = if ca == Class::SNaN || cb == Class::SNaN {
        exc::IE
    } else {
        0
    };
    let pick = if nan(ca) && nan(cb) {
        if ca != cb {
            if ca == Class::QNaN {
                a
            } else {
                b
            }
        } else {
            larger_nan(a, b)
        }
    } else if nan(ca) {
        a
    } else {
        b
    };
    Some(Rounded::flagged(pick.quiet(), flags))
}

/// Of two NaNs of the same kind, the one with the larger significand (the positive one when
/// the significands are equal).
fn larger_nan(a: F80, b: F80) -> F80 {
    let (sa, sb) = (a.sig | super::float80::QUIET, b.sig | super::float80::QUIET);
    if sa > sb || (sa == sb && !a.sign()) {
        a
    } else {
        b
    }
}

/// The response to a NaN or unsupported operand of a one-operand operation.
pub fn nan_operand(a: F80) -> Option<Rounded> {
    match a.class() {
        Class::Unsupported => Some(Rounded::flagged(F80::INDEFINITE, exc::IE)),
        Class::SNaN => Some(Rounded::flagged(a.quiet(), exc::IE)),
        Class::QNaN => Some(Rounded::exact(a)),
        _ => None,
    }
}

/// DE when either operand is a denormal.
pub fn denormal_flag(a: F80, b: F80) -> u16 {
    if a.class() == Class::Denormal || b.class() == Class::Denormal {
        exc::DE
    } else {
        0
    }
}

/// An invalid operation: IE with the indefinite. An invalid operation takes priority over a
/// denormal operand, so DE is not raised with it.
fn invalid(_denormal: u16) -> Rounded {
    Rounded::flagged(F80::INDEFINITE, exc::IE)
}

fn with_flags(mut r: Rounded, flags: u16) -> Rounded {
    r.flags |= flags;
    r
}

/// The sign of an exact zero sum of operands with opposite signs (§4.8.3.3): −0 only when
/// rounding down.
fn zero_sum_sign(r: &Rounding) -> bool {
    r.mode == rc::DOWN
}

/// `a + b` (or `a − b` when `subtract`), rounded per `r`.
pub fn add(a: F80, b: F80, subtract: bool, r: &Rounding) -> Rounded {
    if let Some(nan) = nan_operands(a, b) {
        return nan;
    }
    let b = if subtract { b.negate() } else { b };
    let de = denormal_flag(a, b);
    let (ca, cb) = (a.class(), b.class());
    match (ca, cb) {
        (Class::Infinity, Class::Infinity) if a.sign() != b.sign() => return invalid(de),
        (Class::Infinity, _) => return Rounded::flagged(a, de),
        (_, Class::Infinity) => return Rounded::flagged(b, de),
        (Class::Zero, Class::Zero) => {
            let sign = if a.sign() == b.sign() {
                a.sign()
            } else {
                zero_sum_sign(r)
            };
            return Rounded::flagged(F80::zero(sign), de);
        }
        (Class::Zero, _) => return with_flags(round_value(b, r), de),
        (_, Class::Zero) => return with_flags(round_value(a, r), de),
        _ => {}
    }
    let (sa, ea, ma) = a.unpack();
    let (sb, eb, mb) = b.unpack();
    let ((sign, exp, big), (small_sign, small_exp, small)) = if (ea, ma) >= (eb, mb) {
        ((sa, ea, ma), (sb, eb, mb))
    } else {
        ((sb, eb, mb), (sa, ea, ma))
    };
    let x = u128::from(big) << 62;
    let y = super::float80::shift_right_jam(u128::from(small) << 62, (exp - small_exp) as u32);
    let sum = if sign == small_sign { x + y } else { x - y };
    if sum == 0 {
        return Rounded::flagged(F80::zero(zero_sum_sign(r)), de);
    }
    // Bit 125 of `sum` has the weight of the larger operand's integer bit.
    let bias = r.format.bias - BIAS;
    with_flags(round_pack(sign, exp + 2 + bias, sum, r), de)
}

/// `a × b`, rounded per `r`.
pub fn mul(a: F80, b: F80, r: &Rounding) -> Rounded {
    if let Some(nan) = nan_operands(a, b) {
        return nan;
    }
    let de = denormal_flag(a, b);
    let sign = a.sign() != b.sign();
    match (a.class(), b.class()) {
        (Class::Infinity, Class::Zero) | (Class::Zero, Class::Infinity) => return invalid(de),
        (Class::Infinity, _) | (_, Class::Infinity) => {
            return Rounded::flagged(F80::infinity(sign), de)
        }
        (Class::Zero, _) | (_, Class::Zero) => return Rounded::flagged(F80::zero(sign), de),
        _ => {}
    }
    let (_, ea, ma) = a.unpack();
    let (_, eb, mb) = b.unpack();
    let product = u128::from(ma) * u128::from(mb);
    // Bit 126 of the product has weight 2^(ea + eb − 2·BIAS).
    let bias = r.format.bias - BIAS;
    with_flags(round_pack(sign, ea + eb - BIAS + 1 + bias, product, r), de)
}

/// `a ÷ b`, rounded per `r`.
pub fn div(a: F80, b: F80, r: &Rounding) -> Rounded {
    if let Some(nan) = nan_operands(a, b) {
        return nan;
    }
    let de = denormal_flag(a, b);
    let sign = a.sign() != b.sign();
    match (a.class(), b.class()) {
        (Class::Infinity, Class::Infinity) | (Class::Zero, Class::Zero) => return invalid(de),
        (Class::Infinity, _) => return Rounded::flagged(F80::infinity(sign), de),
        (_, Class::Infinity) | (Class::Zero, _) => return Rounded::flagged(F80::zero(sign), de),
        // Zero divide takes priority over a denormal dividend.
        (_, Class::Zero) => return Rounded::flagged(F80::infinity(sign), exc::ZE),
        _ => {}
    }
    let (_, ea, ma) = a.unpack();
    let (_, eb, mb) = b.unpack();
    let (quotient, exp) = divide_significands(ma, mb, ea - eb + BIAS);
    let bias = r.format.bias - BIAS;
    with_flags(round_pack(sign, exp + bias, quotient, r), de)
}

/// The quotient of two normalized significands to 128 bits (MSB at bit 127) with the
/// remainder folded into bit 0, and the quotient's biased exponent given `exp` for ma ≥ mb.
pub fn divide_significands(ma: u64, mb: u64, exp: i32) -> (u128, i32) {
    let (num, exp) = if ma >= mb {
        (u128::from(ma) << 63, exp)
    } else {
        (u128::from(ma) << 64, exp - 1)
    };
    let d = u128::from(mb);
    let q1 = num / d;
    let r1 = num % d;
    let q2 = (r1 << 64) / d;
    let r2 = (r1 << 64) % d;
    ((q1 << 64) | q2 | (r2 != 0) as u128, exp)
}

/// The integer square root of `n` and whether it is exact.
pub fn isqrt(n: u128) -> (u128, u128) {
    if n == 0 {
        return (0, 0);
    }
    // A floating-point estimate refined by one Newton step, then corrected to the exact floor.
    let mut x = (n as f64).sqrt() as u128;
    if x == 0 {
        x = 1;
    }
    x = (x + n / x) / 2;
    while x.checked_mul(x).is_none_or(|sq| sq > n) {
        x -= 1;
    }
    while (x + 1).checked_mul(x + 1).is_some_and(|sq| sq <= n) {
        x += 1;
    }
    (x, n - x * x)
}

/// √a, rounded per `r`.
pub fn sqrt(a: F80, r: &Rounding) -> Rounded {
    if let Some(nan) = nan_operand(a) {
        return nan;
    }
    let de = denormal_flag(a, a);
    match a.class() {
        Class::Zero => return Rounded::exact(a),
        _ if a.sign() => return invalid(de),
        Class::Infinity => return Rounded::exact(a),
        _ => {}
    }
    let (_, e, m) = a.unpack();
    let unbiased = e - BIAS;
    // value = m/2^63 · 2^unbiased; make the exponent even.
    let (n, half) = if unbiased & 1 == 0 {
        (u128::from(m) << 63, unbiased / 2)
    } else {
        (u128::from(m) << 64, (unbiased - 1) / 2)
    };
    let (root, rem) = isqrt(n);
    // root has 64 significant bits; encode what lies below it: above or below one half.
    let below = if rem == 0 {
        0
    } else if rem > root {
        0xC000_0000_0000_0000u128
    } else {
        0x4000_0000_0000_0000u128
    };
    let bias = r.format.bias - BIAS;
    let sig = (root << 64) | below;
    with_flags(round_pack(false, half + BIAS + bias, sig, r), de)
}

/// How FPREM/FPREM1 left the reduction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    /// Complete, with the low bits of the quotient (C0 = Q2, C3 = Q1, C1 = Q0; C2 clear).
    Complete(u64),
    /// Partial: C2 set, call again.
    Partial,
    /// A NaN or invalid operand: C2 (and C1) cleared, C0 and C3 left alone.
    NoCodes,
}

/// Result of FPREM/FPREM1.
pub struct Remainder {
    pub result: Rounded,
    pub quotient: Reduction,
}

/// FPREM (`nearest` false: quotient truncated) and FPREM1 (`nearest` true: IEEE remainder).
/// When the exponents differ by 64 or more only a partial reduction is done (SDM vol. 2
/// FPREM: by a number of bits between 32 and 63), leaving C2 set.
pub fn remainder(a: F80, b: F80, nearest: bool, control: u16) -> Remainder {
    let r = Rounding::full(control);
    let done = |result| Remainder {
        result,
        quotient: Reduction::Complete(0),
    };
    if let Some(nan) = nan_operands(a, b) {
        return Remainder {
            result: nan,
            quotient: Reduction::NoCodes,
        };
    }
    let de = denormal_flag(a, b);
    match (a.class(), b.class()) {
        (Class::Infinity, _) | (_, Class::Zero) => {
            return Remainder {
                result: invalid(de),
                quotient: Reduction::NoCodes,
            }
        }
        (Class::Zero, _) => return done(Rounded::flagged(a, de)),
        // The dividend itself, normalized (a denormal one underflows if UE is unmasked).
        (_, Class::Infinity) => return done(with_flags(round_value(a, &r), de)),
        _ => {}
    }
    let (sign, ea, ma) = a.unpack();
    let (_, eb, mb) = b.unpack();
    let diff = ea - eb;
    if diff < 0 && !(nearest && diff == -1) {
        return done(with_flags(round_value(a, &r), de));
    }
    if diff >= 64 {
        // Partial reduction by 32 + (diff mod 32) bits of quotient.
        let n = 32 + (diff & 31);
        let num = u128::from(ma) << n;
        let rem = num % u128::from(mb);
        let exp = ea - n;
        let result = with_flags(round_pack(sign, exp, rem << 64, &r), de);
        return Remainder {
            result,
            quotient: Reduction::Partial,
        };
    }
    // Exact: a = ma·2^diff·2^(eb−63) in units of b's last place.
    let (num, den, shift) = if diff >= 0 {
        (u128::from(ma) << diff, u128::from(mb), 0)
    } else {
        (u128::from(ma), u128::from(mb) << 1, 1)
    };
    let mut q = num / den;
    let mut rem = num % den;
    let mut sign = sign;
    if nearest && (2 * rem > den || (2 * rem == den && q & 1 == 1)) {
        q += 1;
        rem = den - rem;
        sign = !sign;
    }
    if rem == 0 {
        return Remainder {
            result: Rounded::flagged(F80::zero(a.sign()), de),
            quotient: Reduction::Complete(q as u64),
        };
    }
    // rem is in units of 2^(eb − 63 − shift): at bit 64, bit 127 weighs 2^(eb − shift).
    let result = round_pack(sign, eb - shift, rem << 64, &r);
    Remainder {
        result: with_flags(result, de),
        quotient: Reduction::Complete(q as u64),
    }
}

/// FRNDINT: `a` rounded to an integer in the current rounding mode.
pub fn round_to_integer(a: F80, control: u16) -> Rounded {
    if let Some(nan) = nan_operand(a) {
        return nan;
    }
    let de = denormal_flag(a, a);
    match a.class() {
        Class::Zero | Class::Infinity => return Rounded::exact(a),
        _ => {}
    }
    let r = Rounding::full(control);
    let (sign, e, m) = a.unpack();
    let unbiased = e - BIAS;
    if unbiased >= 63 {
        return Rounded::flagged(F80::new(sign, e as u16, m), de);
    }
    // Fixed point with 64 fraction bits below the integer part.
    let fixed = super::float80::shift_right_jam(u128::from(m) << 64, (63 - unbiased) as u32);
    let int = fixed >> 64;
    let frac = fixed as u64;
    if frac == 0 {
        return Rounded::flagged(F80::new(sign, e as u16, m), de);
    }
    let half = 1u64 << 63;
    let increment = match r.mode {
        rc::NEAREST => frac > half || (frac == half && int & 1 == 1),
        rc::DOWN => sign,
        rc::UP => !sign,
        _ => false,
    };
    let int = int + increment as u128;
    let flags = de | exc::PE;
    if int == 0 {
        return Rounded {
            flags,
            ..Rounded::exact(F80::zero(sign))
        };
    }
    let mut out = round_pack(sign, BIAS + 127, int, &r);
    out.flags |= flags;
    out.up = increment;
    out
}

/// FSCALE: `a × 2^trunc(b)`.
pub fn scale(a: F80, b: F80, control: u16) -> Rounded {
    if let Some(nan) = nan_operands(a, b) {
        return nan;
    }
    let de = denormal_flag(a, b);
    let r = Rounding::full(control);
    match (a.class(), b.class()) {
        (Class::Zero, Class::Infinity) if !b.sign() => return invalid(de),
        (Class::Infinity, Class::Infinity) if b.sign() => return invalid(de),
        (Class::Zero | Class::Infinity, _) => return Rounded::flagged(a, de),
        (_, Class::Infinity) => {
            let v = if b.sign() {
                F80::zero(a.sign())
            } else {
                F80::infinity(a.sign())
            };
            return Rounded::flagged(v, de);
        }
        _ => {}
    }
    let n = scale_count(b);
    let (sign, e, m) = a.unpack();
    with_flags(
        round_pack(sign, e.saturating_add(n), u128::from(m) << 64, &r),
        de,
    )
}

/// trunc(b) as a shift count, clamped to a range beyond which every result saturates.
fn scale_count(b: F80) -> i32 {
    if b.class() == Class::Zero {
        return 0;
    }
    let (sign, e, m) = b.unpack();
    let unbiased = e - BIAS;
    let magnitude = if unbiased < 0 {
        0
    } else if unbiased >= 20 {
        1 << 20
    } else {
        (m >> (63 - unbiased)) as i32
    };
    if sign {
        -magnitude
    } else {
        magnitude
    }
}

/// FXTRACT: (exponent as a value, significand with exponent 0) of a finite nonzero `a`.
/// Zero gives ZE with −∞ as exponent; infinity gives +∞ and the infinity.
pub fn extract(a: F80) -> (Rounded, Rounded) {
    if let Some(nan) = nan_operand(a) {
        return (nan, nan);
    }
    match a.class() {
        Class::Zero => (
            Rounded::flagged(F80::infinity(true), exc::ZE),
            Rounded::exact(a),
        ),
        Class::Infinity => (Rounded::exact(F80::infinity(false)), Rounded::exact(a)),
        c => {
            let de = if c == Class::Denormal { exc::DE } else { 0 };
            let (sign, e, m) = a.unpack();
            let exponent = super::load_store::from_i64(i64::from(e - BIAS));
            (
                Rounded::flagged(exponent, de),
                Rounded::flagged(F80::new(sign, BIAS as u16, m), de),
            )
        }
    }
}
