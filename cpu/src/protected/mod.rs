//! Protected-mode mechanisms: descriptor tables, segment loads with their checks, gates,
//! privilege transitions, task switches and V86 mode (SDM vol. 3A chapters 5–7 and 20).

pub(crate) mod descriptor;
mod frame;
mod idt;
mod iret;
mod load;
pub(crate) mod query;
mod task;
mod transfer;
