//! Constants measured on the reference hardware by the generators under `scripts/x87-fit/`.

pub mod atan;
pub mod exp2;
pub mod log2;
pub mod sincos;
pub mod tan;
