//! Fuzz-style robustness test (issue 6, acceptance 3): random descriptor chains, random ring
//! indices, random common- and device-configuration writes, random BAR and PCI configuration
//! accesses, fed to each virtio device from a fixed seed for a bounded number of steps.
//!
//! The guest RAM is a [`TestRam`] that fails the test on any access outside it, so "no panic"
//! and "no access outside guest RAM" are both checked by simply running. Random choices are
//! biased towards plausible values (addresses inside RAM, power-of-two sizes, the status
//! sequence) so the devices get past negotiation and into their queue code, where the
//! interesting mistakes are.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use webx86_disk::{BlockBackend, Completion, Request, RequestId};

use super::queue::chain::{VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE};
use super::test_utils::MockDriver;
use super::transport::layout::{BAR_SIZE, DEVICE_OFFSET, ISR_OFFSET, NOTIFY_OFFSET};
use super::*;
use crate::pci::PciDevice;

/// xorshift64*: small, deterministic, good enough to pick test inputs.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn size(&mut self) -> u8 {
        [1, 2, 4][self.below(3) as usize]
    }
}

/// Entropy for the fuzzed rng device.
struct Sevens;
impl EntropySource for Sevens {
    fn fill(&mut self, buf: &mut [u8]) {
        buf.fill(7);
    }
}

/// A small disk whose requests complete when the fuzzer says so, in any order.
#[derive(Default)]
struct FuzzDiskState {
    pending: Vec<(RequestId, Request)>,
    done: Vec<Completion>,
}

struct FuzzDisk(Rc<RefCell<FuzzDiskState>>);

const DISK_BYTES: u64 = 64 * 512;

impl BlockBackend for FuzzDisk {
    fn len(&self) -> u64 {
        DISK_BYTES
    }
    fn device_id(&self) -> String {
        "fuzz".into()
    }
    fn submit(&mut self, id: RequestId, request: Request) {
        self.0.borrow_mut().pending.push((id, request));
    }
    fn poll(&mut self, out: &mut Vec<Completion>) {
        out.append(&mut self.0.borrow_mut().done);
    }
}

impl FuzzDiskState {
    fn release(&mut self, rng: &mut Rng) {
        while !self.pending.is_empty() && rng.chance(60) {
            let i = rng.below(self.pending.len() as u64) as usize;
            let (id, req) = self.pending.remove(i);
            let result = match req {
                Request::Read { offset, len } if offset + u64::from(len) <= DISK_BYTES => {
                    Ok(vec![offset as u8; len as usize])
                }
                Request::Read { .. } => Err(webx86_disk::DiskError::ReadOnly),
                // Sometimes a wrong-length read result: the device must not trust it.
                _ if rng.chance(5) => Ok(vec![1; rng.below(100) as usize]),
                _ => Ok(Vec::new()),
            };
            self.done.push(Completion { id, result });
        }
    }
}

/// RAM for the fuzzer: small, so random addresses often fall outside it.
const RAM: u64 = 1 << 20;

/// An address: usually inside RAM, sometimes near or past its end, sometimes anywhere.
fn addr(rng: &mut Rng) -> u64 {
    match rng.below(10) {
        0 => rng.next(),
        1 => RAM - rng.below(64),
        2 => u64::from(u32::MAX) - rng.below(64),
        _ => rng.below(RAM),
    }
}

fn length(rng: &mut Rng) -> u32 {
    match rng.below(10) {
        0 => rng.next() as u32,
        1 => 0,
        2..=4 => 1 + rng.below(16) as u32,
        _ => rng.below(4096) as u32,
    }
}

/// Writes a random descriptor chain (or junk) into queue `q`'s table and publishes it.
fn random_chain<D: VirtioDevice>(d: &mut MockDriver<D>, rng: &mut Rng, q: usize) {
    let Some(queue) = d.queues.get(q).cloned() else {
        return;
    };
    let size = queue.size.max(1);
    let count = 1 + rng.below(6) as u16;
    let head = rng.below(u64::from(size)) as u16;
    let mut index = head;
    for i in 0..count {
        let mut flags = if rng.chance(50) {
            VIRTQ_DESC_F_WRITE
        } else {
            0
        };
        let last = i + 1 == count;
        if !last || rng.chance(5) {
            flags |= VIRTQ_DESC_F_NEXT;
        }
        let (mut a, mut len) = (addr(rng), length(rng));
        if rng.chance(10) {
            // An indirect table, itself random.
            flags |= VIRTQ_DESC_F_INDIRECT;
            let entries = 1 + rng.below(8);
            a = d.alloc_wrapping(rng, 16 * entries);
            len = if rng.chance(90) {
                16 * entries as u32
            } else {
                length(rng)
            };
            for e in 0..entries {
                let ef = (rng.below(8)) as u16;
                let next = if rng.chance(80) {
                    e as u16 + 1
                } else {
                    rng.below(16) as u16
                };
                let (ea, el) = (addr(rng), length(rng));
                d.write_desc_checked(a, e as u16, ea, el, ef, next);
            }
        }
        let next = if rng.chance(90) {
            (index + 1 + rng.below(3) as u16) % size
        } else {
            rng.next() as u16
        };
        d.write_desc_checked(queue.desc, index, a, len, flags, next);
        index = next % size;
    }
    // The blk request header, sometimes.
    if rng.chance(50) {
        let at = d.ram_u64(queue.desc + 16 * u64::from(head));
        if at + 16 <= RAM {
            let ty = [0u32, 1, 4, 8, 99][rng.below(5) as usize];
            let mut h = [0u8; 16];
            h[0..4].copy_from_slice(&ty.to_le_bytes());
            h[8..16].copy_from_slice(&rng.below(80).to_le_bytes());
            d.ram.put(at, &h);
        }
    }
    if rng.chance(95) {
        d.publish(
            q,
            if rng.chance(95) {
                head
            } else {
                rng.next() as u16
            },
        );
    } else {
        // A wild available index.
        let idx = rng.next() as u16;
        if queue.avail + 4 <= RAM {
            d.ram.put(queue.avail + 2, &idx.to_le_bytes());
        }
    }
}

impl<D: VirtioDevice> MockDriver<D> {
    /// Writes a descriptor if the table slot is inside RAM.
    fn write_desc_checked(
        &mut self,
        table: u64,
        i: u16,
        addr: u64,
        len: u32,
        flags: u16,
        next: u16,
    ) {
        let at = table.wrapping_add(16 * u64::from(i));
        if at.checked_add(16).is_some_and(|end| end <= RAM) {
            self.write_desc(table, i, addr, len, flags, next);
        }
    }

    /// Some room in RAM (recycled when the heap is full).
    fn alloc_wrapping(&mut self, rng: &mut Rng, len: u64) -> u64 {
        if self.heap + len + 16 > RAM {
            self.heap = 0x1000 + rng.below(0x1000);
        }
        self.alloc(len)
    }

    fn ram_u64(&self, at: u64) -> u64 {
        if at + 8 > RAM {
            return u64::MAX;
        }
        u64::from_le_bytes(self.ram.read_vec(at, 8).try_into().unwrap_or([0; 8]))
    }
}

/// What a fuzz run reached, so the test fails if it never gets into the queue code.
#[derive(Debug, Default)]
struct Reached {
    live_steps: u32,
    used_entries: u32,
    device_errors: u32,
}

/// One random step against the device.
fn step<D: VirtioDevice>(d: &mut MockDriver<D>, rng: &mut Rng, reached: &mut Reached) {
    let nq = d.dev.state().queues.len();
    let used_before: Vec<u16> = d.dev.state().queues.iter().map(|q| q.next_used).collect();
    // A driver that finds its device broken resets it.
    let reinit = !d.dev.live() && rng.chance(20);
    match if reinit { 0 } else { rng.below(100) } {
        0..=2 => {
            d.heap = 0x1000;
            d.init(
                if rng.chance(80) {
                    u64::MAX
                } else {
                    rng.next() | feature::VERSION_1
                },
                {
                    let s = 1u16 << rng.below(10);
                    rng.chance(50).then_some(s)
                },
            );
        }
        3..=12 => {
            let off = rng.below(0x40) as u32;
            let v = match off & !3 {
                0x14 => [0, 1, 3, 0xB, 0xF, 0x4F, 0x80][rng.below(7) as usize],
                0x1C => 1,
                0x18 => 1 << rng.below(10),
                _ => rng.next() as u32,
            };
            d.write_common(off, rng.size(), v);
        }
        13..=17 => {
            let off = rng.below(0x40) as u32;
            let size = rng.size();
            let _ = d.read_common(off, size);
        }
        18..=22 => {
            let off = DEVICE_OFFSET + rng.below(0x40) as u32;
            d.dev.bar_write(off, rng.size(), rng.next() as u32);
        }
        23..=27 => {
            let off = rng.below(u64::from(BAR_SIZE) + 0x100) as u32;
            let size = rng.size();
            if rng.chance(50) {
                let _ = d.dev.bar_read(off, size);
            } else {
                d.dev.bar_write(off, size, rng.next() as u32);
            }
        }
        28..=32 => {
            let off = rng.below(0x100) as u16;
            let size = rng.size();
            if rng.chance(50) {
                let _ = d.dev.config_read(off, size);
            } else {
                d.dev.config_write(off, size, rng.next() as u32);
            }
        }
        33..=34 => {
            // Scribble over RAM (rings and tables included).
            let at = rng.below(RAM - 64);
            let junk: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
            d.ram.put(at, &junk);
        }
        35..=37 => {
            let _ = d.read_isr();
        }
        _ => {
            let q = rng.below(nq as u64 + 1) as usize;
            random_chain(d, rng, q);
            d.dev.bar_write(NOTIFY_OFFSET + 4 * q as u32, 2, q as u32);
        }
    }
    if rng.chance(50) {
        d.poll();
    }
    for q in 0..d.queues.len() {
        let _ = d.take_used(q);
    }
    for (q, before) in d.dev.state().queues.iter().zip(used_before) {
        // (A reset moves the index back to 0.)
        reached.used_entries += u32::from(q.next_used.wrapping_sub(before).min(q.size));
    }
    reached.live_steps += u32::from(d.dev.live());
    reached.device_errors += d.dev.take_notices().len() as u32;
    // Invariants a driver relies on.
    let s = d.dev.status();
    if s & status::DEVICE_NEEDS_RESET != 0 {
        assert!(!d.dev.live());
    }
    assert!(d.dev.bar_read(ISR_OFFSET + 1, 1) == 0);
}

const STEPS: u32 = 6000;
const TIME_LIMIT: Duration = Duration::from_secs(20);

fn fuzz<D: VirtioDevice>(
    mut d: MockDriver<D>,
    seed: u64,
    mut between: impl FnMut(&mut MockDriver<D>, &mut Rng),
) {
    d.ram = super::test_utils::TestRam::new(RAM as u32);
    let mut rng = Rng(seed);
    let start = Instant::now();
    let mut reached = Reached::default();
    for _ in 0..STEPS {
        step(&mut d, &mut rng, &mut reached);
        between(&mut d, &mut rng);
        if start.elapsed() > TIME_LIMIT {
            break;
        }
    }
    eprintln!("{reached:?}");
    assert!(reached.live_steps > STEPS / 10, "{reached:?}");
    assert!(reached.used_entries > 50, "{reached:?}");
    assert!(reached.device_errors > 50, "{reached:?}");
}

#[test]
fn fuzz_virtio_blk() {
    let disk = Rc::new(RefCell::new(FuzzDiskState::default()));
    let d = MockDriver::new(VirtioBlk::new(Box::new(FuzzDisk(disk.clone()))));
    fuzz(d, 0x5EED_0B1C, |_, rng| disk.borrow_mut().release(rng));
}

#[test]
fn fuzz_virtio_console() {
    let d = MockDriver::new(VirtioConsole::new(80, 25));
    fuzz(d, 0x5EED_C0DE, |d, rng| {
        if rng.chance(10) {
            let n = rng.below(300) as usize;
            d.dev.device_mut().push_input(&vec![b'k'; n]);
        }
        if rng.chance(2) {
            d.dev
                .device_mut()
                .set_size(rng.next() as u16, rng.next() as u16);
        }
        if rng.chance(10) {
            let _ = d.dev.device_mut().take_output();
        }
    });
}

#[test]
fn fuzz_virtio_rng() {
    let d = MockDriver::new(VirtioRng::new(Box::new(Sevens)));
    fuzz(d, 0x5EED_0D1E, |_, _| {});
}

/// Random MMIO accesses across the set's window while the PCI configuration (BAR placement,
/// decoding, INTx disable) changes under it, polling a real `PhysMemory` in between.
#[test]
fn fuzz_mmio_window_and_pci_config() {
    use crate::pci::PciBus;
    use webx86_mmu::{PhysAddr, PhysMemory};
    let mut bus = PciBus::with_chipset();
    let window = 0x10_0000;
    let mut set = VirtioPciSet::new(window, 0x10_0000);
    set.add(
        &mut bus,
        PciSlot { device: 3, irq: 10 },
        VirtioRng::new(Box::new(Sevens)),
    )
    .unwrap();
    set.add(
        &mut bus,
        PciSlot { device: 4, irq: 11 },
        VirtioConsole::new(80, 25),
    )
    .unwrap();
    // RAM right below the window: a device reading past RAM would reach the window.
    let mut mem = PhysMemory::new(window);
    mem.map_mmio(PhysAddr(window), 0x10_0000, set.mmio_window());
    let mut rng = Rng(0x05EE_D5E7);
    for _ in 0..STEPS {
        let dev = 3 + rng.below(2) as u8;
        let f = bus.function_mut(dev, 0).unwrap();
        match rng.below(10) {
            0 => f.config_write(0x10, 4, window + (rng.below(64) as u32) * BAR_SIZE),
            1 => f.config_write(0x04, 2, rng.next() as u32),
            2 => f.config_write(rng.below(0x100) as u16, rng.size(), rng.next() as u32),
            _ => {}
        }
        let off = rng.below(0x10_0000) as u32;
        let size = rng.size();
        let at = PhysAddr(window + (off & !(u32::from(size) - 1) & 0xFFF));
        let at = PhysAddr(at.0 + (off & !0xFFF));
        if rng.chance(50) {
            let _ = mem.read(at, size);
        } else {
            // Bias towards the status register and queue enable so devices come alive.
            let v = if rng.chance(30) {
                0xF
            } else {
                rng.next() as u32
            };
            mem.write(at, size, v);
        }
        if rng.chance(20) {
            let junk = rng.next().to_le_bytes();
            mem.write_bytes(PhysAddr(rng.below(u64::from(window) - 8) as u32), &junk);
        }
        set.poll(&mut CheckedRam(&mut mem));
        let _ = set.take_irq_change();
        set.for_each_irq(|irq, _| assert!(irq == 10 || irq == 11));
    }
    let _ = set.take_notices();
}

/// `PhysMemory` as guest memory, failing the test on any access outside RAM.
struct CheckedRam<'a>(&'a mut webx86_mmu::PhysMemory);

impl GuestMemory for CheckedRam<'_> {
    fn ram_size(&self) -> u32 {
        self.0.ram_size()
    }
    fn read_ram(&mut self, addr: u32, buf: &mut [u8]) {
        assert!(u64::from(addr) + buf.len() as u64 <= u64::from(self.0.ram_size()));
        GuestMemory::read_ram(self.0, addr, buf)
    }
    fn write_ram(&mut self, addr: u32, data: &[u8]) {
        assert!(u64::from(addr) + data.len() as u64 <= u64::from(self.0.ram_size()));
        GuestMemory::write_ram(self.0, addr, data)
    }
}
