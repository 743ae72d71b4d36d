pub mod bus;
pub mod pic;

pub use bus::{PortBus, PortIo, PortWidth};
