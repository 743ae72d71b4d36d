//! IEEE 754 binary32/binary64 arithmetic as SSE performs it: exact results rounded once under
//! MXCSR's rounding control, with flush-to-zero, denormals-are-zeros and the exception flags
//! (SDM vol. 1 §4.8, §4.9, §11.5). Values are raw bit patterns in a `u64` (binary32 in the low
//! 32 bits), so results are bit-exact on every host, WebAssembly included; nothing here uses the
//! host's floating point. NaN selection and the other x86-specific rules are in [`super::float`].

use super::mxcsr::{DE, IE, OE, PE, UE, ZE};

/// An IEEE binary interchange format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// Stored fraction bits (the significand has one more, implicit, bit).
    pub frac_bits: u32,
    pub exp_bits: u32,
}

pub const SINGLE: Format = Format {
    frac_bits: 23,
    exp_bits: 8,
};
pub const DOUBLE: Format = Format {
    frac_bits: 52,
    exp_bits: 11,
};

impl Format {
    pub const fn bias(self) -> i32 {
        (1 << (self.exp_bits - 1)) - 1
    }
    pub(crate) const fn exp_all(self) -> u64 {
        (1 << self.exp_bits) - 1
    }
    pub const fn sign_bit(self) -> u64 {
        1 << (self.frac_bits + self.exp_bits)
    }
    pub const fn frac_mask(self) -> u64 {
        (1 << self.frac_bits) - 1
    }
    pub const fn quiet_bit(self) -> u64 {
        1 << (self.frac_bits - 1)
    }
    /// All bits of a value in this format.
    pub const fn mask(self) -> u64 {
        (self.sign_bit() << 1).wrapping_sub(1)
    }
    pub(crate) const fn exp_field(self, x: u64) -> u64 {
        (x >> self.frac_bits) & self.exp_all()
    }
    pub const fn sign(self, x: u64) -> bool {
        x & self.sign_bit() != 0
    }
    pub const fn is_nan(self, x: u64) -> bool {
        self.exp_field(x) == self.exp_all() && x & self.frac_mask() != 0
    }
    pub const fn is_snan(self, x: u64) -> bool {
        self.is_nan(x) && x & self.quiet_bit() == 0
    }
    pub const fn is_denormal(self, x: u64) -> bool {
        self.exp_field(x) == 0 && x & self.frac_mask() != 0
    }
    pub const fn quiet(self, x: u64) -> u64 {
        x | self.quiet_bit()
    }
    /// The QNaN floating-point indefinite: negative, quiet bit only.
    pub const fn default_nan(self) -> u64 {
        self.sign_bit() | self.exp_all() << self.frac_bits | self.quiet_bit()
    }
    pub const fn zero(self, sign: bool) -> u64 {
        if sign {
            self.sign_bit()
        } else {
            0
        }
    }
    pub const fn inf(self, sign: bool) -> u64 {
        self.zero(sign) | self.exp_all() << self.frac_bits
    }
    pub const fn max_finite(self, sign: bool) -> u64 {
        self.inf(sign) - 1
    }
    /// Unbiased exponent of the smallest normal number.
    const fn emin(self) -> i32 {
        1 - self.bias()
    }
}

/// Rounding control (MXCSR.RC, x87 FCW.RC).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    Nearest,
    Down,
    Up,
    TowardZero,
}

/// The MXCSR settings an operation runs under.
#[derive(Clone, Copy, Debug)]
pub struct Env {
    pub rounding: Rounding,
    pub ftz: bool,
    pub daz: bool,
    /// Exception flags whose mask bit is clear.
    pub unmasked: u32,
}

impl Env {
    pub fn from_mxcsr(csr: u32) -> Self {
        use super::mxcsr;
        Self {
            rounding: match (csr >> mxcsr::RC_SHIFT) & 3 {
                0 => Rounding::Nearest,
                1 => Rounding::Down,
                2 => Rounding::Up,
                _ => Rounding::TowardZero,
            },
            ftz: csr & mxcsr::FTZ != 0,
            daz: csr & mxcsr::DAZ != 0,
            unmasked: !(csr >> mxcsr::MASK_SHIFT) & mxcsr::FLAGS,
        }
    }

    /// The same settings with truncation (the CVTT* conversions).
    pub fn truncating(self) -> Self {
        Self {
            rounding: Rounding::TowardZero,
            ..self
        }
    }
}

/// An operand after classification.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    Zero {
        sign: bool,
    },
    Inf {
        sign: bool,
    },
    Nan,
    /// `sig` × 2^`exp`, `sig` nonzero (with the implicit bit for normal numbers).
    Finite {
        sign: bool,
        exp: i32,
        sig: u64,
    },
}

/// Classifies `x`; with `daz` a denormal is read as a zero of the same sign. The flag says the
/// operand was a denormal that was used as one (a denormal-operand condition).
pub fn classify(f: Format, x: u64, daz: bool) -> (Value, bool) {
    let sign = f.sign(x);
    let exp = f.exp_field(x);
    let frac = x & f.frac_mask();
    let unit_exp = f.emin() - f.frac_bits as i32;
    if exp == f.exp_all() {
        return (
            if frac == 0 {
                Value::Inf { sign }
            } else {
                Value::Nan
            },
            false,
        );
    }
    if exp == 0 {
        if frac == 0 || daz {
            return (Value::Zero { sign }, false);
        }
        return (
            Value::Finite {
                sign,
                exp: unit_exp,
                sig: frac,
            },
            true,
        );
    }
    let sig = frac | 1 << f.frac_bits;
    (
        Value::Finite {
            sign,
            exp: unit_exp + exp as i32 - 1,
            sig,
        },
        false,
    )
}

/// Rounds `value` (an unsigned integer) to a multiple of 2^`drop`, returning the quotient by
/// 2^`drop` and whether anything was discarded.
pub fn round_int(value: u128, drop: u32, sign: bool, rounding: Rounding) -> (u128, bool) {
    if drop == 0 {
        return (value, false);
    }
    let (kept, rem, half) = if drop > 128 {
        (0, value, 0)
    } else if drop == 128 {
        (0, value, 1u128 << 127)
    } else {
        (
            value >> drop,
            value & ((1u128 << drop) - 1),
            1u128 << (drop - 1),
        )
    };
    let inexact = rem != 0;
    let up = match rounding {
        Rounding::Nearest => half != 0 && (rem > half || (rem == half && kept & 1 == 1)),
        Rounding::Down => inexact && sign,
        Rounding::Up => inexact && !sign,
        Rounding::TowardZero => false,
    };
    (kept + u128::from(up), inexact)
}

/// Rounds the exact value (-1)^`sign` × `sig` × 2^`exp` (`sig` nonzero; bits below its
/// significance may be ORed into bit 0 as a sticky bit) to format `f`, adding the
/// post-computation flags to `flags` (SDM vol. 1 §4.9.1.4–6, §11.5.2.4–6): overflow, and
/// underflow detected on the tiny result after rounding; masked underflow is flagged only with
/// an inexact result, flush-to-zero replaces a tiny result by zero and sets UE and PE.
pub fn round_pack(f: Format, sign: bool, exp: i32, sig: u128, env: Env, flags: &mut u32) -> u64 {
    let lz = sig.leading_zeros();
    let sig = sig << lz;
    // The value is in [2^e, 2^(e+1)).
    let e = exp - lz as i32 + 127;
    let p = f.frac_bits + 1;
    let (kept, inexact_p) = round_int(sig, 128 - p, sign, env.rounding);
    let e_unbounded = if kept >> p != 0 { e + 1 } else { e };
    if e_unbounded > f.bias() {
        if env.unmasked & OE != 0 {
            *flags |= OE | if inexact_p { PE } else { 0 };
            return f.inf(sign);
        }
        *flags |= OE | PE;
        let to_inf = match env.rounding {
            Rounding::Nearest => true,
            Rounding::Down => sign,
            Rounding::Up => !sign,
            Rounding::TowardZero => false,
        };
        return if to_inf {
            f.inf(sign)
        } else {
            f.max_finite(sign)
        };
    }
    if e >= f.emin() {
        let (m, e) = if kept >> p != 0 {
            (kept >> 1, e + 1)
        } else {
            (kept, e)
        };
        if inexact_p {
            *flags |= PE;
        }
        let biased = (e + f.bias()) as u64;
        return f.zero(sign) | biased << f.frac_bits | (m as u64 & f.frac_mask());
    }
    // Below the normal range: round to a multiple of the smallest denormal.
    let tiny = e_unbounded < f.emin();
    let drop = (f.emin() - f.frac_bits as i32) - (e - 127);
    let (m, inexact) = round_int(sig, drop as u32, sign, env.rounding);
    if tiny {
        if env.unmasked & UE != 0 {
            *flags |= UE | if inexact_p { PE } else { 0 };
        } else if env.ftz {
            *flags |= UE | PE;
            return f.zero(sign);
        } else if inexact {
            *flags |= UE | PE;
        }
    } else if inexact {
        *flags |= PE;
    }
    // A denormal that rounded up to 2^emin carries into the exponent field by itself.
    f.zero(sign) | m as u64
}

/// An exactly computed finite result: zero, or `sig` × 2^`exp` to be rounded.
fn finish(f: Format, sign: bool, exp: i32, sig: u128, env: Env, flags: &mut u32) -> u64 {
    if sig == 0 {
        f.zero(sign)
    } else {
        round_pack(f, sign, exp, sig, env, flags)
    }
}

/// The arithmetic operations with an IEEE-defined exact result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
}

/// `a op b` for non-NaN operands (NaNs are handled by the caller): the result and the flags
/// (invalid, divide-by-zero, denormal, and the post-computation ones).
pub fn arith(f: Format, op: Arith, a: u64, b: u64, env: Env) -> (u64, u32) {
    if env.rounding == Rounding::Nearest {
        if let Some(fast) = crate::simd::fast_path::arith(f, op, a, b) {
            return fast;
        }
    }
    let (va, da) = classify(f, a, env.daz);
    let (vb, db) = classify(f, b, env.daz);
    let mut flags = if da || db { DE } else { 0 };
    let invalid = (f.default_nan(), IE);
    let result = match op {
        Arith::Add | Arith::Sub => {
            let vb = if op == Arith::Sub { negate(vb) } else { vb };
            match (va, vb) {
                (Value::Inf { sign: x }, Value::Inf { sign: y }) if x != y => return invalid,
                (Value::Inf { sign }, _) | (_, Value::Inf { sign }) => f.inf(sign),
                (Value::Zero { sign: x }, Value::Zero { sign: y }) => f.zero(if x == y {
                    x
                } else {
                    env.rounding == Rounding::Down
                }),
                (Value::Zero { .. }, Value::Finite { sign, exp, sig })
                | (Value::Finite { sign, exp, sig }, Value::Zero { .. }) => {
                    round_pack(f, sign, exp, u128::from(sig), env, &mut flags)
                }
                (
                    Value::Finite {
                        sign: sx,
                        exp: ex,
                        sig: mx,
                    },
                    Value::Finite {
                        sign: sy,
                        exp: ey,
                        sig: my,
                    },
                ) => add_finite(f, (sx, ex, mx), (sy, ey, my), env, &mut flags),
                _ => return invalid,
            }
        }
        Arith::Mul => {
            let sign = sign_of(va) != sign_of(vb);
            match (va, vb) {
                (Value::Inf { .. }, Value::Zero { .. })
                | (Value::Zero { .. }, Value::Inf { .. }) => return invalid,
                (Value::Inf { .. }, _) | (_, Value::Inf { .. }) => f.inf(sign),
                (Value::Zero { .. }, _) | (_, Value::Zero { .. }) => f.zero(sign),
                (
                    Value::Finite {
                        exp: ex, sig: mx, ..
                    },
                    Value::Finite {
                        exp: ey, sig: my, ..
                    },
                ) => {
                    let product = u128::from(mx) * u128::from(my);
                    finish(f, sign, ex + ey, product, env, &mut flags)
                }
                _ => return invalid,
            }
        }
        Arith::Div => {
            let sign = sign_of(va) != sign_of(vb);
            match (va, vb) {
                (Value::Inf { .. }, Value::Inf { .. })
                | (Value::Zero { .. }, Value::Zero { .. }) => return invalid,
                (Value::Inf { .. }, _) => f.inf(sign),
                (_, Value::Inf { .. }) | (Value::Zero { .. }, _) => f.zero(sign),
                (Value::Finite { .. }, Value::Zero { .. }) => {
                    // Divide-by-zero outranks the denormal operand (SDM vol. 3A table 6-8).
                    flags = ZE;
                    f.inf(sign)
                }
                (
                    Value::Finite {
                        exp: ex, sig: mx, ..
                    },
                    Value::Finite {
                        exp: ey, sig: my, ..
                    },
                ) => {
                    let (lx, ly) = (mx.leading_zeros(), my.leading_zeros());
                    let num = u128::from(mx << lx) << 64;
                    let den = u128::from(my << ly);
                    let quotient = num / den;
                    let sticky = u128::from(num % den != 0);
                    let exp = (ex - lx as i32) - (ey - ly as i32) - 64;
                    round_pack(f, sign, exp, quotient | sticky, env, &mut flags)
                }
                _ => return invalid,
            }
        }
    };
    (result, flags)
}

/// Adds two nonzero finite values exactly (aligned in 128 bits with a sticky bit) and rounds.
fn add_finite(
    f: Format,
    x: (bool, i32, u64),
    y: (bool, i32, u64),
    env: Env,
    flags: &mut u32,
) -> u64 {
    let (big, small) = if x.1 >= y.1 { (x, y) } else { (y, x) };
    let a = u128::from(big.2) << 64;
    let shift = (big.1 - small.1) as u32;
    let b = u128::from(small.2) << 64;
    let b = if shift >= 127 {
        1
    } else {
        (b >> shift) | u128::from(b & ((1u128 << shift) - 1) != 0)
    };
    let exp = big.1 - 64;
    let (sign, sum) = if big.0 == small.0 {
        (big.0, a + b)
    } else if a >= b {
        (big.0, a - b)
    } else {
        (small.0, b - a)
    };
    if sum == 0 {
        // Exact cancellation: +0, or -0 when rounding down (IEEE 754 §6.3).
        return f.zero(env.rounding == Rounding::Down);
    }
    round_pack(f, sign, exp, sum, env, flags)
}

fn negate(v: Value) -> Value {
    match v {
        Value::Zero { sign } => Value::Zero { sign: !sign },
        Value::Inf { sign } => Value::Inf { sign: !sign },
        Value::Finite { sign, exp, sig } => Value::Finite {
            sign: !sign,
            exp,
            sig,
        },
        Value::Nan => Value::Nan,
    }
}

fn sign_of(v: Value) -> bool {
    match v {
        Value::Zero { sign } | Value::Inf { sign } | Value::Finite { sign, .. } => sign,
        Value::Nan => false,
    }
}

/// Square root of a non-NaN operand: the result and flags.
pub fn sqrt(f: Format, a: u64, env: Env) -> (u64, u32) {
    if env.rounding == Rounding::Nearest {
        if let Some(fast) = super::fast_path::sqrt(f, a) {
            return fast;
        }
    }
    let (va, da) = classify(f, a, env.daz);
    let mut flags = if da { DE } else { 0 };
    let result = match va {
        Value::Zero { sign } => f.zero(sign),
        Value::Inf { sign: false } => f.inf(false),
        Value::Inf { sign: true } | Value::Finite { sign: true, .. } | Value::Nan => {
            return (f.default_nan(), IE)
        }
        Value::Finite { exp, sig, .. } => {
            // sig × 2^exp = s × 2^(exp - shift) with an even exponent and s of 127-128 bits.
            let lz = sig.leading_zeros();
            let mut shift = 64 + lz as i32;
            if (exp - shift) & 1 != 0 {
                shift -= 1;
            }
            let s = u128::from(sig) << shift;
            let root = s.isqrt();
            let sticky = u128::from(root * root != s);
            round_pack(f, false, (exp - shift) / 2, root | sticky, env, &mut flags)
        }
    };
    (result, flags)
}

/// Converts a non-NaN value to a 32-bit signed integer under `env`'s rounding: out of range
/// (or infinite) gives the integer indefinite 0x8000_0000 with IE; an inexact result sets PE.
/// Denormal operands are not reported (the CVT instructions have no #D).
pub fn to_i32(f: Format, a: u64, env: Env) -> (u32, u32) {
    const INDEFINITE: (u32, u32) = (0x8000_0000, IE);
    match classify(f, a, env.daz).0 {
        Value::Zero { .. } => (0, 0),
        Value::Inf { .. } | Value::Nan => INDEFINITE,
        Value::Finite { sign, exp, sig } => {
            let (magnitude, inexact) = if exp >= 0 {
                if exp > 40 {
                    return INDEFINITE;
                }
                (u128::from(sig) << exp, false)
            } else {
                round_int(u128::from(sig), (-exp) as u32, sign, env.rounding)
            };
            let limit = if sign { 1u128 << 31 } else { (1u128 << 31) - 1 };
            if magnitude > limit {
                return INDEFINITE;
            }
            let value = if sign {
                (magnitude as u32).wrapping_neg()
            } else {
                magnitude as u32
            };
            (value, if inexact { PE } else { 0 })
        }
    }
}

/// Converts a signed 32-bit integer to format `f` (inexact only for binary32).
pub fn from_i32(f: Format, v: u32, env: Env) -> (u64, u32) {
    let mut flags = 0;
    let sign = (v as i32) < 0;
    let magnitude = u128::from((v as i32).unsigned_abs());
    (finish(f, sign, 0, magnitude, env, &mut flags), flags)
}

/// Converts a value between formats (CVTSS2SD, CVTSD2SS, ...). NaNs keep their sign and the
/// high bits of their payload and become quiet, an SNaN raising IE.
pub fn convert(from: Format, to: Format, a: u64, env: Env) -> (u64, u32) {
    if from.is_nan(a) {
        let payload = a & from.frac_mask();
        let payload = if to.frac_bits >= from.frac_bits {
            payload << (to.frac_bits - from.frac_bits)
        } else {
            payload >> (from.frac_bits - to.frac_bits)
        };
        let flags = if from.is_snan(a) { IE } else { 0 };
        let result = to.inf(from.sign(a)) | payload | to.quiet_bit();
        return (result, flags);
    }
    let (va, denormal) = classify(from, a, env.daz);
    let mut flags = if denormal { DE } else { 0 };
    let result = match va {
        Value::Zero { sign } => to.zero(sign),
        Value::Inf { sign } => to.inf(sign),
        Value::Finite { sign, exp, sig } => {
            round_pack(to, sign, exp, u128::from(sig), env, &mut flags)
        }
        Value::Nan => to.default_nan(),
    };
    (result, flags)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The host fast path agrees with the exact path wherever it applies, including exact
    /// results (small integers) where PE must stay clear.
    #[test]
    fn fast_path_matches_exact_path() {
        let exact = Env::from_mxcsr(super::super::mxcsr::DEFAULT);
        let mut seed = 0x1234_5678_9ABC_DEF1u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut fast_hits = 0;
        for n in 0..200_000 {
            for f in [SINGLE, DOUBLE] {
                let pick = |r: u64| -> u64 {
                    match n % 3 {
                        // Small integers: many exact sums, products and quotients.
                        0 => {
                            let v = (r % 64) as u32 + 1;
                            from_i32(f, v, exact).0
                        }
                        1 => {
                            let e = u64::from(f.bias() as u32) + (r >> 40) % 16;
                            (r & f.frac_mask() & !0xFFF) | e << f.frac_bits
                        }
                        _ => r & f.mask(),
                    }
                };
                let (a, b) = (pick(next()), pick(next()));
                if f.is_nan(a) || f.is_nan(b) {
                    continue;
                }
                for op in [Arith::Add, Arith::Sub, Arith::Mul, Arith::Div] {
                    if let Some(fast) = crate::simd::fast_path::arith(f, op, a, b) {
                        fast_hits += 1;
                        let slow = {
                            let (va, _) = classify(f, a, false);
                            let (vb, _) = classify(f, b, false);
                            let mut flags = 0;
                            let r = match (va, vb, op) {
                                (
                                    Value::Finite {
                                        sign: sa,
                                        exp: ea,
                                        sig: ma,
                                    },
                                    Value::Finite {
                                        sign: sb,
                                        exp: eb,
                                        sig: mb,
                                    },
                                    Arith::Add | Arith::Sub,
                                ) => {
                                    let sb = sb ^ (op == Arith::Sub);
                                    add_finite(f, (sa, ea, ma), (sb, eb, mb), exact, &mut flags)
                                }
                                (
                                    Value::Finite {
                                        sign: sa,
                                        exp: ea,
                                        sig: ma,
                                    },
                                    Value::Finite {
                                        sign: sb,
                                        exp: eb,
                                        sig: mb,
                                    },
                                    Arith::Mul,
                                ) => finish(
                                    f,
                                    sa != sb,
                                    ea + eb,
                                    u128::from(ma) * u128::from(mb),
                                    exact,
                                    &mut flags,
                                ),
                                _ => {
                                    // Division: the exact path with the fast path bypassed.
                                    let env = Env {
                                        rounding: Rounding::Nearest,
                                        ..exact
                                    };
                                    let (va, vb) =
                                        (classify(f, a, false).0, classify(f, b, false).0);
                                    let (
                                        Value::Finite {
                                            sign: sa,
                                            exp: ex,
                                            sig: mx,
                                        },
                                        Value::Finite {
                                            sign: sb,
                                            exp: ey,
                                            sig: my,
                                        },
                                    ) = (va, vb)
                                    else {
                                        continue;
                                    };
                                    let (lx, ly) = (mx.leading_zeros(), my.leading_zeros());
                                    let num = u128::from(mx << lx) << 64;
                                    let den = u128::from(my << ly);
                                    let q = (num / den) | u128::from(num % den != 0);
                                    round_pack(
                                        f,
                                        sa != sb,
                                        (ex - lx as i32) - (ey - ly as i32) - 64,
                                        q,
                                        env,
                                        &mut flags,
                                    )
                                }
                            };
                            (r, flags)
                        };
                        assert_eq!(fast, slow, "{f:?} {op:?} {a:#x} {b:#x}");
                    }
                }
            }
        }
        assert!(fast_hits > 100_000);
    }
}
