//! All virtio functions of a machine: where their BARs go, one MMIO window that routes guest
//! accesses to whichever function's BAR decodes an address, polling, and their INTx lines.

use std::cell::RefCell;
use std::rc::Rc;

use webx86_mmu::Mmio;

use crate::pci::{PciBus, PciBusError, PciDevice};
use crate::virtio::memory::GuestMemory;
use crate::virtio::transport::layout::BAR_SIZE;
use crate::virtio::transport::Signals;
use crate::virtio::{VirtioDevice, VirtioPci};

/// Start of the PCI memory hole above the largest RAM size the machine supports
/// (3.5 GiB): the MMIO window should cover it so a BAR the guest moves stays reachable.
pub const PCI_HOLE_BASE: u32 = 0xE000_0000;
/// Length of the hole, up to the I/O APIC at 0xFEC0_0000.
pub const PCI_HOLE_LEN: u32 = 0xFEC0_0000 - PCI_HOLE_BASE;

/// Where a function goes and how its interrupt is wired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PciSlot {
    /// PCI device number on bus 0 (2–31; 0 and 1 are the chipset's bridges). Function 0.
    pub device: u8,
    /// ISA IRQ its INTA# is wired to (5, 9, 10 or 11 are free on this PC).
    pub irq: u8,
}

/// Why a function could not be added.
#[derive(Debug, thiserror::Error)]
pub enum VirtioSetError {
    #[error("IRQ {0} cannot carry a PCI interrupt (use 3-7, 9-12 or 14-15)")]
    BadIrq(u8),
    #[error("{0}")]
    Bus(#[from] PciBusError),
    #[error("the MMIO window has no room for another {BAR_SIZE:#x}-byte BAR")]
    WindowFull,
}

/// What the set needs of a function, whatever its device type.
trait Function: PciDevice {
    fn bar_window(&self) -> Option<(u32, u32)>;
    fn bar_read(&mut self, offset: u32, size: u8) -> u32;
    fn bar_write(&mut self, offset: u32, size: u8, value: u32);
    fn poll(&mut self, mem: &mut dyn GuestMemory);
    fn irq(&self) -> u8;
    fn irq_level(&self) -> bool;
    fn wants_poll(&self) -> bool;
    fn take_notices(&mut self) -> Vec<String>;
}

impl<D: VirtioDevice> Function for VirtioPci<D> {
    fn bar_window(&self) -> Option<(u32, u32)> {
        VirtioPci::bar_window(self)
    }
    fn bar_read(&mut self, offset: u32, size: u8) -> u32 {
        VirtioPci::bar_read(self, offset, size)
    }
    fn bar_write(&mut self, offset: u32, size: u8, value: u32) {
        VirtioPci::bar_write(self, offset, size, value)
    }
    fn poll(&mut self, mem: &mut dyn GuestMemory) {
        VirtioPci::poll(self, mem)
    }
    fn irq(&self) -> u8 {
        VirtioPci::irq(self)
    }
    fn irq_level(&self) -> bool {
        VirtioPci::irq_level(self)
    }
    fn wants_poll(&self) -> bool {
        VirtioPci::wants_poll(self)
    }
    fn take_notices(&mut self) -> Vec<String> {
        VirtioPci::take_notices(self)
    }
}

type FunctionRef = Rc<RefCell<dyn Function>>;

/// What the set, its MMIO window and its PCI handles share.
#[derive(Default)]
struct Registry {
    functions: RefCell<Vec<FunctionRef>>,
    signals: Rc<Signals>,
}

/// The PCI bus's handle on a function.
struct PciHandle(FunctionRef);

impl PciDevice for PciHandle {
    fn config_read(&mut self, offset: u16, size: u8) -> u32 {
        match self.0.try_borrow_mut() {
            Ok(mut f) => f.config_read(offset, size),
            Err(_) => crate::bus::size_mask(size),
        }
    }

    fn config_write(&mut self, offset: u16, size: u8, value: u32) {
        if let Ok(mut f) = self.0.try_borrow_mut() {
            f.config_write(offset, size, value);
        }
    }
}

/// The MMIO window: sends each access to the function whose BAR 0 decodes the address.
/// Addresses no BAR decodes read as all ones and ignore writes, as nothing answers on PCI.
pub struct VirtioMmioWindow {
    base: u32,
    registry: Rc<Registry>,
}

impl VirtioMmioWindow {
    /// Runs `f` on the function decoding physical address `addr`, with the offset in its BAR.
    fn route<R>(&self, addr: u32, f: impl FnOnce(&mut dyn Function, u32) -> R) -> Option<R> {
        let functions = self.registry.functions.borrow();
        for func in functions.iter() {
            // A function is only borrowed here during an access, never across guest execution.
            let Ok(mut func) = func.try_borrow_mut() else {
                continue;
            };
            if let Some((base, len)) = func.bar_window() {
                let off = addr.wrapping_sub(base);
                if off < len {
                    return Some(f(&mut *func, off));
                }
            }
        }
        None
    }
}

impl Mmio for VirtioMmioWindow {
    fn read(&mut self, offset: u32, size: u8) -> u32 {
        let addr = self.base.wrapping_add(offset);
        self.route(addr, |f, off| f.bar_read(off, size))
            .unwrap_or_else(|| crate::bus::size_mask(size))
    }

    fn write(&mut self, offset: u32, size: u8, value: u32) {
        let addr = self.base.wrapping_add(offset);
        self.route(addr, |f, off| f.bar_write(off, size, value));
    }
}

/// A cheap, cloneable view of "a virtio function wants attention": a queue was notified, a
/// driver activated a device, or an interrupt line may have changed. The machine keeps one
/// where it checks for events at block boundaries (one load each), and ends the slice to call
/// [`VirtioPciSet::poll`] / [`VirtioPciSet::for_each_irq`] when it is set.
///
/// This matters for latency: Linux's virtio console busy-waits after each transmit notification
/// until the used entry appears (`__send_to_port` spins on `virtqueue_get_buf`), so every
/// instruction between the notification and the next poll is wasted guest time.
#[derive(Clone)]
pub struct VirtioWake(Rc<Signals>);

impl VirtioWake {
    /// Whether a poll or an interrupt-line update is due.
    #[inline]
    pub fn pending(&self) -> bool {
        self.0.work.get() || self.0.irq_changed.get()
    }
}

/// The machine's virtio functions.
pub struct VirtioPciSet {
    registry: Rc<Registry>,
    window_base: u32,
    window_len: u32,
    next_bar: u32,
}

impl VirtioPciSet {
    /// A set whose MMIO window is `[window_base, window_base + window_len)`; BARs are placed
    /// from its start.
    pub fn new(window_base: u32, window_len: u32) -> Self {
        let window_base = window_base & !(BAR_SIZE - 1);
        VirtioPciSet {
            registry: Rc::default(),
            window_base,
            window_len,
            next_bar: window_base,
        }
    }

    /// Plugs `device` in at `slot`: builds its function, places its BAR (memory decoding on),
    /// writes its Interrupt Line and inserts it into `bus`. Returns the machine's handle.
    pub fn add<D: VirtioDevice + 'static>(
        &mut self,
        bus: &mut PciBus,
        slot: PciSlot,
        device: D,
    ) -> Result<Rc<RefCell<VirtioPci<D>>>, VirtioSetError> {
        if slot.irq >= 16 || matches!(slot.irq, 0 | 1 | 2 | 8 | 13) {
            return Err(VirtioSetError::BadIrq(slot.irq));
        }
        let used = self.next_bar.wrapping_sub(self.window_base);
        if used
            .checked_add(BAR_SIZE)
            .is_none_or(|end| end > self.window_len)
        {
            return Err(VirtioSetError::WindowFull);
        }
        let signals = self.registry.signals.clone();
        let function = Rc::new(RefCell::new(VirtioPci::with_signals(
            device, slot.irq, signals,
        )));
        function.borrow_mut().assign_bar(self.next_bar);
        let erased: FunctionRef = function.clone();
        bus.insert(slot.device, 0, Box::new(PciHandle(erased.clone())))?;
        self.next_bar += BAR_SIZE;
        self.registry.functions.borrow_mut().push(erased);
        Ok(function)
    }

    /// The MMIO window to map at the base given to [`VirtioPciSet::new`] with
    /// `PhysMemory::map_mmio`. It sees functions added later too.
    pub fn mmio_window(&self) -> Box<dyn Mmio> {
        Box::new(VirtioMmioWindow {
            base: self.window_base,
            registry: self.registry.clone(),
        })
    }

    /// The cheap attention flag to check at block boundaries.
    pub fn wake(&self) -> VirtioWake {
        VirtioWake(self.registry.signals.clone())
    }

    /// Whether a poll has work: a queue was notified or a driver activated a device since the
    /// last poll, console input is waiting, or a disk request is in flight. Cheap.
    pub fn needs_poll(&self) -> bool {
        self.registry.signals.work.get()
            || self
                .registry
                .functions
                .borrow()
                .iter()
                .any(|f| f.try_borrow().is_ok_and(|f| f.wants_poll()))
    }

    /// Moves data between the devices and guest RAM: takes new requests, completes finished
    /// ones, raises interrupts. Call at every slice end and whenever [`Self::needs_poll`].
    pub fn poll(&mut self, mem: &mut dyn GuestMemory) {
        self.registry.signals.work.set(false);
        for f in self.registry.functions.borrow().iter() {
            if let Ok(mut f) = f.try_borrow_mut() {
                f.poll(mem);
            }
        }
    }

    /// Returns and clears "an interrupt line may have changed" (after MMIO accesses, PCI
    /// configuration writes and polls). Cheap: check it where the machine samples INTR.
    pub fn take_irq_change(&self) -> bool {
        self.registry.signals.irq_changed.replace(false)
    }

    /// Calls `set(irq, level)` for every IRQ a function is wired to, with the OR of the
    /// levels of the functions sharing it.
    pub fn for_each_irq(&self, mut set: impl FnMut(u8, bool)) {
        let (mut used, mut asserted) = (0u16, 0u16);
        for f in self.registry.functions.borrow().iter() {
            if let Ok(f) = f.try_borrow() {
                used |= 1 << f.irq();
                if f.irq_level() {
                    asserted |= 1 << f.irq();
                }
            }
        }
        for irq in 0..16u8 {
            if used & (1 << irq) != 0 {
                set(irq, asserted & (1 << irq) != 0);
            }
        }
    }

    /// The IRQs the functions use, one bit each: give it to the PIC's ELCR so they are
    /// level-triggered, as firmware sets PCI interrupts up.
    pub fn irq_mask(&self) -> u16 {
        self.registry
            .functions
            .borrow()
            .iter()
            .filter_map(|f| f.try_borrow().ok().map(|f| 1u16 << f.irq()))
            .fold(0, |a, b| a | b)
    }

    /// Guest mistakes since the last call, one line each (for a rate-limited log).
    pub fn take_notices(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        for f in self.registry.functions.borrow().iter() {
            if let Ok(mut f) = f.try_borrow_mut() {
                out.extend(f.take_notices());
            }
        }
        out
    }
}

#[cfg(test)]
#[path = "set_tests.rs"]
mod tests;
