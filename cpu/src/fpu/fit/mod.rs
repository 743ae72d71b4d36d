//! Constants fitted to the reference hardware by the generators in `scripts/x87-fit/`.

pub mod sincos;
