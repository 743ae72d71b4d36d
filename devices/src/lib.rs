pub mod bus;
pub mod pic;

pub use bus::{PortBus, PortIo, PortWidth};
pub mod pit;
pub mod rtc;
pub mod uart;
pub mod i8042;
pub mod pci;
pub mod system_ports;
