//! SSE/SSE2 floating-point element operations with the x86 rules on top of IEEE arithmetic
//! ([`super::softfloat`]): NaN propagation (SDM vol. 1 table 4-7: the first source operand's
//! NaN wins, SNaNs are quieted), MIN/MAX and compare semantics, the RCP/RSQRT approximations,
//! and the element loops of the packed and scalar forms.

use super::approx_tables;
use super::mxcsr::{DE, IE};
use super::softfloat::{self, classify, Arith, Env, Format, Value, DOUBLE, SINGLE};
use super::Vec128;

/// Element operations (const-generic parameters of the handlers).
pub mod op {
    pub const ADD: u8 = 0;
    pub const SUB: u8 = 1;
    pub const MUL: u8 = 2;
    pub const DIV: u8 = 3;
    pub const MIN: u8 = 4;
    pub const MAX: u8 = 5;
    pub const SQRT: u8 = 6;
    /// CMPccPS/PD/SS/SD with the predicate in the immediate.
    pub const CMP: u8 = 7;
    pub const RCP: u8 = 8;
    pub const RSQRT: u8 = 9;
}

/// Element `i` of `v` in format `f` (four binary32 or two binary64 elements).
#[inline(always)]
pub fn element(v: Vec128, f: Format, i: usize) -> u64 {
    if f == SINGLE {
        (v[i / 2] >> (32 * (i % 2))) & 0xFFFF_FFFF
    } else {
        v[i & 1]
    }
}

/// `v` with element `i` replaced by `x`.
#[inline(always)]
pub fn with_element(mut v: Vec128, f: Format, i: usize, x: u64) -> Vec128 {
    if f == SINGLE {
        let shift = 32 * (i % 2);
        v[i / 2] = (v[i / 2] & !(0xFFFF_FFFF << shift)) | (x & 0xFFFF_FFFF) << shift;
    } else {
        v[i & 1] = x;
    }
    v
}

/// Elements per 128-bit register.
pub const fn lanes(f: Format) -> usize {
    if f.frac_bits == SINGLE.frac_bits {
        4
    } else {
        2
    }
}

/// `x` as an operation under `env` reads it: with DAZ a denormal is a zero of the same sign.
#[inline(always)]
fn daz(f: Format, x: u64, env: Env) -> u64 {
    if env.daz && f.is_denormal(x) {
        x & f.sign_bit()
    } else {
        x
    }
}

/// DE when either operand is a denormal that counts as one.
#[inline(always)]
fn denormal_flag(f: Format, a: u64, b: u64, env: Env) -> u32 {
    if !env.daz && (f.is_denormal(a) || f.is_denormal(b)) {
        DE
    } else {
        0
    }
}

/// Orders two non-NaN values: a key that compares as the values do (±0 equal).
#[inline(always)]
fn order_key(f: Format, x: u64) -> i64 {
    let magnitude = (x & !f.sign_bit() & f.mask()) as i64;
    if f.sign(x) {
        -magnitude
    } else {
        magnitude
    }
}

/// One element of operation `OP`: `a` is the destination's element (first source), `b` the
/// source's; unary operations use `b`. Returns the result and the exception flags.
#[inline(always)]
pub fn compute<const OP: u8>(f: Format, a: u64, b: u64, imm: u8, env: Env) -> (u64, u32) {
    let nan_a = f.is_nan(a);
    let nan_b = f.is_nan(b);
    match OP {
        op::ADD | op::SUB | op::MUL | op::DIV => {
            if nan_a || nan_b {
                let flags = if f.is_snan(a) || f.is_snan(b) { IE } else { 0 };
                return (f.quiet(if nan_a { a } else { b }), flags);
            }
            let arith = match OP {
                op::ADD => Arith::Add,
                op::SUB => Arith::Sub,
                op::MUL => Arith::Mul,
                _ => Arith::Div,
            };
            softfloat::arith(f, arith, a, b, env)
        }
        op::MIN | op::MAX => {
            // SDM vol. 2 MINPS/MAXPS: any NaN, or two zeros, give the second operand; any NaN
            // is an invalid operation. Under DAZ the operand returned is the flushed one.
            if nan_a || nan_b {
                return (daz(f, b, env), IE);
            }
            let flags = denormal_flag(f, a, b, env);
            let (x, y) = (daz(f, a, env), daz(f, b, env));
            let (kx, ky) = (order_key(f, x), order_key(f, y));
            let first = if OP == op::MIN { kx < ky } else { kx > ky };
            (if first { x } else { y }, flags)
        }
        op::SQRT => {
            if nan_b {
                return (f.quiet(b), if f.is_snan(b) { IE } else { 0 });
            }
            softfloat::sqrt(f, b, env)
        }
        op::CMP => {
            let predicate = imm & 7;
            let signalling = matches!(predicate, 1 | 2 | 5 | 6);
            if nan_a || nan_b {
                let invalid = signalling || f.is_snan(a) || f.is_snan(b);
                // Unordered: true for UNORD, NEQ, NLT, NLE.
                let truth = matches!(predicate, 3..=6);
                return (
                    if truth { f.mask() } else { 0 },
                    if invalid { IE } else { 0 },
                );
            }
            let flags = denormal_flag(f, a, b, env);
            let (kx, ky) = (order_key(f, daz(f, a, env)), order_key(f, daz(f, b, env)));
            let truth = match predicate {
                0 => kx == ky,
                1 => kx < ky,
                2 => kx <= ky,
                3 => false,
                4 => kx != ky,
                5 => kx >= ky,
                6 => kx > ky,
                _ => true,
            };
            (if truth { f.mask() } else { 0 }, flags)
        }
        op::RCP => (reciprocal(b, false), 0),
        _ => (reciprocal(b, true), 0),
    }
}

/// RCPPS/RSQRTPS (binary32 only): 1/x or 1/√x as the reference hardware (AMD's Zen family)
/// approximates them, from its tables in [`approx_tables`] (generated by the
/// `sse_approx_tables` example, which also checks every input against the host). The SDM only
/// bounds the error (relative error ≤ 1.5 × 2^-12); each vendor's tables differ. Special cases:
/// ±0 and denormals give ±∞, ∞ gives 0, results below the normal range flush to zero,
/// negative operands of RSQRT give the default NaN, NaNs are quieted. No flags, and MXCSR is
/// not consulted.
pub fn reciprocal(x: u64, sqrt: bool) -> u64 {
    let f = SINGLE;
    if f.is_nan(x) {
        return f.quiet(x);
    }
    let (value, _) = classify(f, x, true);
    match value {
        Value::Zero { sign } => return f.inf(sign),
        Value::Inf { sign } if !sqrt => return f.zero(sign),
        Value::Inf { sign: false } => return 0,
        Value::Inf { .. } | Value::Finite { sign: true, .. } if sqrt => return f.default_nan(),
        _ => {}
    }
    let x = x as u32;
    let sign = x & 0x8000_0000;
    let exponent = ((x >> 23) & 0xFF) as i32 - 127;
    let index = ((x >> 11) & 0xFFF) as usize;
    // The table holds the result's fraction for an input in [1, 2) (RSQRT: [1, 4)), a result
    // in [0.5, 1) whose biased exponent is 126; the input's exponent scales it.
    let (fraction, result_exponent) = if !sqrt {
        (approx_tables::RCP[index], 126 - exponent)
    } else if exponent % 2 == 0 {
        (approx_tables::RSQRT_EVEN[index], 126 - exponent / 2)
    } else {
        (approx_tables::RSQRT_ODD[index], 126 - (exponent - 1) / 2)
    };
    if result_exponent <= 0 {
        return u64::from(sign);
    }
    u64::from(sign | (result_exponent as u32) << 23 | u32::from(fraction) << 11)
}

/// A packed operation over all elements: the new destination and the ORed flags.
#[inline(always)]
pub fn packed<const OP: u8>(f: Format, a: Vec128, b: Vec128, imm: u8, env: Env) -> (Vec128, u32) {
    let mut out = a;
    let mut flags = 0;
    for i in 0..lanes(f) {
        let (r, fl) = compute::<OP>(f, element(a, f, i), element(b, f, i), imm, env);
        out = with_element(out, f, i, r);
        flags |= fl;
    }
    (out, flags)
}

/// A scalar operation: element 0 computed, the rest of the destination kept.
#[inline(always)]
pub fn scalar<const OP: u8>(f: Format, a: Vec128, b: u64, imm: u8, env: Env) -> (Vec128, u32) {
    let (r, flags) = compute::<OP>(f, element(a, f, 0), b, imm, env);
    (with_element(a, f, 0, r), flags)
}

/// COMISS/UCOMISS/COMISD/UCOMISD: (ZF, PF, CF) and the flags. COMIS signals invalid for any
/// NaN, UCOMIS only for SNaNs.
pub fn compare_flags(
    f: Format,
    a: u64,
    b: u64,
    signalling: bool,
    env: Env,
) -> ((bool, bool, bool), u32) {
    if f.is_nan(a) || f.is_nan(b) {
        let invalid = signalling || f.is_snan(a) || f.is_snan(b);
        return ((true, true, true), if invalid { IE } else { 0 });
    }
    let flags = denormal_flag(f, a, b, env);
    let (kx, ky) = (order_key(f, daz(f, a, env)), order_key(f, daz(f, b, env)));
    let result = if kx == ky {
        (true, false, false)
    } else if kx < ky {
        (false, false, true)
    } else {
        (false, false, false)
    };
    (result, flags)
}

/// The format of `double`-selected operations.
pub const fn format(double: bool) -> Format {
    if double {
        DOUBLE
    } else {
        SINGLE
    }
}
