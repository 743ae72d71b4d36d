use iced_x86::Instruction;

use crate::decode::Lowered;

pub(super) fn lower(_i: &Instruction) -> Option<Lowered> {
    None
}
