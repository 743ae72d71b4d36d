//! Conversions between the extended register format and the memory formats FLD/FST, FILD/FIST
//! and FBLD/FBSTP use (SDM vol. 1 §4.2, §4.7, §8.2): single and double reals, 16/32/64-bit
//! integers and 18-digit packed BCD.

use super::float80::{exc, rc, round_value, Class, Format, Rounding, BIAS, F80, J};

/// A real memory format: fraction bits and exponent bias.
#[derive(Clone, Copy)]
pub struct RealFormat {
    pub frac_bits: u32,
    pub exp_bits: u32,
    pub format: Format,
}

pub const SINGLE: RealFormat = RealFormat {
    frac_bits: 23,
    exp_bits: 8,
    format: Format::SINGLE,
};
pub const DOUBLE: RealFormat = RealFormat {
    frac_bits: 52,
    exp_bits: 11,
    format: Format::DOUBLE,
};

impl RealFormat {
    const fn exp_max(self) -> u64 {
        (1 << self.exp_bits) - 1
    }
    /// The format's QNaN indefinite.
    pub const fn indefinite(self) -> u64 {
        (1 << (self.frac_bits + self.exp_bits))
            | (self.exp_max() << self.frac_bits)
            | (1 << (self.frac_bits - 1))
    }
}

/// A single or double real widened to extended: exact. Returns DE for a denormal source;
/// SNaNs stay signaling (FLD quiets them, arithmetic raises IE on them).
pub fn from_real(bits: u64, f: RealFormat) -> (F80, u16) {
    let sign = bits >> (f.frac_bits + f.exp_bits) & 1 != 0;
    let exp = (bits >> f.frac_bits) & f.exp_max();
    let frac = bits & ((1 << f.frac_bits) - 1);
    let align = 63 - f.frac_bits;
    if exp == f.exp_max() {
        return (F80::new(sign, 0x7FFF, J | frac << align), 0);
    }
    if exp == 0 {
        if frac == 0 {
            return (F80::zero(sign), 0);
        }
        // frac · 2^(1 − bias − frac_bits), normalized.
        let lz = frac.leading_zeros() as i32;
        let e = 64 - lz - f.format.bias - f.frac_bits as i32 + BIAS;
        let sig = frac << lz;
        return (F80::new(sign, e as u16, sig), exc::DE);
    }
    let e = exp as i32 - f.format.bias + BIAS;
    (F80::new(sign, e as u16, J | frac << align), 0)
}

/// An extended value narrowed to a single or double real, rounded per the control word.
/// Returns the bits, the exception flags and the rounding direction (for C1).
pub fn to_real(v: F80, f: RealFormat, control: u16) -> (u64, u16, bool) {
    let sign_bit = (v.sign() as u64) << (f.frac_bits + f.exp_bits);
    let nan_frac = |sig: u64| (sig << 1) >> (64 - f.frac_bits);
    match v.class() {
        Class::Unsupported => return (f.indefinite(), exc::IE, false),
        Class::SNaN | Class::QNaN => {
            let flags = if v.class() == Class::SNaN { exc::IE } else { 0 };
            let frac = nan_frac(v.sig | super::float80::QUIET);
            return (sign_bit | f.exp_max() << f.frac_bits | frac, flags, false);
        }
        Class::Infinity => return (sign_bit | f.exp_max() << f.frac_bits, 0, false),
        Class::Zero => return (sign_bit, 0, false),
        _ => {}
    }
    // A denormal source raises no DE here (the stores do not check for it).
    let r = round_value(v, &Rounding::with_format(control, f.format));
    let bits = sign_bit | u64::from(r.exp) << f.frac_bits | nan_frac(r.sig);
    (bits, r.flags, r.up)
}

/// A signed integer widened to extended: exact.
pub fn from_i64(i: i64) -> F80 {
    if i == 0 {
        return F80::zero(false);
    }
    let m = i.unsigned_abs();
    let lz = m.leading_zeros();
    F80::new(i < 0, (BIAS + 63 - lz as i32) as u16, m << lz)
}

/// An extended value rounded to an integer per the control word, for a `bits`-wide signed
/// destination. Out of range, NaN and infinity raise IE with the integer indefinite (the most
/// negative integer) as masked response. Returns (two's-complement value, flags, rounded up).
pub fn to_int(v: F80, bits: u32, control: u16) -> (u64, u16, bool) {
    let indefinite = 1u64 << (bits - 1);
    match v.class() {
        Class::Unsupported | Class::SNaN | Class::QNaN | Class::Infinity => {
            return (indefinite, exc::IE, false)
        }
        Class::Zero => return (0, 0, false),
        _ => {}
    }
    let Some((magnitude, inexact, up)) = integer_magnitude(v, control) else {
        return (indefinite, exc::IE, false);
    };
    let limit = if v.sign() {
        u128::from(indefinite)
    } else {
        u128::from(indefinite) - 1
    };
    if magnitude > limit {
        return (indefinite, exc::IE, false);
    }
    let value = if v.sign() {
        (magnitude as u64).wrapping_neg()
    } else {
        magnitude as u64
    };
    let mask = if bits == 64 {
        u64::MAX
    } else {
        (1 << bits) - 1
    };
    let flags = if inexact { exc::PE } else { 0 };
    (value & mask, flags, up)
}

/// |v| rounded to an integer in the control word's rounding mode: (magnitude, inexact, rounded
/// up), or `None` when it is 2^64 or more.
fn integer_magnitude(v: F80, control: u16) -> Option<(u128, bool, bool)> {
    let (sign, e, m) = v.unpack();
    let unbiased = e - BIAS;
    if unbiased >= 64 {
        return None;
    }
    let fixed = super::float80::shift_right_jam(u128::from(m) << 64, (63 - unbiased) as u32);
    let (int, frac) = (fixed >> 64, fixed as u64);
    if frac == 0 {
        return Some((int, false, false));
    }
    let half = 1u64 << 63;
    let increment = match ((control >> 10) & 3) as u8 {
        rc::NEAREST => frac > half || (frac == half && int & 1 == 1),
        rc::DOWN => sign,
        rc::UP => !sign,
        _ => false,
    };
    Some((int + increment as u128, true, increment))
}

/// The packed-BCD indefinite FBSTP stores as masked response to IE.
pub const BCD_INDEFINITE: [u8; 10] = [0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF];

/// FBLD: 18 packed decimal digits (bytes 0–8, low digit in the low nibble) and the sign in
/// bit 7 of byte 9, converted exactly. Nibbles above 9 are weighted like digits.
pub fn from_bcd(bytes: [u8; 10]) -> F80 {
    let mut value: u64 = 0;
    for &b in bytes[..9].iter().rev() {
        value = value
            .wrapping_mul(10)
            .wrapping_add(u64::from(b >> 4))
            .wrapping_mul(10)
            .wrapping_add(u64::from(b & 0xF));
    }
    let sign = bytes[9] & 0x80 != 0;
    if value == 0 {
        return F80::zero(sign);
    }
    let lz = value.leading_zeros();
    F80::new(sign, (BIAS + 63 - lz as i32) as u16, value << lz)
}

/// FBSTP: `v` rounded to an integer per the control word and packed as 18 BCD digits.
pub fn to_bcd(v: F80, control: u16) -> ([u8; 10], u16, bool) {
    let sign_byte = if v.sign() { 0x80 } else { 0 };
    let (magnitude, inexact, up) = match v.class() {
        Class::Zero => (0, false, false),
        Class::Normal | Class::Denormal => match integer_magnitude(v, control) {
            Some(m) => m,
            None => return (BCD_INDEFINITE, exc::IE, false),
        },
        _ => return (BCD_INDEFINITE, exc::IE, false),
    };
    if magnitude >= 1_000_000_000_000_000_000 {
        return (BCD_INDEFINITE, exc::IE, false);
    }
    let mut out = [0u8; 10];
    let mut rest = magnitude as u64;
    for byte in out.iter_mut().take(9) {
        let low = (rest % 10) as u8;
        rest /= 10;
        let high = (rest % 10) as u8;
        rest /= 10;
        *byte = high << 4 | low;
    }
    out[9] = sign_byte;
    let flags = if inexact { exc::PE } else { 0 };
    (out, flags, up)
}
