//! Lazy arithmetic flags: an ALU instruction records its operation, operand size, operands and
//! result; CF/PF/AF/ZF/SF/OF are computed only when something reads them. The interpreter and
//! the JIT share this one definition.

use bytemuck::{Pod, Zeroable};

use crate::state::{flag, CpuState};

/// The operation recorded in [`LazyFlags::op`].
pub mod op {
    /// Nothing pending: EFLAGS holds the arithmetic flags.
    pub const NONE: u8 = 0;
    /// `res = src1 + src2 + carry_in`.
    pub const ADD: u8 = 1;
    /// `res = src1 - src2 - carry_in` (also CMP, NEG as `0 - src2`).
    pub const SUB: u8 = 2;
    /// AND/OR/XOR/TEST: CF = OF = AF = 0.
    pub const LOGIC: u8 = 3;
    /// INC: as ADD of 1, but CF is the one before it, kept in `carry_in`.
    pub const INC: u8 = 4;
    /// DEC: as SUB of 1, but CF is the one before it, kept in `carry_in`.
    pub const DEC: u8 = 5;
}

/// A pending flags computation, 16 bytes so that recording one is a few stores.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct LazyFlags {
    /// One of the [`op`] constants.
    pub op: u8,
    /// 32 minus the operand size in bits (24, 16 or 0): shifting a value left by it puts the
    /// operand's sign bit at bit 31 and drops the bits above the operand.
    pub shift: u8,
    /// The carry into ADC/SBB (0 or 1); for INC and DEC, the CF they keep.
    pub carry_in: u8,
    pub _pad: u8,
    pub res: u32,
    pub src1: u32,
    pub src2: u32,
}

#[inline(always)]
fn parity(byte: u32) -> bool {
    (byte as u8).count_ones().is_multiple_of(2)
}

impl LazyFlags {
    fn mask(&self) -> u32 {
        u32::MAX >> (self.shift & 31)
    }
    fn sign(&self) -> u32 {
        1u32 << (31 - (self.shift & 31))
    }

    /// The six arithmetic flags.
    pub fn compute(&self) -> u32 {
        let mask = self.mask();
        let sign = self.sign();
        let (a, b, r) = (self.src1 & mask, self.src2 & mask, self.res & mask);
        let cin = self.carry_in != 0;
        let (cf, of, af) = match self.op {
            op::ADD => {
                let cf = if cin { r <= a } else { r < a };
                (cf, (a ^ r) & (b ^ r) & sign != 0, (a ^ b ^ r) & 0x10 != 0)
            }
            op::SUB => {
                let cf = if cin { a <= b } else { a < b };
                (cf, (a ^ b) & (a ^ r) & sign != 0, (a ^ b ^ r) & 0x10 != 0)
            }
            op::INC => (cin, r == sign, r & 0xF == 0),
            op::DEC => (cin, r == sign - 1, r & 0xF == 0xF),
            _ => (false, false, false),
        };
        let mut flags = 0;
        if cf {
            flags |= flag::CF;
        }
        if parity(r) {
            flags |= flag::PF;
        }
        if af {
            flags |= flag::AF;
        }
        if r == 0 {
            flags |= flag::ZF;
        }
        if r & sign != 0 {
            flags |= flag::SF;
        }
        if of {
            flags |= flag::OF;
        }
        flags
    }
}

/// SF, ZF and PF of a `SIZE`-byte result, as every ALU operation sets them: for instructions
/// that compute their flags eagerly (shifts, multiplies, BCD adjustments).
#[inline(always)]
pub fn result_flags<const SIZE: usize>(res: u32) -> u32 {
    let res = res & crate::state::size_mask::<SIZE>();
    let mut flags = 0;
    if parity(res) {
        flags |= flag::PF;
    }
    if res == 0 {
        flags |= flag::ZF;
    }
    if res & crate::state::sign_bit::<SIZE>() != 0 {
        flags |= flag::SF;
    }
    flags
}

impl CpuState {
    /// Records a flag-setting ALU result.
    #[inline(always)]
    pub fn set_lazy(
        &mut self,
        op: u8,
        size: usize,
        res: u32,
        src1: u32,
        src2: u32,
        carry_in: bool,
    ) {
        let header = u32::from_ne_bytes([op, (32 - 8 * size) as u8, carry_in as u8, 0]);
        self.lazy = bytemuck::cast([header, res, src1, src2]);
    }

    /// Records INC or DEC, keeping CF: the current CF goes into `carry_in`, which spares a
    /// read-modify-write of EFLAGS.
    #[inline(always)]
    pub fn set_lazy_keep_cf(&mut self, op: u8, size: usize, res: u32, src1: u32) {
        let cf = self.cf();
        // Built as words so that the four header bytes are one store, not three.
        let header = u32::from_ne_bytes([op, (32 - 8 * size) as u8, cf as u8, 0]);
        self.lazy = bytemuck::cast([header, res, src1, 1u32]);
    }

    /// The complete EFLAGS value, computing any pending arithmetic flags.
    #[inline]
    pub fn flags(&self) -> u32 {
        if self.lazy.op == op::NONE {
            self.eflags
        } else {
            (self.eflags & !flag::ARITH) | self.lazy.compute()
        }
    }

    /// Folds pending arithmetic flags into EFLAGS.
    #[inline]
    pub fn materialize_flags(&mut self) {
        self.eflags = self.flags();
        self.lazy.op = op::NONE;
    }

    /// Replaces all six arithmetic flags with `value`: no pending operation needs computing.
    #[inline(always)]
    pub fn set_all_arith_flags(&mut self, value: u32) {
        self.lazy.op = op::NONE;
        self.eflags = (self.eflags & !flag::ARITH) | (value & flag::ARITH);
    }

    /// Replaces the arithmetic flags selected by `mask` (a subset of [`flag::ARITH`]).
    #[inline]
    pub fn set_arith_flags(&mut self, mask: u32, value: u32) {
        self.materialize_flags();
        self.eflags = (self.eflags & !mask) | (value & mask);
    }

    #[inline(always)]
    fn arith(&self, bit: u32) -> bool {
        self.flags() & bit != 0
    }

    /// CF. Tested with a few predictable branches rather than a jump table over the
    /// operations, so that INC and DEC, which read it to keep it, stay cheap.
    #[inline]
    pub fn cf(&self) -> bool {
        let lazy = &self.lazy;
        let carry_in = lazy.carry_in != 0;
        if lazy.op.wrapping_sub(op::ADD) < 2 {
            // ADD carries out when the result is below the first operand, SUB borrows when the
            // first operand is below the second (or equal, with a carry in). Shifting both so
            // the operand's sign bit is bit 31 drops bits above the size, keeping order.
            let shift = lazy.shift & 31;
            let (x, y) = if lazy.op == op::ADD {
                (lazy.res, lazy.src1)
            } else {
                (lazy.src1, lazy.src2)
            };
            let (x, y) = (x << shift, y << shift);
            x < y || (carry_in && x == y)
        } else if lazy.op >= op::INC {
            carry_in
        } else if lazy.op == op::NONE {
            self.eflags & flag::CF != 0
        } else {
            false // LOGIC
        }
    }
    /// The pending result shifted so its sign bit is bit 31 (bits above the size drop out).
    #[inline(always)]
    fn lazy_res_top(&self) -> u32 {
        self.lazy.res << (self.lazy.shift & 31)
    }
    #[inline(always)]
    pub fn zf(&self) -> bool {
        if self.lazy.op == op::NONE {
            self.eflags & flag::ZF != 0
        } else {
            self.lazy_res_top() == 0
        }
    }
    #[inline(always)]
    pub fn sf(&self) -> bool {
        if self.lazy.op == op::NONE {
            self.eflags & flag::SF != 0
        } else {
            (self.lazy_res_top() as i32) < 0
        }
    }
    #[inline]
    pub fn of(&self) -> bool {
        match self.lazy.op {
            op::NONE => self.eflags & flag::OF != 0,
            op::LOGIC => false,
            _ => self.arith(flag::OF),
        }
    }
    #[inline]
    pub fn pf(&self) -> bool {
        self.arith(flag::PF)
    }
    #[inline]
    pub fn af(&self) -> bool {
        self.arith(flag::AF)
    }

    /// Evaluates condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc opcodes). Inlined so
    /// that handlers specialised on a constant `cc` test only the flags they need.
    #[inline(always)]
    pub fn condition(&self, cc: u8) -> bool {
        let lazy = &self.lazy;
        if lazy.op == op::SUB && lazy.carry_in == 0 && matches!(cc >> 1, 1 | 2 | 3 | 6 | 7) {
            // After SUB/CMP the comparisons follow from the operands directly: shifting both
            // so the operand's sign bit is bit 31 drops bits above the size and keeps order.
            let shift = lazy.shift & 31;
            let (a, b) = (lazy.src1 << shift, lazy.src2 << shift);
            let result = match cc >> 1 {
                1 => a < b,
                2 => a == b,
                3 => a <= b,
                6 => (a as i32) < (b as i32),
                _ => (a as i32) <= (b as i32),
            };
            return result != (cc & 1 != 0);
        }
        let result = match cc >> 1 {
            0 => self.of(),
            1 => self.cf(),
            2 => self.zf(),
            3 => self.cf() || self.zf(),
            4 => self.sf(),
            5 => self.pf(),
            6 => self.sf() != self.of(),
            _ => self.zf() || (self.sf() != self.of()),
        };
        result != (cc & 1 != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sub_and_add_flags() {
        let mut s = CpuState::reset();
        s.set_lazy(op::SUB, 1, 0x00u32.wrapping_sub(1), 0, 1, false);
        assert_eq!(
            s.flags() & flag::ARITH,
            flag::CF | flag::PF | flag::AF | flag::SF
        );
        s.set_lazy(
            op::ADD,
            4,
            0x7FFF_FFFFu32.wrapping_add(1),
            0x7FFF_FFFF,
            1,
            false,
        );
        assert_eq!(
            s.flags() & flag::ARITH,
            flag::OF | flag::SF | flag::AF | flag::PF
        );
        s.set_lazy(op::ADD, 2, 0xFFFF + 1, 0xFFFF, 0, true);
        assert_eq!(
            s.flags() & flag::ARITH,
            flag::CF | flag::ZF | flag::PF | flag::AF
        );
    }

    #[test]
    fn conditions_after_sub_match_the_computed_flags() {
        let edges = [
            0u32,
            1,
            0x7F,
            0x80,
            0xFF,
            0x7FFF,
            0x8000,
            0xFFFF,
            0x7FFF_FFFF,
            0x8000_0000,
            u32::MAX,
        ];
        for size in [1usize, 2, 4] {
            for &a in &edges {
                for &b in &edges {
                    let mut fast = CpuState::reset();
                    fast.set_lazy(op::SUB, size, a.wrapping_sub(b), a, b, false);
                    let mut slow = fast;
                    slow.materialize_flags();
                    for cc in 0..16 {
                        assert_eq!(
                            fast.condition(cc),
                            slow.condition(cc),
                            "size {size} {a:#x}-{b:#x} cc {cc}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn cf_matches_the_computed_flags() {
        let edges = [
            0u32,
            1,
            0x7F,
            0x80,
            0xFF,
            0x8000,
            0xFFFF,
            0x8000_0000,
            u32::MAX,
        ];
        for size in [1usize, 2, 4] {
            for &a in &edges {
                for &b in &edges {
                    for carry in [false, true] {
                        let c = u32::from(carry);
                        let mut s = CpuState::reset();
                        let records = [
                            (op::ADD, a.wrapping_add(b).wrapping_add(c)),
                            (op::SUB, a.wrapping_sub(b).wrapping_sub(c)),
                            (op::LOGIC, a & b),
                        ];
                        for (kind, res) in records {
                            s.set_lazy(kind, size, res, a, b, carry);
                            let computed = s.flags() & flag::CF != 0;
                            assert_eq!(
                                s.cf(),
                                computed,
                                "op {kind} size {size} {a:#x} {b:#x} {carry}"
                            );
                            // INC and DEC keep it, through any number of them.
                            s.set_lazy_keep_cf(op::INC, size, a.wrapping_add(1), a);
                            s.set_lazy_keep_cf(op::DEC, size, a.wrapping_sub(1), a);
                            assert_eq!(s.cf(), computed);
                            assert_eq!(s.flags() & flag::CF != 0, computed);
                            s.materialize_flags();
                            assert_eq!(s.cf(), computed);
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn inc_keeps_carry() {
        let mut s = CpuState::reset();
        s.set_lazy(op::SUB, 4, u32::MAX, 0, 1, false);
        s.set_lazy_keep_cf(op::INC, 4, 0, u32::MAX);
        assert!(s.cf() && s.zf() && !s.of());
        assert!(s.condition(0x2), "JB taken");
        assert!(s.condition(0x4), "JE taken");
    }
}
