//! Virtio 1.x devices on PCI: the modern virtio-pci transport with split virtqueues, and the
//! block, console and entropy devices.
//!
//! # Using it (the machine's side)
//!
//! ```
//! use webx86_devices::chipset::{Chipset, ChipsetConfig};
//! use webx86_devices::virtio::{
//!     EntropySource, PciSlot, VirtioBlk, VirtioConsole, VirtioPciSet, VirtioRng, PCI_HOLE_BASE,
//!     PCI_HOLE_LEN,
//! };
//! use webx86_disk::MemoryDisk; // or the chunked image under a copy-on-write overlay
//! struct HostRandom; // the machine's CSPRNG (getrandom natively, crypto.getRandomValues in wasm)
//! impl EntropySource for HostRandom {
//!     fn fill(&mut self, buf: &mut [u8]) { buf.fill(4) }
//! }
//! let mut pc = Chipset::new(&ChipsetConfig { rtc_unix_time: 0, ram_bytes: 64 << 20, a20_enabled: true });
//! let mut mem = webx86_mmu::PhysMemory::new(64 << 20);
//!
//! // One set for all virtio functions; its MMIO window covers the PCI hole, where each
//! // function's memory BAR is pre-assigned (as firmware would) and where Linux may move it.
//! let mut virtio = VirtioPciSet::new(PCI_HOLE_BASE, PCI_HOLE_LEN);
//! let bus = &mut pc.devices.pci.bus;
//! let blk = virtio.add(bus, PciSlot { device: 3, irq: 10 }, VirtioBlk::new(Box::new(MemoryDisk::zeroed(1 << 20)))).unwrap();
//! let con = virtio.add(bus, PciSlot { device: 4, irq: 11 }, VirtioConsole::new(80, 25)).unwrap();
//! let rng = virtio.add(bus, PciSlot { device: 5, irq: 9 }, VirtioRng::new(Box::new(HostRandom))).unwrap();
//! mem.map_mmio(webx86_mmu::PhysAddr(PCI_HOLE_BASE), PCI_HOLE_LEN, virtio.mmio_window());
//! // Firmware makes PCI interrupts level-triggered (ELCR), as SeaBIOS does.
//! pc.devices.pic.set_elcr(virtio.irq_mask());
//!
//! // In the run loop: poll at every slice end, before idling in HLT when `needs_poll()`, and
//! // as soon as the wake flag is set (one load: check it at block boundaries and end the
//! // slice; Linux's hvc console spins after each write until its buffer is used).
//! let wake = virtio.wake();
//! if wake.pending() || virtio.needs_poll() {
//!     virtio.poll(&mut mem);
//! }
//! // Whenever `take_irq_change()` is true (after MMIO accesses and polls), drive the lines:
//! if virtio.take_irq_change() {
//!     virtio.for_each_irq(|irq, level| pc.devices.pic.set_irq(irq, level));
//! }
//! // Console (hvc0): input in, output out, window size changes.
//! con.borrow_mut().device_mut().push_input(b"root\n");
//! let _out: Vec<u8> = con.borrow_mut().device_mut().take_output();
//! con.borrow_mut().device_mut().set_size(100, 30);
//! // Guest mistakes (malformed chains...) for a rate-limited log:
//! for notice in virtio.take_notices() {
//!     eprintln!("{notice}");
//! }
//! # let _ = (blk, rng);
//! ```
//!
//! # Interrupts and IRQ numbers
//!
//! Each function has INTA# wired to the ISA IRQ given in its [`PciSlot`] (5, 9, 10 and 11 are
//! free on this PC); the same number is written to its Interrupt Line register (0x3C), as
//! firmware would. With `acpi=off nolapic pci=nomsi` and no `$PIR` table, Linux's
//! `pirq_enable_irq` finds no routing table, keeps `dev->irq` as read from Interrupt Line, and
//! uses it (arch/x86/pci/irq.c; only values >= 16 are discarded by `pcibios_fixup_irqs`), so no
//! `$PIR` table is needed. Linux then does not touch the ELCR for these IRQs: the machine sets
//! their ELCR bits ([`VirtioPciSet::irq_mask`]) so they are level-triggered like real PCI
//! interrupts. Give each function its own IRQ where possible; sharing works with level
//! triggering (Linux's virtio_pci requests its INTx line with `IRQF_SHARED`).
//!
//! # Sharing a device between the MMIO path, the PCI bus and the poll loop
//!
//! [`PhysMemory`](webx86_mmu::PhysMemory) owns a boxed `Mmio` and the PCI bus a boxed
//! `PciDevice`, while the machine must also reach each device to poll it and to move console
//! bytes. Each function is therefore one `Rc<RefCell<VirtioPci<D>>>`: the PCI bus holds a
//! handle, the set's MMIO window routes accesses to whichever function's BAR decodes the
//! address, and the machine keeps the typed handle [`add`](VirtioPciSet::add) returns. No
//! borrow is held across calls, and device DMA only reaches RAM (never an MMIO window), so the
//! `RefCell`s are never borrowed twice. A queue notification only records work: data moves in
//! [`VirtioPciSet::poll`], which has guest memory.
//!
//! # Errors
//!
//! Guest mistakes never panic and never touch memory outside RAM. A malformed descriptor
//! chain (loop, out-of-range address or index, wrong direction, too long) or a bad ring puts
//! the device in `DEVICE_NEEDS_RESET` with a configuration-change interrupt (§2.1.2); a
//! well-formed request the device cannot do completes with an error status (e.g.
//! `VIRTIO_BLK_S_IOERR`).

pub mod blk;
pub mod console;
pub mod memory;
pub mod queue;
pub mod rng;
pub mod set;
pub mod transport;

#[cfg(test)]
mod fuzz_tests;
#[cfg(test)]
pub(crate) mod test_utils;

pub use blk::VirtioBlk;
pub use console::VirtioConsole;
pub use memory::{GuestMemory, GuestRam};
pub use queue::{QueueContext, QueueError, Virtqueue};
pub use rng::{EntropySource, VirtioRng};
pub use set::{PciSlot, VirtioPciSet, VirtioSetError, VirtioWake, PCI_HOLE_BASE, PCI_HOLE_LEN};
pub use transport::VirtioPci;

/// Red Hat's PCI vendor ID, used by all virtio devices.
pub const VIRTIO_PCI_VENDOR: u16 = 0x1AF4;
/// Modern (non-transitional) device IDs are this plus the virtio device type (§4.1.2).
pub const VIRTIO_PCI_DEVICE_BASE: u16 = 0x1040;

/// Virtio device types (§5).
pub mod device_type {
    pub const BLOCK: u16 = 2;
    pub const CONSOLE: u16 = 3;
    pub const ENTROPY: u16 = 4;
}

/// Device status bits (§2.1).
pub mod status {
    pub const ACKNOWLEDGE: u8 = 1;
    pub const DRIVER: u8 = 2;
    pub const DRIVER_OK: u8 = 4;
    pub const FEATURES_OK: u8 = 8;
    pub const DEVICE_NEEDS_RESET: u8 = 64;
    pub const FAILED: u8 = 128;
}

/// Transport feature bits (§6) offered by every device here.
pub mod feature {
    pub const INDIRECT_DESC: u64 = 1 << 28;
    pub const EVENT_IDX: u64 = 1 << 29;
    pub const VERSION_1: u64 = 1 << 32;
}

/// The device-type half of a virtio device; [`VirtioPci`] supplies the transport, feature
/// negotiation and queue bookkeeping.
pub trait VirtioDevice {
    /// Virtio device type ([`device_type`]).
    fn device_type(&self) -> u16;
    /// PCI class code (`class << 16 | subclass << 8 | prog_if`).
    fn pci_class(&self) -> u32;
    /// Device-type feature bits offered; the transport adds VERSION_1, INDIRECT_DESC and
    /// EVENT_IDX.
    fn features(&self) -> u64;
    /// Maximum size of each virtqueue, in queue order.
    fn queue_max_sizes(&self) -> Vec<u16>;
    /// Bytes of device-specific configuration (0: none).
    fn config_len(&self) -> u32;
    /// Reads device configuration at `offset` into `data` (bytes past the end read as 0).
    fn read_config(&self, offset: u32, data: &mut [u8]);
    /// Driver write to device configuration.
    fn write_config(&mut self, offset: u32, data: &[u8]);
    /// The driver set DRIVER_OK having accepted `features`.
    fn activate(&mut self, features: u64);
    /// Device reset: forget everything the driver set up; requests still in a backend
    /// complete into nothing.
    fn reset(&mut self);
    /// Moves work: takes available chains, completes finished requests. Called on every poll,
    /// live or not (a device with requests in a backend must still collect their completions).
    fn process(&mut self, queues: &mut QueueContext<'_>) -> Result<(), QueueError>;
    /// Whether the device configuration changed since the last call (it then gets a new
    /// generation and a configuration-change interrupt).
    fn take_config_changed(&mut self) -> bool {
        false
    }
    /// Whether the device has work for a poll without any notification (e.g. console input).
    fn wants_poll(&self) -> bool {
        false
    }
}
