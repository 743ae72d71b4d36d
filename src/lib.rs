//! webx86: a full-system x86 (i686) PC emulator. This crate wires the CPU, memory and devices
//! together; the `webx86` binary is its command-line front end.

pub mod machine;
pub mod rom;
