//! The CVT* conversions of SSE and SSE2 between binary32, binary64 and 32-bit integers
//! (SDM vol. 2 CVT*, vol. 1 §11.4.1.4). Float → integer conversions give the integer indefinite
//! 0x8000_0000 for NaNs and out-of-range values; the CVTT* forms truncate.

use super::float::{element, with_element};
use super::mxcsr::IE;
use super::softfloat::{self, Env, Format, DOUBLE, SINGLE};
use super::Vec128;

/// Conversion kinds (const-generic parameters of the handler), named after the instruction.
pub mod kind {
    pub const CVTPI2PS: u8 = 0;
    pub const CVTPS2PI: u8 = 1;
    pub const CVTTPS2PI: u8 = 2;
    pub const CVTSI2SS: u8 = 3;
    pub const CVTSS2SI: u8 = 4;
    pub const CVTTSS2SI: u8 = 5;
    pub const CVTPI2PD: u8 = 6;
    pub const CVTPD2PI: u8 = 7;
    pub const CVTTPD2PI: u8 = 8;
    pub const CVTSI2SD: u8 = 9;
    pub const CVTSD2SI: u8 = 10;
    pub const CVTTSD2SI: u8 = 11;
    pub const CVTPD2DQ: u8 = 12;
    pub const CVTTPD2DQ: u8 = 13;
    pub const CVTDQ2PD: u8 = 14;
    pub const CVTPS2PD: u8 = 15;
    pub const CVTPD2PS: u8 = 16;
    pub const CVTSS2SD: u8 = 17;
    pub const CVTSD2SS: u8 = 18;
    pub const CVTDQ2PS: u8 = 19;
    pub const CVTPS2DQ: u8 = 20;
    pub const CVTTPS2DQ: u8 = 21;
}

/// Where a conversion's result goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    Xmm,
    Mm,
    Gpr,
}

pub const fn dest(k: u8) -> Dest {
    match k {
        kind::CVTPS2PI | kind::CVTTPS2PI | kind::CVTPD2PI | kind::CVTTPD2PI => Dest::Mm,
        kind::CVTSS2SI | kind::CVTTSS2SI | kind::CVTSD2SI | kind::CVTTSD2SI => Dest::Gpr,
        _ => Dest::Xmm,
    }
}

/// A float element to a 32-bit integer.
fn to_int(f: Format, x: u64, env: Env) -> (u64, u32) {
    if f.is_nan(x) {
        return (0x8000_0000, IE);
    }
    let (v, flags) = softfloat::to_i32(f, x, env);
    (u64::from(v), flags)
}

/// 32-bit integer element `i` of `v`.
fn int(v: Vec128, i: usize) -> u32 {
    element(v, SINGLE, i) as u32
}

/// Runs conversion `k` on source `src` (register or memory, in the low bits) into destination
/// `dst` (an XMM value, or an MMX/general register value in element 0). Returns the new
/// destination and the exception flags.
pub fn run(k: u8, dst: Vec128, src: Vec128, env: Env) -> (Vec128, u32) {
    let trunc = env.truncating();
    // Conversions to two doubles replace the whole destination.
    let mut out = if matches!(k, kind::CVTPI2PD | kind::CVTDQ2PD | kind::CVTPS2PD) {
        [0, 0]
    } else {
        dst
    };
    let mut flags = 0;
    // Elements `0..n` of the source, converted by `f` into format `to` of the destination.
    let mut map = |n: usize, from: Format, to: Format, f: &dyn Fn(u64) -> (u64, u32)| {
        for i in 0..n {
            let (r, fl) = f(element(src, from, i));
            out = with_element(out, to, i, r);
            flags |= fl;
        }
    };
    match k {
        kind::CVTPI2PS => map(2, SINGLE, SINGLE, &|x| from_int(SINGLE, x, env)),
        kind::CVTSI2SS => map(1, SINGLE, SINGLE, &|x| from_int(SINGLE, x, env)),
        kind::CVTDQ2PS => map(4, SINGLE, SINGLE, &|x| from_int(SINGLE, x, env)),
        kind::CVTPS2PI => map(2, SINGLE, SINGLE, &|x| to_int(SINGLE, x, env)),
        kind::CVTTPS2PI => map(2, SINGLE, SINGLE, &|x| to_int(SINGLE, x, trunc)),
        kind::CVTSS2SI => map(1, SINGLE, SINGLE, &|x| to_int(SINGLE, x, env)),
        kind::CVTTSS2SI => map(1, SINGLE, SINGLE, &|x| to_int(SINGLE, x, trunc)),
        kind::CVTPS2DQ => map(4, SINGLE, SINGLE, &|x| to_int(SINGLE, x, env)),
        kind::CVTTPS2DQ => map(4, SINGLE, SINGLE, &|x| to_int(SINGLE, x, trunc)),
        kind::CVTSD2SI => map(1, DOUBLE, SINGLE, &|x| to_int(DOUBLE, x, env)),
        kind::CVTTSD2SI => map(1, DOUBLE, SINGLE, &|x| to_int(DOUBLE, x, trunc)),
        kind::CVTPD2PI | kind::CVTPD2DQ => map(2, DOUBLE, SINGLE, &|x| to_int(DOUBLE, x, env)),
        kind::CVTTPD2PI | kind::CVTTPD2DQ => map(2, DOUBLE, SINGLE, &|x| to_int(DOUBLE, x, trunc)),
        kind::CVTPI2PD | kind::CVTDQ2PD => map(2, SINGLE, DOUBLE, &|x| from_int(DOUBLE, x, env)),
        kind::CVTSI2SD => map(1, SINGLE, DOUBLE, &|x| from_int(DOUBLE, x, env)),
        kind::CVTPS2PD => map(2, SINGLE, DOUBLE, &|x| {
            softfloat::convert(SINGLE, DOUBLE, x, env)
        }),
        kind::CVTSS2SD => map(1, SINGLE, DOUBLE, &|x| {
            softfloat::convert(SINGLE, DOUBLE, x, env)
        }),
        kind::CVTSD2SS => map(1, DOUBLE, SINGLE, &|x| {
            softfloat::convert(DOUBLE, SINGLE, x, env)
        }),
        _ => map(2, DOUBLE, SINGLE, &|x| {
            softfloat::convert(DOUBLE, SINGLE, x, env)
        }),
    }
    // The packed double → 32-bit forms with an XMM destination clear its upper half.
    if matches!(k, kind::CVTPD2DQ | kind::CVTTPD2DQ | kind::CVTPD2PS) {
        out[1] = 0;
    }
    (out, flags)
}

fn from_int(f: Format, x: u64, env: Env) -> (u64, u32) {
    softfloat::from_i32(f, x as u32, env)
}

/// The 32-bit integer results of a conversion to a general register.
pub fn gpr_result(v: Vec128) -> u32 {
    int(v, 0)
}
