//! The x87 environment and state images of FSTENV/FLDENV and FSAVE/FRSTOR in their four
//! layouts (SDM vol. 1 §8.1.10, figures 8-9 to 8-12): 14 or 28 bytes by operand size, with
//! selector:offset pointers in protected mode and 20/32-bit linear pointers in real and
//! virtual-8086 mode. FSAVE adds the eight registers in stack order.

use super::float80::F80;
use super::{tag, tag_for};
use crate::state::FpuState;

/// Which environment layout an instruction uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EnvLayout {
    /// 28-byte (32-bit operand size) rather than 14-byte.
    pub wide: bool,
    /// Real-address or virtual-8086 mode: linear pointers instead of selector:offset.
    pub real: bool,
}

impl EnvLayout {
    pub const fn size(self) -> usize {
        if self.wide {
            28
        } else {
            14
        }
    }
}

/// The tag word FSTENV/FSAVE store: empty registers as marked, the others classified from
/// their contents (so registers written by MMX instructions are reported as they look).
pub fn stored_tag(fpu: &FpuState) -> u16 {
    (0..8).fold(0u16, |acc, r| {
        let t = if fpu.tag_of(r) == tag::EMPTY {
            tag::EMPTY
        } else {
            tag_for(fpu.reg(r))
        };
        acc | (t << (2 * r))
    })
}

fn put16(out: &mut [u8], at: usize, v: u16) {
    out[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn put32(out: &mut [u8], at: usize, v: u32) {
    out[at..at + 4].copy_from_slice(&v.to_le_bytes());
}
fn get16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn get32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The environment image (the first `layout.size()` bytes of the result are used).
pub fn encode_env(fpu: &FpuState, layout: EnvLayout) -> [u8; 28] {
    let mut out = [0u8; 28];
    let tags = stored_tag(fpu);
    // Real mode stores linear pointers, as the segment base plus the offset.
    let ip_lin = (u32::from(fpu.fcs) << 4).wrapping_add(fpu.fip);
    let dp_lin = (u32::from(fpu.fds) << 4).wrapping_add(fpu.fdp);
    let opcode = fpu.opcode & 0x7FF;
    if layout.wide {
        // Reserved upper halves read as ones.
        put32(&mut out, 0, 0xFFFF_0000 | u32::from(fpu.control));
        put32(&mut out, 4, 0xFFFF_0000 | u32::from(fpu.status));
        put32(&mut out, 8, 0xFFFF_0000 | u32::from(tags));
        if layout.real {
            put32(&mut out, 12, 0xFFFF_0000 | (ip_lin & 0xFFFF));
            put32(&mut out, 16, ((ip_lin >> 16) << 12) | u32::from(opcode));
            put32(&mut out, 20, 0xFFFF_0000 | (dp_lin & 0xFFFF));
            put32(&mut out, 24, (dp_lin >> 16) << 12);
        } else {
            put32(&mut out, 12, fpu.fip);
            put32(&mut out, 16, u32::from(opcode) << 16 | u32::from(fpu.fcs));
            put32(&mut out, 20, fpu.fdp);
            put32(&mut out, 24, 0xFFFF_0000 | u32::from(fpu.fds));
        }
    } else {
        put16(&mut out, 0, fpu.control);
        put16(&mut out, 2, fpu.status);
        put16(&mut out, 4, tags);
        if layout.real {
            put16(&mut out, 6, ip_lin as u16);
            put16(&mut out, 8, (((ip_lin >> 16) & 0xF) << 12) as u16 | opcode);
            put16(&mut out, 10, dp_lin as u16);
            put16(&mut out, 12, (((dp_lin >> 16) & 0xF) << 12) as u16);
        } else {
            put16(&mut out, 6, fpu.fip as u16);
            put16(&mut out, 8, fpu.fcs);
            put16(&mut out, 10, fpu.fdp as u16);
            put16(&mut out, 12, fpu.fds);
        }
    }
    out
}

/// Loads an environment image: control, status (ES/B recomputed), tags (non-empty ones
/// recomputed from the register contents) and pointers.
pub fn decode_env(fpu: &mut FpuState, image: &[u8], layout: EnvLayout) {
    let tags;
    if layout.wide {
        fpu.control = get16(image, 0);
        fpu.status = get16(image, 4);
        tags = get16(image, 8);
        if layout.real {
            let w4 = get32(image, 16);
            fpu.fip = u32::from(get16(image, 12)) | ((w4 >> 12) & 0xFFFF) << 16;
            fpu.opcode = (w4 & 0x7FF) as u16;
            fpu.fdp = u32::from(get16(image, 20)) | ((get32(image, 24) >> 12) & 0xFFFF) << 16;
            fpu.fcs = 0;
            fpu.fds = 0;
        } else {
            fpu.fip = get32(image, 12);
            let w4 = get32(image, 16);
            fpu.fcs = w4 as u16;
            fpu.opcode = ((w4 >> 16) & 0x7FF) as u16;
            fpu.fdp = get32(image, 20);
            fpu.fds = get16(image, 24);
        }
    } else {
        fpu.control = get16(image, 0);
        fpu.status = get16(image, 2);
        tags = get16(image, 4);
        if layout.real {
            let w = get16(image, 8);
            fpu.fip = u32::from(get16(image, 6)) | u32::from(w >> 12) << 16;
            fpu.opcode = w & 0x7FF;
            fpu.fdp = u32::from(get16(image, 10)) | u32::from(get16(image, 12) >> 12) << 16;
            fpu.fcs = 0;
            fpu.fds = 0;
        } else {
            fpu.fip = u32::from(get16(image, 6));
            fpu.fcs = get16(image, 8);
            fpu.fdp = u32::from(get16(image, 10));
            fpu.fds = get16(image, 12);
        }
    }
    fpu.tag = tags;
    retag(fpu);
    fpu.update_summary();
}

/// Recomputes the tags of the non-empty registers from their contents.
pub fn retag(fpu: &mut FpuState) {
    for r in 0..8 {
        if fpu.tag_of(r) != tag::EMPTY {
            fpu.set_tag(r, tag_for(fpu.reg(r)));
        }
    }
}

/// The FSAVE image: environment then ST(0)..ST(7), 10 bytes each.
pub fn encode_save(fpu: &FpuState, layout: EnvLayout) -> [u8; 108] {
    let mut out = [0u8; 108];
    let env = layout.size();
    out[..env].copy_from_slice(&encode_env(fpu, layout)[..env]);
    for i in 0..8u8 {
        let v = fpu.st(i);
        let at = env + 10 * usize::from(i);
        out[at..at + 8].copy_from_slice(&v.sig.to_le_bytes());
        out[at + 8..at + 10].copy_from_slice(&v.se.to_le_bytes());
    }
    out
}

/// Loads an FSAVE image (FRSTOR).
pub fn decode_save(fpu: &mut FpuState, image: &[u8], layout: EnvLayout) {
    let env = layout.size();
    // The registers go by stack position under the TOP being loaded.
    let top = usize::from((get16(image, if layout.wide { 4 } else { 2 }) >> 11) & 7);
    for i in 0..8 {
        let at = env + 10 * i;
        let sig = u64::from_le_bytes(image[at..at + 8].try_into().unwrap_or([0; 8]));
        let r = (top + i) & 7;
        fpu.mantissa[r] = sig;
        fpu.sign_exp[r] = get16(image, at + 8);
    }
    decode_env(fpu, image, layout);
}

/// An F80 from the ten bytes of a memory image.
pub fn f80_from_bytes(b: &[u8; 10]) -> F80 {
    F80 {
        sig: u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        se: u16::from_le_bytes([b[8], b[9]]),
    }
}

/// The ten bytes of an F80 in memory.
pub fn f80_to_bytes(v: F80) -> [u8; 10] {
    let mut out = [0u8; 10];
    out[..8].copy_from_slice(&v.sig.to_le_bytes());
    out[8..].copy_from_slice(&v.se.to_le_bytes());
    out
}
