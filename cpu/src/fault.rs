//! Exceptions raised by instructions, as values: a handler returns `Err(Fault)` and the
//! execution loop delivers it (SDM vol. 3A §6.15).

/// Exception vectors.
pub mod vector {
    pub const DE: u8 = 0;
    pub const DB: u8 = 1;
    pub const NMI: u8 = 2;
    pub const BP: u8 = 3;
    pub const OF: u8 = 4;
    pub const BR: u8 = 5;
    pub const UD: u8 = 6;
    pub const NM: u8 = 7;
    pub const DF: u8 = 8;
    pub const TS: u8 = 10;
    pub const NP: u8 = 11;
    pub const SS: u8 = 12;
    pub const GP: u8 = 13;
    pub const PF: u8 = 14;
    pub const MF: u8 = 16;
    pub const AC: u8 = 17;
    pub const MC: u8 = 18;
    pub const XM: u8 = 19;
}

/// An exception to deliver, with its error code when the vector has one. Packed into one
/// `u32` (vector in bits 0–7, "has an error code" in bit 8, the code in bits 16–31: every i686
/// error code fits in 16 bits) so that a handler's [`Exec`] result comes back in a register.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fault(u32);

const HAS_CODE: u32 = 1 << 8;
/// See [`Fault::SIDE_EXIT`].
const SIDE_EXIT: u32 = 1 << 9;

impl Fault {
    pub const fn new(vector: u8) -> Self {
        Self(vector as u32)
    }
    pub const fn with_code(vector: u8, code: u32) -> Self {
        Self(vector as u32 | HAS_CODE | (code & 0xFFFF) << 16)
    }
    /// The exception vector.
    pub const fn vector(self) -> u8 {
        self.0 as u8
    }
    /// The error code pushed with the exception, if the vector has one.
    pub const fn error_code(self) -> Option<u32> {
        if self.0 & HAS_CODE != 0 {
            Some(self.0 >> 16)
        } else {
            None
        }
    }
    pub const fn ud() -> Self {
        Self::new(vector::UD)
    }
    pub const fn de() -> Self {
        Self::new(vector::DE)
    }
    pub const fn gp(code: u32) -> Self {
        Self::with_code(vector::GP, code)
    }
    pub const fn ss(code: u32) -> Self {
        Self::with_code(vector::SS, code)
    }
    pub const fn np(code: u32) -> Self {
        Self::with_code(vector::NP, code)
    }
    pub const fn ts(code: u32) -> Self {
        Self::with_code(vector::TS, code)
    }
    /// #GP(0), the most common fault.
    pub const GP0: Self = Self::gp(0);

    /// Not an exception: a conditional branch inside a decoded block was taken, so the block
    /// ends there (EIP already holds the target). Only the side-exit Jcc handlers that
    /// decoding puts inside blocks return it (see `Cpu::run_ops`); the execution loop counts
    /// the branch as retired and carries on at the target.
    pub const SIDE_EXIT: Self = Self(SIDE_EXIT);

    pub const fn is_side_exit(self) -> bool {
        self.0 & SIDE_EXIT != 0
    }
}

impl core::fmt::Debug for Fault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        if self.is_side_exit() {
            return f.write_str("Fault::SIDE_EXIT");
        }
        f.debug_struct("Fault")
            .field("vector", &self.vector())
            .field("error_code", &self.error_code())
            .finish()
    }
}

/// Result of an instruction handler.
pub type Exec = Result<(), Fault>;
