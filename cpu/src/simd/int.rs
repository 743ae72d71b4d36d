//! Packed-integer operations of MMX, the SSE MMX extensions and SSE2 (SDM vol. 1 §9.4, §10.4.4,
//! §11.4.2). One implementation serves both register widths: an MMX value is element 0 of a
//! [`Vec128`] and `xmm` says whether element 1 takes part.

use super::Vec128;

/// Operations (const-generic parameters of the handlers).
pub mod op {
    pub const PADDB: u8 = 0;
    pub const PADDW: u8 = 1;
    pub const PADDD: u8 = 2;
    pub const PADDQ: u8 = 3;
    pub const PADDSB: u8 = 4;
    pub const PADDSW: u8 = 5;
    pub const PADDUSB: u8 = 6;
    pub const PADDUSW: u8 = 7;
    pub const PSUBB: u8 = 8;
    pub const PSUBW: u8 = 9;
    pub const PSUBD: u8 = 10;
    pub const PSUBQ: u8 = 11;
    pub const PSUBSB: u8 = 12;
    pub const PSUBSW: u8 = 13;
    pub const PSUBUSB: u8 = 14;
    pub const PSUBUSW: u8 = 15;
    pub const PAND: u8 = 16;
    pub const PANDN: u8 = 17;
    pub const POR: u8 = 18;
    pub const PXOR: u8 = 19;
    pub const PCMPEQB: u8 = 20;
    pub const PCMPEQW: u8 = 21;
    pub const PCMPEQD: u8 = 22;
    pub const PCMPGTB: u8 = 23;
    pub const PCMPGTW: u8 = 24;
    pub const PCMPGTD: u8 = 25;
    pub const PMULLW: u8 = 26;
    pub const PMULHW: u8 = 27;
    pub const PMULHUW: u8 = 28;
    pub const PMADDWD: u8 = 29;
    pub const PMULUDQ: u8 = 30;
    pub const PAVGB: u8 = 31;
    pub const PAVGW: u8 = 32;
    pub const PMINUB: u8 = 33;
    pub const PMAXUB: u8 = 34;
    pub const PMINSW: u8 = 35;
    pub const PMAXSW: u8 = 36;
    pub const PSADBW: u8 = 37;
    pub const PACKSSWB: u8 = 38;
    pub const PACKSSDW: u8 = 39;
    pub const PACKUSWB: u8 = 40;
    pub const PUNPCKLBW: u8 = 41;
    pub const PUNPCKLWD: u8 = 42;
    pub const PUNPCKLDQ: u8 = 43;
    pub const PUNPCKLQDQ: u8 = 44;
    pub const PUNPCKHBW: u8 = 45;
    pub const PUNPCKHWD: u8 = 46;
    pub const PUNPCKHDQ: u8 = 47;
    pub const PUNPCKHQDQ: u8 = 48;
}

/// Shift operations.
pub mod shift {
    pub const PSRLW: u8 = 0;
    pub const PSRLD: u8 = 1;
    pub const PSRLQ: u8 = 2;
    pub const PSRAW: u8 = 3;
    pub const PSRAD: u8 = 4;
    pub const PSLLW: u8 = 5;
    pub const PSLLD: u8 = 6;
    pub const PSLLQ: u8 = 7;
    /// Whole-register byte shifts (XMM only).
    pub const PSRLDQ: u8 = 8;
    pub const PSLLDQ: u8 = 9;
}

/// Applies `f` to each `W`-bit lane of `a` and `b` (lanes zero-extended; the result is masked).
#[inline(always)]
fn lanes<const W: u32>(a: u64, b: u64, f: impl Fn(u64, u64) -> u64) -> u64 {
    let mask = if W == 64 { u64::MAX } else { (1u64 << W) - 1 };
    let mut out = 0;
    let mut at = 0;
    while at < 64 {
        out |= (f((a >> at) & mask, (b >> at) & mask) & mask) << at;
        at += W;
    }
    out
}

/// Sign-extends a `W`-bit lane.
#[inline(always)]
const fn sx<const W: u32>(x: u64) -> i64 {
    ((x << (64 - W)) as i64) >> (64 - W)
}

/// Saturates to a signed `W`-bit lane.
#[inline(always)]
fn sat_s<const W: u32>(v: i64) -> u64 {
    let max = (1i64 << (W - 1)) - 1;
    v.clamp(-max - 1, max) as u64
}

/// Saturates to an unsigned `W`-bit lane.
#[inline(always)]
fn sat_u<const W: u32>(v: i64) -> u64 {
    v.clamp(0, (1i64 << W) - 1) as u64
}

/// The lane-wise operations on one quadword (every operation up to PSADBW keeps its lanes
/// within a quadword).
#[inline(always)]
fn quad(op: u8, a: u64, b: u64) -> u64 {
    match op {
        op::PADDB => lanes::<8>(a, b, |x, y| x.wrapping_add(y)),
        op::PADDW => lanes::<16>(a, b, |x, y| x.wrapping_add(y)),
        op::PADDD => lanes::<32>(a, b, |x, y| x.wrapping_add(y)),
        op::PADDQ => a.wrapping_add(b),
        op::PADDSB => lanes::<8>(a, b, |x, y| sat_s::<8>(sx::<8>(x) + sx::<8>(y))),
        op::PADDSW => lanes::<16>(a, b, |x, y| sat_s::<16>(sx::<16>(x) + sx::<16>(y))),
        op::PADDUSB => lanes::<8>(a, b, |x, y| sat_u::<8>((x + y) as i64)),
        op::PADDUSW => lanes::<16>(a, b, |x, y| sat_u::<16>((x + y) as i64)),
        op::PSUBB => lanes::<8>(a, b, |x, y| x.wrapping_sub(y)),
        op::PSUBW => lanes::<16>(a, b, |x, y| x.wrapping_sub(y)),
        op::PSUBD => lanes::<32>(a, b, |x, y| x.wrapping_sub(y)),
        op::PSUBQ => a.wrapping_sub(b),
        op::PSUBSB => lanes::<8>(a, b, |x, y| sat_s::<8>(sx::<8>(x) - sx::<8>(y))),
        op::PSUBSW => lanes::<16>(a, b, |x, y| sat_s::<16>(sx::<16>(x) - sx::<16>(y))),
        op::PSUBUSB => lanes::<8>(a, b, |x, y| sat_u::<8>(x as i64 - y as i64)),
        op::PSUBUSW => lanes::<16>(a, b, |x, y| sat_u::<16>(x as i64 - y as i64)),
        op::PAND => a & b,
        op::PANDN => !a & b,
        op::POR => a | b,
        op::PXOR => a ^ b,
        op::PCMPEQB => lanes::<8>(a, b, |x, y| if x == y { u64::MAX } else { 0 }),
        op::PCMPEQW => lanes::<16>(a, b, |x, y| if x == y { u64::MAX } else { 0 }),
        op::PCMPEQD => lanes::<32>(a, b, |x, y| if x == y { u64::MAX } else { 0 }),
        op::PCMPGTB => lanes::<8>(
            a,
            b,
            |x, y| if sx::<8>(x) > sx::<8>(y) { u64::MAX } else { 0 },
        ),
        op::PCMPGTW => lanes::<16>(a, b, |x, y| {
            if sx::<16>(x) > sx::<16>(y) {
                u64::MAX
            } else {
                0
            }
        }),
        op::PCMPGTD => lanes::<32>(a, b, |x, y| {
            if sx::<32>(x) > sx::<32>(y) {
                u64::MAX
            } else {
                0
            }
        }),
        op::PMULLW => lanes::<16>(a, b, |x, y| x.wrapping_mul(y)),
        op::PMULHW => lanes::<16>(a, b, |x, y| ((sx::<16>(x) * sx::<16>(y)) >> 16) as u64),
        op::PMULHUW => lanes::<16>(a, b, |x, y| (x * y) >> 16),
        op::PMADDWD => lanes::<32>(a, b, |x, y| {
            let lo = sx::<16>(x & 0xFFFF) * sx::<16>(y & 0xFFFF);
            let hi = sx::<16>(x >> 16) * sx::<16>(y >> 16);
            // Only 0x8000 × 0x8000 twice overflows: it wraps to 0x8000_0000 as on hardware.
            (lo + hi) as u64
        }),
        op::PMULUDQ => (a & 0xFFFF_FFFF) * (b & 0xFFFF_FFFF),
        op::PAVGB => lanes::<8>(a, b, |x, y| (x + y + 1) >> 1),
        op::PAVGW => lanes::<16>(a, b, |x, y| (x + y + 1) >> 1),
        op::PMINUB => lanes::<8>(a, b, |x, y| x.min(y)),
        op::PMAXUB => lanes::<8>(a, b, |x, y| x.max(y)),
        op::PMINSW => lanes::<16>(a, b, |x, y| if sx::<16>(x) < sx::<16>(y) { x } else { y }),
        op::PMAXSW => lanes::<16>(a, b, |x, y| if sx::<16>(x) > sx::<16>(y) { x } else { y }),
        _ => {
            // PSADBW: sum of absolute byte differences in the low word, zeros above.
            (0..8)
                .map(|i| {
                    let (x, y) = ((a >> (8 * i)) & 0xFF, (b >> (8 * i)) & 0xFF);
                    x.abs_diff(y)
                })
                .sum()
        }
    }
}

/// The register as bytes: 8 for MMX, 16 for XMM.
#[inline(always)]
fn bytes(v: Vec128) -> [u8; 16] {
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&v[0].to_le_bytes());
    out[8..].copy_from_slice(&v[1].to_le_bytes());
    out
}

#[inline(always)]
fn from_bytes(b: [u8; 16]) -> Vec128 {
    let lo = u64::from_le_bytes(b[..8].try_into().unwrap_or([0; 8]));
    let hi = u64::from_le_bytes(b[8..].try_into().unwrap_or([0; 8]));
    [lo, hi]
}

/// Interleaves the low (or high) halves of `a` and `b` in `w`-byte elements (PUNPCKL*/H*,
/// UNPCKL/HPS/PD).
fn unpack(a: Vec128, b: Vec128, w: usize, high: bool, n: usize) -> Vec128 {
    let (a, b) = (bytes(a), bytes(b));
    let mut out = [0u8; 16];
    let start = if high { n / 2 } else { 0 };
    for i in 0..n / 2 / w {
        let from = start + i * w;
        out[2 * i * w..2 * i * w + w].copy_from_slice(&a[from..from + w]);
        out[(2 * i + 1) * w..(2 * i + 2) * w].copy_from_slice(&b[from..from + w]);
    }
    from_bytes(out)
}

/// Packs the signed `2w`-byte elements of `a` then `b` into `w`-byte elements with signed or
/// unsigned saturation (PACKSSWB, PACKSSDW, PACKUSWB).
fn pack(a: Vec128, b: Vec128, w: usize, signed: bool, n: usize) -> Vec128 {
    let per = n / (2 * w);
    let mut out: Vec128 = [0, 0];
    for (k, src) in [a, b].into_iter().enumerate() {
        for i in 0..per {
            let wide_bits = 16 * w;
            let bit = i * wide_bits;
            let raw = (src[bit / 64] >> (bit % 64)) & ((1u64 << wide_bits) - 1);
            let value = if w == 1 { sx::<16>(raw) } else { sx::<32>(raw) };
            let narrow = match (w, signed) {
                (1, true) => sat_s::<8>(value),
                (1, false) => sat_u::<8>(value),
                _ => sat_s::<16>(value),
            } & ((1u64 << (8 * w)) - 1);
            let at = (k * per + i) * 8 * w;
            out[at / 64] |= narrow << (at % 64);
        }
    }
    out
}

/// `a op b` on a 64-bit (`xmm` false) or 128-bit register.
#[inline(always)]
pub fn binop(op: u8, a: Vec128, b: Vec128, xmm: bool) -> Vec128 {
    let n = if xmm { 16 } else { 8 };
    if op <= op::PSADBW {
        let lo = quad(op, a[0], b[0]);
        return if xmm {
            [lo, quad(op, a[1], b[1])]
        } else {
            [lo, a[1]]
        };
    }
    match op {
        op::PACKSSWB => pack(a, b, 1, true, n),
        op::PACKSSDW => pack(a, b, 2, true, n),
        op::PACKUSWB => pack(a, b, 1, false, n),
        op::PUNPCKLBW => unpack(a, b, 1, false, n),
        op::PUNPCKLWD => unpack(a, b, 2, false, n),
        op::PUNPCKLDQ => unpack(a, b, 4, false, n),
        op::PUNPCKLQDQ => unpack(a, b, 8, false, n),
        op::PUNPCKHBW => unpack(a, b, 1, true, n),
        op::PUNPCKHWD => unpack(a, b, 2, true, n),
        op::PUNPCKHDQ => unpack(a, b, 4, true, n),
        _ => unpack(a, b, 8, true, n),
    }
}

/// Shifts each lane of `a` by `count` (bits; bytes for PSRLDQ/PSLLDQ). Counts beyond the lane
/// width clear the lane, or fill it with the sign for arithmetic shifts.
#[inline(always)]
pub fn shift(op: u8, a: Vec128, count: u64, xmm: bool) -> Vec128 {
    let one = |q: u64| -> u64 {
        match op {
            shift::PSRLW => lanes::<16>(q, 0, |x, _| if count > 15 { 0 } else { x >> count }),
            shift::PSRLD => lanes::<32>(q, 0, |x, _| if count > 31 { 0 } else { x >> count }),
            shift::PSRLQ => {
                if count > 63 {
                    0
                } else {
                    q >> count
                }
            }
            shift::PSRAW => lanes::<16>(q, 0, |x, _| (sx::<16>(x) >> count.min(15)) as u64),
            shift::PSRAD => lanes::<32>(q, 0, |x, _| (sx::<32>(x) >> count.min(31)) as u64),
            shift::PSLLW => lanes::<16>(q, 0, |x, _| if count > 15 { 0 } else { x << count }),
            shift::PSLLD => lanes::<32>(q, 0, |x, _| if count > 31 { 0 } else { x << count }),
            _ => {
                if count > 63 {
                    0
                } else {
                    q << count
                }
            }
        }
    };
    match op {
        shift::PSRLDQ | shift::PSLLDQ => {
            let v = u128::from(a[0]) | u128::from(a[1]) << 64;
            let bits = count.min(16) * 8;
            let r = if bits >= 128 {
                0
            } else if op == shift::PSRLDQ {
                v >> bits
            } else {
                v << bits
            };
            [r as u64, (r >> 64) as u64]
        }
        _ if xmm => [one(a[0]), one(a[1])],
        _ => [one(a[0]), a[1]],
    }
}

/// PSHUFW / the word shuffle of one quadword: word i of the result is word `imm[2i+1:2i]`.
#[inline(always)]
pub fn shuffle_words(q: u64, imm: u8) -> u64 {
    (0..4).fold(0, |acc, i| {
        let sel = (imm >> (2 * i)) & 3;
        acc | ((q >> (16 * sel)) & 0xFFFF) << (16 * i)
    })
}

/// PSHUFD: dword i of the result is dword `imm[2i+1:2i]` of `v`.
pub fn shuffle_dwords(v: Vec128, imm: u8) -> Vec128 {
    let d = |k: u8| (v[(k / 2) as usize] >> (32 * (k % 2))) & 0xFFFF_FFFF;
    let pick = |i: u8| d((imm >> (2 * i)) & 3);
    [pick(0) | pick(1) << 32, pick(2) | pick(3) << 32]
}

/// SHUFPS: the low two dwords from `a`, the high two from `b`, selected by `imm`.
pub fn shufps(a: Vec128, b: Vec128, imm: u8) -> Vec128 {
    let d = |v: Vec128, k: u8| (v[(k / 2) as usize] >> (32 * (k % 2))) & 0xFFFF_FFFF;
    let sel = |i: u8| (imm >> (2 * i)) & 3;
    [
        d(a, sel(0)) | d(a, sel(1)) << 32,
        d(b, sel(2)) | d(b, sel(3)) << 32,
    ]
}

/// SHUFPD: the low quadword from `a`, the high one from `b`, selected by imm bits 0 and 1.
pub fn shufpd(a: Vec128, b: Vec128, imm: u8) -> Vec128 {
    [a[(imm & 1) as usize], b[((imm >> 1) & 1) as usize]]
}

/// PMOVMSKB: the sign bit of each byte (8 or 16 of them).
pub fn byte_signs(v: Vec128, xmm: bool) -> u32 {
    let b = bytes(v);
    let n = if xmm { 16 } else { 8 };
    (0..n).fold(0, |acc, i| acc | u32::from(b[i] >> 7) << i)
}

/// Word `index` of a 64- or 128-bit register (PEXTRW).
pub fn word(v: Vec128, index: u8, xmm: bool) -> u32 {
    let i = if xmm { index & 7 } else { index & 3 };
    ((v[(i / 4) as usize] >> (16 * (i % 4))) & 0xFFFF) as u32
}

/// `v` with word `index` replaced (PINSRW).
pub fn with_word(mut v: Vec128, index: u8, value: u32, xmm: bool) -> Vec128 {
    let i = if xmm { index & 7 } else { index & 3 };
    let shift = 16 * (i % 4);
    let q = &mut v[(i / 4) as usize];
    *q = (*q & !(0xFFFF << shift)) | u64::from(value & 0xFFFF) << shift;
    v
}
