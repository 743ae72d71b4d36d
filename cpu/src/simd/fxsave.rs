//! FXSAVE/FXRSTOR images (SDM vol. 2A FXSAVE, table 3-53: the 32-bit layout) and the
//! LDMXCSR/STMXCSR rules they share.

use super::mxcsr;
use crate::fault::Fault;
use crate::state::CpuState;

/// Bytes of the image FXSAVE writes: everything up to and including XMM7. Bytes 288–511 are
/// reserved (XMM8–15 in 64-bit mode) or available to software and are left unchanged.
pub const IMAGE_LEN: usize = 288;
/// The whole FXSAVE area, which must be addressable.
pub const AREA_LEN: u32 = 512;

/// The abridged tag byte: bit *i* set when physical register R*i* is not empty.
fn abridged_tags(tag: u16) -> u8 {
    (0..8).fold(0, |acc, i| {
        if (tag >> (2 * i)) & 3 != 3 {
            acc | 1 << i
        } else {
            acc
        }
    })
}

/// The two-bit tag FXRSTOR derives for a non-empty register from its contents (SDM vol. 1
/// §8.1.7): zero, valid (normalised finite), or special (NaN, infinity, denormal, unsupported).
fn tag_of(sign_exp: u16, mantissa: u64) -> u16 {
    let exp = sign_exp & 0x7FFF;
    match exp {
        0x7FFF => 2,
        0 if mantissa == 0 => 1,
        0 => 2,
        _ if mantissa >> 63 == 0 => 2,
        _ => 0,
    }
}

/// The FXSAVE image of `s`.
pub fn save(s: &CpuState) -> [u8; IMAGE_LEN] {
    let f = &s.fpu;
    let mut img = [0u8; IMAGE_LEN];
    img[0..2].copy_from_slice(&f.control.to_le_bytes());
    img[2..4].copy_from_slice(&f.status.to_le_bytes());
    img[4] = abridged_tags(f.tag);
    img[6..8].copy_from_slice(&(f.opcode & 0x7FF).to_le_bytes());
    img[8..12].copy_from_slice(&f.fip.to_le_bytes());
    img[12..14].copy_from_slice(&f.fcs.to_le_bytes());
    img[16..20].copy_from_slice(&f.fdp.to_le_bytes());
    img[20..22].copy_from_slice(&f.fds.to_le_bytes());
    img[24..28].copy_from_slice(&s.sse.mxcsr.to_le_bytes());
    img[28..32].copy_from_slice(&mxcsr::WRITABLE.to_le_bytes());
    let top = (f.status >> 11) & 7;
    for i in 0..8u16 {
        let r = ((top + i) & 7) as usize;
        let at = 32 + 16 * i as usize;
        img[at..at + 8].copy_from_slice(&f.mantissa[r].to_le_bytes());
        img[at + 8..at + 10].copy_from_slice(&f.sign_exp[r].to_le_bytes());
    }
    for (i, x) in s.sse.xmm.iter().enumerate() {
        let at = 160 + 16 * i;
        img[at..at + 8].copy_from_slice(&x[0].to_le_bytes());
        img[at + 8..at + 16].copy_from_slice(&x[1].to_le_bytes());
    }
    img
}

/// Loads the FXSAVE image `img` into `s`: #GP(0), with nothing changed, when the MXCSR field
/// sets a reserved bit.
pub fn restore(s: &mut CpuState, img: &[u8; IMAGE_LEN]) -> Result<(), Fault> {
    let u16_at = |at: usize| u16::from_le_bytes([img[at], img[at + 1]]);
    let u32_at = |at: usize| u32::from_le_bytes([img[at], img[at + 1], img[at + 2], img[at + 3]]);
    let u64_at = |at: usize| u64::from(u32_at(at)) | u64::from(u32_at(at + 4)) << 32;
    let csr = u32_at(24);
    if csr & !mxcsr::WRITABLE != 0 {
        return Err(Fault::GP0);
    }
    let f = &mut s.fpu;
    f.control = u16_at(0);
    f.status = u16_at(2);
    f.opcode = u16_at(6) & 0x7FF;
    f.fip = u32_at(8);
    f.fcs = u16_at(12);
    f.fdp = u32_at(16);
    f.fds = u16_at(20);
    let top = (f.status >> 11) & 7;
    for i in 0..8u16 {
        let r = ((top + i) & 7) as usize;
        let at = 32 + 16 * i as usize;
        f.mantissa[r] = u64_at(at);
        f.sign_exp[r] = u16_at(at + 8);
    }
    let abridged = img[4];
    f.tag = (0..8).fold(0, |acc, r| {
        let tag = if abridged >> r & 1 == 0 {
            3
        } else {
            tag_of(f.sign_exp[r], f.mantissa[r])
        };
        acc | tag << (2 * r)
    });
    s.sse.mxcsr = csr;
    for (i, x) in s.sse.xmm.iter_mut().enumerate() {
        let at = 160 + 16 * i;
        *x = [u64_at(at), u64_at(at + 8)];
    }
    Ok(())
}
