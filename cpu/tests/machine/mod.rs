//! The tests' machines: CPUs put straight into the state a test needs (segment caches,
//! descriptor tables and page tables written by the test, not by guest code), ways to run one
//! instruction, host-CPU oracles, and the pseudo-random numbers. Each test binary includes the
//! whole module (`mod machine;`) and uses the parts it needs.
//!
//! | module | what |
//! | --- | --- |
//! | [`prng`] | [`Rng`], the fixed-seed generator every randomised test draws from |
//! | [`segments`] | flat and data segment caches, the flat 32-bit starting state, descriptors, gates |
//! | [`runner`] | one instruction decoded and run by its handler, as the execution loop runs it; code slots |
//! | [`host`] | host-CPU oracles: flag capture around one instruction, which undefined flags the host shares |
//! | [`alu`] | flat 32-bit CPU for the integer instruction tests (a fresh state per instruction) |
//! | [`flow`] | flat 32-bit, real, V86 and paged CPUs with recorded port I/O, for the control-flow tests |
//! | [`tables`] | real or protected mode with a GDT, IDT, TSS, LDT and page tables in RAM |
//! | [`pm`] | a protected-mode CPU with two TSSs, gates and privilege levels, for the system tests |
//! | [`x87`] | x87 state as FSAVE images, random x87 operands, the host running the same bytes |
//! | [`simd`] | SSE-enabled CPU, the register image host `asm!` blocks load and store, float operands |

// Each test binary uses a different part of this module.
#![allow(dead_code, unused_macros, unused_imports)]

pub mod alu;
pub mod flow;
pub mod host;
pub mod paging;
pub mod pm;
pub mod prng;
pub mod runner;
pub mod segments;
pub mod simd;
pub mod tables;
#[macro_use]
pub mod x87;

pub use prng::Rng;
