//! webx86's PC platform devices: small state machines with no host access.
//!
//! Every device is a struct with plain, serde-serialisable fields. Nothing in this crate reads
//! a clock, a file or a socket: time comes in as machine nanoseconds (`advance(now_ns)`),
//! output goes to buffers the machine drains, input is pushed in, and interrupt lines are
//! levels the owner routes to the PIC.
//!
//! # Using it: the assembled chipset
//!
//! [`chipset::Chipset`] holds all legacy devices on one [`PortBus`] and does the wiring:
//!
//! ```
//! use webx86_devices::chipset::{Chipset, ChipsetConfig};
//! let mut pc = Chipset::new(&ChipsetConfig {
//!     rtc_unix_time: 1_700_000_000, // what the RTC shows at machine time 0
//!     ram_bytes: 128 << 20,         // for the CMOS memory-size bytes
//!     a20_enabled: true,            // port 0x92 A20 open, as firmware leaves it
//! });
//! let now_ns = 0;
//! pc.io_write(0x3F8, 1, b'A' as u32, now_ns);      // OUT: port, size (1/2/4), value, time
//! let _status = pc.io_read(0x3FD, 1, now_ns);      // IN: port, size, time
//! assert_eq!(pc.take_serial_output(), b"A");       // COM1 output (ttyS0)
//! pc.serial_input(b"ls\n", now_ns);                // COM1 input; returns bytes taken
//! pc.advance(1_000_000);                           // move time; raises due interrupts
//! let _due = pc.next_event_ns();                   // when to call advance() next
//! if pc.intr() {                                   // INTR, sampled when EFLAGS.IF = 1
//!     let _vector = pc.acknowledge();              // INTA
//! }
//! let _a20 = pc.a20_enabled();                     // poll after port I/O: give to the MMU
//! let _reset = pc.take_reset_request();            // 0x64 0xFE, port 0x92, 0xCF9
//! for notice in pc.take_notices() {                // unknown ports, once per port
//!     eprintln!("{notice}");
//! }
//! ```
//!
//! Port I/O must carry the current machine time: the PIT's counters and port 0x61's OUT2 are
//! computed for that instant (TSC calibration depends on it). Time never goes backwards (an
//! older time is treated as the latest one seen). Snapshots: [`chipset::Chipset::state`] /
//! [`chipset::Chipset::restore`].
//!
//! # Devices, ports and IRQs
//!
//! | device | ports | IRQ |
//! |---|---|---|
//! | [`pic::DualPic`] 8259A pair + ELCR | 0x20–0x21, 0xA0–0xA1, 0x4D0–0x4D1 | INTR output |
//! | [`pit::Pit`] 8254 | 0x40–0x43 | 0 (channel 0) |
//! | [`system_ports::SystemControlB`] | 0x61 (PIT ch2 gate/OUT2, refresh toggle) | — |
//! | [`i8042::I8042`] keyboard controller | 0x60, 0x64 | 1 (keyboard), 12 (mouse) |
//! | [`rtc::Rtc`] MC146818 + CMOS | 0x70–0x71 (bit 7 of 0x70 masks NMI) | 8 |
//! | [`uart::Uart16550`] COM1 | 0x3F8–0x3FF | 4 |
//! | [`system_ports::FastA20Port`] | 0x92 | — |
//! | [`system_ports::PostPort`], [`system_ports::DebugPort`] | 0x80, 0xE9 | — |
//! | [`pci::PciHost`] mechanism #1, reset control | 0xCF8–0xCFF (0xCF9 bytes) | — |
//!
//! PCI bus 0 has a 440FX-like host bridge (8086:1237) at 00.0 and a PIIX3-like ISA bridge
//! (8086:7000) at 01.0; add functions with `pc.devices.pci.bus.insert(dev, func, Box<dyn
//! PciDevice>)` and extra port devices with [`chipset::Chipset::add_port_device`].
//!
//! Virtio devices (block, console, entropy) on the virtio-pci modern transport are in
//! [`virtio`]; its module docs show how the machine plugs them into this bus and its memory.
//!
//! Each device can also be used alone through [`PortIo`] (offsets inside its own window) and
//! its own `advance`/IRQ-level methods; see the module docs.

pub mod bus;
pub mod chipset;
pub mod i8042;
pub mod pci;
pub mod pic;
pub mod pit;
pub mod rtc;
pub mod system_ports;
pub mod uart;
pub mod virtio;

pub use bus::{PortBus, PortIo, PortWidth, UnknownPortNotice};
pub use chipset::{Chipset, ChipsetConfig};
pub use pci::PciDevice;
