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

/// An exception to deliver, with its error code when the vector has one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    pub vector: u8,
    pub error_code: Option<u32>,
}

impl Fault {
    pub const fn new(vector: u8) -> Self {
        Self {
            vector,
            error_code: None,
        }
    }
    pub const fn with_code(vector: u8, code: u32) -> Self {
        Self {
            vector,
            error_code: Some(code),
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
}

/// Result of an instruction handler.
pub type Exec = Result<(), Fault>;
