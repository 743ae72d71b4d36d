//! Constants fitted to the reference hardware by the generators under `scripts/x87-fit/`.

pub mod atan;
