//! Comparisons (FCOM/FUCOM/FCOMI/FUCOMI/FICOM/FTST) and classification (FXAM), SDM vol. 1
//! §8.1.3.1 and §8.3.6.

use core::cmp::Ordering;

use super::float80::{exc, Class, F80};
use super::sw;

/// The outcome of comparing two values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Relation {
    Less,
    Equal,
    Greater,
    Unordered,
}

impl Relation {
    /// C3, C2, C0 as FCOM sets them (C1 cleared).
    pub fn condition_codes(self) -> u16 {
        match self {
            Relation::Greater => 0,
            Relation::Less => sw::C0,
            Relation::Equal => sw::C3,
            Relation::Unordered => sw::C3 | sw::C2 | sw::C0,
        }
    }
    /// ZF, PF, CF as FCOMI sets them (OF, SF, AF cleared).
    pub fn eflags(self) -> u32 {
        use crate::state::flag;
        match self {
            Relation::Greater => 0,
            Relation::Less => flag::CF,
            Relation::Equal => flag::ZF,
            Relation::Unordered => flag::ZF | flag::PF | flag::CF,
        }
    }
}

/// Compares `a` with `b`. `quiet` (FUCOM*) raises IE only for SNaN operands; the ordinary
/// compares raise it for any NaN. Unsupported operands are always invalid; denormals raise DE.
pub fn compare(a: F80, b: F80, quiet: bool) -> (Relation, u16) {
    let (ca, cb) = (a.class(), b.class());
    let nan = |c| matches!(c, Class::QNaN | Class::SNaN);
    if ca == Class::Unsupported || cb == Class::Unsupported {
        return (Relation::Unordered, exc::IE);
    }
    if nan(ca) || nan(cb) {
        let signaling = ca == Class::SNaN || cb == Class::SNaN;
        let flags = if signaling || !quiet { exc::IE } else { 0 };
        return (Relation::Unordered, flags);
    }
    let de = if ca == Class::Denormal || cb == Class::Denormal {
        exc::DE
    } else {
        0
    };
    (relation(a, b), de)
}

/// The ordering of two ordered (non-NaN, supported) values.
fn relation(a: F80, b: F80) -> Relation {
    let za = a.class() == Class::Zero;
    let zb = b.class() == Class::Zero;
    if za && zb {
        return Relation::Equal;
    }
    let key = |v: F80, zero: bool| -> (bool, i32, u64) {
        if zero {
            return (false, i32::MIN, 0);
        }
        if v.class() == Class::Infinity {
            return (v.sign(), i32::MAX, 0);
        }
        let (s, e, m) = v.unpack();
        (s, e, m)
    };
    let (sa, ea, ma) = key(a, za);
    let (sb, eb, mb) = key(b, zb);
    let signed = |s: bool, zero: bool| {
        if zero {
            0
        } else if s {
            -1
        } else {
            1
        }
    };
    let (ka, kb) = (signed(sa, za), signed(sb, zb));
    let ord = if ka != kb {
        ka.cmp(&kb)
    } else {
        let mag = (ea, ma).cmp(&(eb, mb));
        if ka < 0 {
            mag.reverse()
        } else {
            mag
        }
    };
    match ord {
        Ordering::Less => Relation::Less,
        Ordering::Equal => Relation::Equal,
        Ordering::Greater => Relation::Greater,
    }
}

/// FXAM's C3, C2, C0 class code and C1 = sign (SDM vol. 2 FXAM). `empty` is the register's tag.
pub fn examine(v: F80, empty: bool) -> u16 {
    let class = if empty {
        sw::C3 | sw::C0
    } else {
        match v.class() {
            Class::Unsupported => 0,
            Class::QNaN | Class::SNaN => sw::C0,
            Class::Normal => sw::C2,
            Class::Infinity => sw::C2 | sw::C0,
            Class::Zero => sw::C3,
            Class::Denormal => sw::C3 | sw::C2,
        }
    };
    class | if v.sign() { sw::C1 } else { 0 }
}
