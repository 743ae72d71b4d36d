//! The machine's virtio functions on PCI: the console (`hvc0`) and entropy source, always
//! present, and the disk (`/dev/vda`) when one is attached, with their IRQ wiring and the
//! choice of which console the front end sees.
//!
//! Slots and IRQs are fixed so the guest's view is stable from boot to boot (Linux numbers
//! virtio devices in PCI order; the disk is `vda` whichever slot it is in, being the only one).

use std::cell::RefCell;
use std::rc::Rc;

use sha2::{Digest, Sha256};
use webx86_devices::pci::PciBus;
use webx86_devices::pic::DualPic as Pic;
use webx86_devices::virtio::{
    EntropySource, GuestMemory, PciSlot, VirtioBlk, VirtioConsole, VirtioPci, VirtioPciSet,
    VirtioRng, VirtioSetError, PCI_HOLE_BASE, PCI_HOLE_LEN,
};
use webx86_disk::BlockBackend;
use webx86_mmu::Mmio;

/// virtio-blk: PCI device 3, IRQ 10.
const DISK_SLOT: PciSlot = PciSlot { device: 3, irq: 10 };
/// virtio-console: PCI device 4, IRQ 11.
const CONSOLE_SLOT: PciSlot = PciSlot { device: 4, irq: 11 };
/// virtio-rng: PCI device 5, IRQ 9.
const RNG_SLOT: PciSlot = PciSlot { device: 5, irq: 9 };

/// The console window size until the front end says otherwise.
const DEFAULT_CONSOLE_SIZE: (u16, u16) = (80, 25);

/// The virtio functions of a machine.
pub struct VirtioDevices {
    set: VirtioPciSet,
    console: Rc<RefCell<VirtioPci<VirtioConsole>>>,
    disk: Option<Rc<RefCell<VirtioPci<VirtioBlk>>>>,
    entropy: Rc<RefCell<Box<dyn EntropySource>>>,
    /// The guest has written to hvc0: from now on it is the console the front end sees.
    hvc_active: bool,
}

impl VirtioDevices {
    /// The console and entropy functions on `bus`, with entropy from a fixed-seed generator
    /// until [`Self::set_entropy`] supplies the host's.
    pub fn new(bus: &mut PciBus, pic: &mut Pic) -> Result<Self, VirtioSetError> {
        let mut set = VirtioPciSet::new(PCI_HOLE_BASE, PCI_HOLE_LEN);
        let (cols, rows) = DEFAULT_CONSOLE_SIZE;
        let console = set.add(bus, CONSOLE_SLOT, VirtioConsole::new(cols, rows))?;
        let entropy: Rc<RefCell<Box<dyn EntropySource>>> =
            Rc::new(RefCell::new(Box::new(HashDrbg::new([0; 32]))));
        set.add(
            bus,
            RNG_SLOT,
            VirtioRng::new(Box::new(SharedEntropy(entropy.clone()))),
        )?;
        pic.set_elcr(set.irq_mask());
        Ok(Self {
            set,
            console,
            disk: None,
            entropy,
            hvc_active: false,
        })
    }

    /// The MMIO window over the PCI hole where the functions' BARs live.
    pub fn mmio_window(&self) -> Box<dyn Mmio> {
        self.set.mmio_window()
    }

    /// Plugs in the disk.
    pub fn attach_disk(
        &mut self,
        bus: &mut PciBus,
        pic: &mut Pic,
        backend: Box<dyn BlockBackend>,
    ) -> Result<(), VirtioSetError> {
        let disk = self.set.add(bus, DISK_SLOT, VirtioBlk::new(backend))?;
        self.disk = Some(disk);
        pic.set_elcr(self.set.irq_mask());
        Ok(())
    }

    /// Whether a disk is attached.
    pub fn has_disk(&self) -> bool {
        self.disk.is_some()
    }

    /// Replaces the entropy source (the host's CSPRNG for real use).
    pub fn set_entropy(&mut self, source: Box<dyn EntropySource>) {
        *self.entropy.borrow_mut() = source;
    }

    /// Moves data between devices and guest RAM if any function has work, then drives the
    /// IRQ lines.
    pub fn poll(&mut self, mem: &mut dyn GuestMemory, pic: &mut Pic) {
        if self.set.needs_poll() {
            self.set.poll(mem);
        }
        self.update_irqs(pic);
    }

    /// Whether a poll has work (a queue notification, console input, a disk request in
    /// flight).
    pub fn needs_poll(&self) -> bool {
        self.set.needs_poll()
    }

    /// Drives the PIC's lines from the functions' interrupt levels if any may have changed.
    #[inline]
    pub fn update_irqs(&mut self, pic: &mut Pic) {
        if self.set.take_irq_change() {
            self.set.for_each_irq(|irq, level| pic.set_irq(irq, level));
        }
    }

    /// Whether hvc0 is the console (the guest has written to it).
    pub fn hvc_active(&self) -> bool {
        self.hvc_active
    }

    /// What the guest wrote to hvc0 since the last call.
    pub fn take_console_output(&mut self) -> Vec<u8> {
        let out = self.console.borrow_mut().device_mut().take_output();
        self.hvc_active |= !out.is_empty();
        out
    }

    /// Queues typed bytes for hvc0; returns how many it took.
    pub fn push_console_input(&mut self, bytes: &[u8]) -> usize {
        self.console.borrow_mut().device_mut().push_input(bytes)
    }

    /// Changes hvc0's window size (the guest gets a configuration-change interrupt).
    pub fn set_console_size(&mut self, cols: u16, rows: u16) {
        self.console.borrow_mut().device_mut().set_size(cols, rows);
    }

    /// Guest mistakes since the last call.
    pub fn take_notices(&mut self) -> Vec<String> {
        self.set.take_notices()
    }
}

/// Lets the machine swap the rng device's source after the device was built.
struct SharedEntropy(Rc<RefCell<Box<dyn EntropySource>>>);

impl EntropySource for SharedEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        self.0.borrow_mut().fill(buf);
    }
}

/// A deterministic generator: SHA-256 of a 32-byte seed and a block counter (the hash-DRBG
/// construction without reseeding). With a fixed seed two boots see the same "random" bytes,
/// which deterministic runs need; front ends seed it from the host's CSPRNG otherwise.
pub struct HashDrbg {
    seed: [u8; 32],
    counter: u64,
    block: [u8; 32],
    used: usize,
}

impl HashDrbg {
    pub fn new(seed: [u8; 32]) -> Self {
        Self {
            seed,
            counter: 0,
            block: [0; 32],
            used: 32,
        }
    }
}

impl EntropySource for HashDrbg {
    fn fill(&mut self, buf: &mut [u8]) {
        for byte in buf {
            if self.used == self.block.len() {
                let mut hash = Sha256::new();
                hash.update(self.seed);
                hash.update(self.counter.to_le_bytes());
                self.block = hash.finalize().into();
                self.counter = self.counter.wrapping_add(1);
                self.used = 0;
            }
            *byte = self.block[self.used];
            self.used += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_drbg_is_deterministic_and_seed_dependent() {
        let mut a = HashDrbg::new([1; 32]);
        let mut b = HashDrbg::new([1; 32]);
        let mut c = HashDrbg::new([2; 32]);
        let (mut x, mut y, mut z) = ([0u8; 100], [0u8; 100], [0u8; 100]);
        a.fill(&mut x[..7]);
        a.fill(&mut x[7..]);
        b.fill(&mut y);
        c.fill(&mut z);
        assert_eq!(x, y, "split fills give the same stream");
        assert_ne!(x, z);
        assert_ne!(x[..32], x[32..64], "blocks differ");
        let mut expected = Sha256::new();
        expected.update([1u8; 32]);
        expected.update(0u64.to_le_bytes());
        assert_eq!(x[..32], expected.finalize()[..]);
    }
}
