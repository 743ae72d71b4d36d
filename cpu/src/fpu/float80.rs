//! 80-bit extended-precision values and the rounding step every x87 operation ends with.
//!
//! The x87 is modelled directly on integers rather than on a general IEEE library, because the
//! parts that make it an x87 are exactly the parts such libraries leave out: precision control
//! rounds a result *once* to 24, 53 or 64 bits while keeping the 15-bit exponent range (SDM
//! vol. 1 §8.1.5.2), tininess is detected after rounding, unmasked overflow and underflow
//! deliver the result with its exponent biased by ∓24576 (§4.9.1.4–5), and the encodings the
//! 80387 and later no longer support (unnormals, pseudo-NaNs, pseudo-infinities) are invalid
//! operands while pseudo-denormals are accepted as denormals (§8.2.2).

/// Exponent bias of the extended format.
pub const BIAS: i32 = 16383;
/// The biased exponent of infinities and NaNs.
pub const EXP_SPECIAL: u16 = 0x7FFF;
/// The explicit integer bit (J) of the significand.
pub const J: u64 = 1 << 63;
/// The quiet bit of a NaN's significand.
pub const QUIET: u64 = 1 << 62;
/// Exponent adjustment applied to results of unmasked overflow and underflow (§4.9.1.4).
pub const UNMASKED_BIAS: i32 = 24576;

/// Exception flag bits, as in the status word and (bits 0–5) the control word's masks.
pub mod exc {
    /// Invalid operation.
    pub const IE: u16 = 1 << 0;
    /// Denormal operand.
    pub const DE: u16 = 1 << 1;
    /// Divide by zero.
    pub const ZE: u16 = 1 << 2;
    /// Overflow.
    pub const OE: u16 = 1 << 3;
    /// Underflow.
    pub const UE: u16 = 1 << 4;
    /// Precision (inexact result).
    pub const PE: u16 = 1 << 5;
    /// Stack fault (with IE).
    pub const SF: u16 = 1 << 6;
    /// All six exception flags.
    pub const ALL: u16 = 0x3F;
}

/// Rounding-control modes (FCW bits 10–11).
pub mod rc {
    pub const NEAREST: u8 = 0;
    pub const DOWN: u8 = 1;
    pub const UP: u8 = 2;
    pub const ZERO: u8 = 3;
}

/// One 80-bit register value, bit for bit as stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct F80 {
    /// The 64-bit significand with its explicit integer bit.
    pub sig: u64,
    /// Sign (bit 15) and biased exponent (bits 0–14).
    pub se: u16,
}

/// What kind of value a register holds, as the arithmetic sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Zero,
    /// A denormal or pseudo-denormal (exponent 0, significand nonzero).
    Denormal,
    Normal,
    Infinity,
    QNaN,
    SNaN,
    /// Unnormals, pseudo-NaNs and pseudo-infinities: invalid operands since the 80387.
    Unsupported,
}

impl F80 {
    /// The QNaN floating-point indefinite, the masked response to invalid operations.
    pub const INDEFINITE: F80 = F80 {
        sig: 0xC000_0000_0000_0000,
        se: 0xFFFF,
    };
    pub const ONE: F80 = F80 { sig: J, se: 0x3FFF };

    pub const fn new(sign: bool, exp: u16, sig: u64) -> Self {
        Self {
            sig,
            se: ((sign as u16) << 15) | (exp & 0x7FFF),
        }
    }
    pub const fn zero(sign: bool) -> Self {
        Self::new(sign, 0, 0)
    }
    pub const fn infinity(sign: bool) -> Self {
        Self::new(sign, EXP_SPECIAL, J)
    }
    pub const fn sign(self) -> bool {
        self.se & 0x8000 != 0
    }
    pub const fn exp(self) -> u16 {
        self.se & 0x7FFF
    }
    pub const fn negate(self) -> Self {
        Self {
            sig: self.sig,
            se: self.se ^ 0x8000,
        }
    }
    pub const fn abs(self) -> Self {
        Self {
            sig: self.sig,
            se: self.se & 0x7FFF,
        }
    }
    pub const fn with_sign(self, sign: bool) -> Self {
        Self::new(sign, self.exp(), self.sig)
    }

    pub fn class(self) -> Class {
        let exp = self.exp();
        let j = self.sig & J != 0;
        match exp {
            0 if self.sig == 0 => Class::Zero,
            0 => Class::Denormal,
            EXP_SPECIAL if !j => Class::Unsupported,
            EXP_SPECIAL if self.sig << 1 == 0 => Class::Infinity,
            EXP_SPECIAL if self.sig & QUIET != 0 => Class::QNaN,
            EXP_SPECIAL => Class::SNaN,
            _ if !j => Class::Unsupported,
            _ => Class::Normal,
        }
    }

    pub fn is_nan(self) -> bool {
        matches!(self.class(), Class::QNaN | Class::SNaN)
    }

    /// The NaN made quiet (its payload kept).
    pub const fn quiet(self) -> Self {
        Self {
            sig: self.sig | QUIET,
            se: self.se,
        }
    }

    /// A finite nonzero value as (sign, exponent, significand) with the significand
    /// normalized (J set); denormals take exponent 1 before normalizing, pseudo-denormals too.
    pub fn unpack(self) -> (bool, i32, u64) {
        let exp = i32::from(self.exp()).max(1);
        let shift = self.sig.leading_zeros();
        (self.sign(), exp - shift as i32, self.sig << shift)
    }
}

/// A destination format for rounding: significand precision and exponent range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// Significand bits, integer bit included (24, 53 or 64).
    pub precision: u32,
    /// The format's exponent bias (its all-ones exponent is `2 * bias + 1`).
    pub bias: i32,
}

impl Format {
    pub const EXTENDED: Format = Format {
        precision: 64,
        bias: BIAS,
    };
    pub const DOUBLE: Format = Format {
        precision: 53,
        bias: 1023,
    };
    pub const SINGLE: Format = Format {
        precision: 24,
        bias: 127,
    };
    /// Extended range with the precision the control word's PC field selects.
    pub const fn extended(precision: u32) -> Format {
        Format {
            precision,
            bias: BIAS,
        }
    }
    const fn max_exp(self) -> i32 {
        2 * self.bias + 1
    }
}

/// How to round a result: the format, the rounding mode and the exception masks in force.
#[derive(Clone, Copy, Debug)]
pub struct Rounding {
    pub format: Format,
    pub mode: u8,
    /// FCW bits 0–5: set bits are masked exceptions.
    pub masks: u16,
}

impl Rounding {
    /// Rounding as the control word sets it for operations under precision control.
    pub fn controlled(control: u16) -> Self {
        let precision = match (control >> 8) & 3 {
            0 => 24,
            2 => 53,
            _ => 64,
        };
        Self::with_format(control, Format::extended(precision))
    }
    /// Rounding to full extended precision (operations precision control does not affect).
    pub fn full(control: u16) -> Self {
        Self::with_format(control, Format::EXTENDED)
    }
    pub fn with_format(control: u16, format: Format) -> Self {
        Self {
            format,
            mode: ((control >> 10) & 3) as u8,
            masks: control & exc::ALL,
        }
    }
    fn masked(&self, flag: u16) -> bool {
        self.masks & flag != 0
    }
}

/// A rounded result: the value in the destination format's layout (J at bit 63 of `sig`,
/// the format's biased exponent), exception flags and whether rounding increased the magnitude
/// (reported in C1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rounded {
    pub sign: bool,
    pub exp: u16,
    pub sig: u64,
    pub flags: u16,
    pub up: bool,
}

impl Rounded {
    /// The result as an extended value (for extended formats).
    pub fn f80(self) -> F80 {
        F80::new(self.sign, self.exp, self.sig)
    }
    /// A result that needed no rounding.
    pub fn exact(value: F80) -> Self {
        Self {
            sign: value.sign(),
            exp: value.exp(),
            sig: value.sig,
            flags: 0,
            up: false,
        }
    }
    /// An exact value with exception flags.
    pub fn flagged(value: F80, flags: u16) -> Self {
        Self {
            flags,
            ..Self::exact(value)
        }
    }
}

/// `x >> n`, with any bits shifted out ORed into bit 0 (so later rounding sees them).
#[inline]
pub fn shift_right_jam(x: u128, n: u32) -> u128 {
    if n == 0 {
        x
    } else if n >= 128 {
        (x != 0) as u128
    } else {
        (x >> n) | ((x & ((1u128 << n) - 1) != 0) as u128)
    }
}

/// Rounds `v` (MSB at bit 127 or below) to its top `precision` bits in `mode`. Returns the
/// rounded value with the low bits cleared, whether it carried out of bit 127 (then the value
/// is 2^128, returned as 1 << 127), whether anything was lost, and whether it was incremented.
#[inline]
fn round_bits(v: u128, precision: u32, mode: u8, sign: bool) -> (u128, bool, bool, bool) {
    let shift = 128 - precision;
    let mask = (1u128 << shift) - 1;
    let lost = v & mask;
    let kept = v & !mask;
    if lost == 0 {
        return (kept, false, false, false);
    }
    let half = 1u128 << (shift - 1);
    let increment = match mode {
        rc::NEAREST => lost > half || (lost == half && (kept >> shift) & 1 == 1),
        rc::DOWN => sign,
        rc::UP => !sign,
        _ => false,
    };
    if !increment {
        return (kept, false, true, false);
    }
    let (sum, carry) = kept.overflowing_add(1u128 << shift);
    if carry {
        (1 << 127, true, true, true)
    } else {
        (sum, false, true, true)
    }
}

/// Rounds the exact value `sig × 2^(exp - bias - 127)` (a nonzero `sig` normalized to bit 127
/// ... or not: it is normalized here) to `r.format`, applying the masked and unmasked responses
/// to overflow and underflow. `exp` is biased for `r.format` with bit 127 as the integer bit.
pub fn round_pack(sign: bool, exp: i32, sig: u128, r: &Rounding) -> Rounded {
    if sig == 0 {
        return Rounded::exact(F80::zero(sign));
    }
    let lz = sig.leading_zeros();
    let sig = sig << lz;
    let exp = exp - lz as i32;
    let fmt = r.format;
    let max = fmt.max_exp();
    if exp < 1 {
        // Tininess is detected after rounding: tiny if rounding to the precision with an
        // unbounded exponent still leaves the value below the smallest normal.
        let (_, carry, _, _) = round_bits(sig, fmt.precision, r.mode, sign);
        let tiny = exp + i32::from(carry) < 1;
        // Unmasked underflow delivers the result scaled by 2^24576.
        if tiny && !r.masked(exc::UE) {
            if exp + UNMASKED_BIAS < 1 {
                // Too tiny even for the biased exponent (only FSCALE gets here): zero.
                return Rounded {
                    flags: exc::UE | exc::PE,
                    ..Rounded::exact(F80::zero(sign))
                };
            }
            let mut out = round_normal(sign, exp + UNMASKED_BIAS, sig, r);
            out.flags |= exc::UE;
            return out;
        }
        let shifted = shift_right_jam(sig, (1 - exp) as u32);
        let (m, _, inexact, up) = round_bits(shifted, fmt.precision, r.mode, sign);
        let exp = (m >> 127) as u16;
        let mut flags = 0;
        if inexact {
            flags |= exc::PE;
            if tiny {
                flags |= exc::UE;
            }
        }
        return Rounded {
            sign,
            exp,
            sig: (m >> 64) as u64,
            flags,
            up,
        };
    }
    let out = round_normal(sign, exp, sig, r);
    if i32::from(out.exp) < max {
        return out;
    }
    // Overflow (§4.9.1.4).
    if !r.masked(exc::OE) {
        let exp = i32::from(out.exp) - UNMASKED_BIAS;
        if exp < max {
            return Rounded {
                exp: exp as u16,
                flags: out.flags | exc::OE,
                ..out
            };
        }
        // Too large even for the biased exponent (only FSCALE gets here): infinity.
        return Rounded {
            up: true,
            flags: exc::OE | exc::PE,
            ..Rounded::exact(F80::infinity(sign))
        };
    }
    let to_infinity = match r.mode {
        rc::NEAREST => true,
        rc::DOWN => sign,
        rc::UP => !sign,
        _ => false,
    };
    let (exp, sig) = if to_infinity {
        (max as u16, J)
    } else {
        ((max - 1) as u16, u64::MAX << (64 - fmt.precision))
    };
    Rounded {
        sign,
        exp,
        sig,
        flags: exc::OE | exc::PE,
        up: to_infinity,
    }
}

/// Rounds a normalized value whose exponent is at least 1; the exponent may come out too
/// large (the caller handles overflow).
fn round_normal(sign: bool, exp: i32, sig: u128, r: &Rounding) -> Rounded {
    let (m, carry, inexact, up) = round_bits(sig, r.format.precision, r.mode, sign);
    let exp = (exp + carry as i32).clamp(0, 0xFFFF);
    Rounded {
        sign,
        exp: exp as u16,
        sig: (m >> 64) as u64,
        flags: if inexact { exc::PE } else { 0 },
        up,
    }
}

/// Rounds a finite extended value to the format in `r` (precision and range), as a store to a
/// narrower format or the precision-controlled result of an exact operation does.
pub fn round_value(v: F80, r: &Rounding) -> Rounded {
    if v.sig == 0 {
        return Rounded::exact(F80::zero(v.sign()));
    }
    let (sign, exp, sig) = v.unpack();
    round_pack(sign, exp - BIAS + r.format.bias, u128::from(sig) << 64, r)
}
