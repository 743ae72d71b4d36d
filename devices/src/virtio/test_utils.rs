//! A mock virtio driver for tests: test RAM that fails the test on any access outside it, and a
//! driver that negotiates through the common configuration, lays out split virtqueues in that
//! RAM, writes descriptor chains and available entries, notifies, and reads used entries back
//! (the pattern of rust-vmm's `MockSplitQueue`).

use super::memory::GuestMemory;
use super::queue::chain::{VIRTQ_DESC_F_INDIRECT, VIRTQ_DESC_F_NEXT, VIRTQ_DESC_F_WRITE};
use super::transport::common_cfg::reg;
use super::transport::layout::{COMMON_OFFSET, ISR_OFFSET, NOTIFY_OFFSET, NOTIFY_OFF_MULTIPLIER};
use super::{feature, status, VirtioDevice, VirtioPci};

/// Guest RAM for tests. Any access outside it panics, failing the test: devices must check
/// every guest address before touching memory.
pub struct TestRam {
    pub bytes: Vec<u8>,
}

impl TestRam {
    pub fn new(size: u32) -> Self {
        TestRam {
            bytes: vec![0; size as usize],
        }
    }

    pub fn read_vec(&self, addr: u64, len: usize) -> Vec<u8> {
        self.bytes[addr as usize..addr as usize + len].to_vec()
    }

    pub fn put(&mut self, addr: u64, data: &[u8]) {
        self.bytes[addr as usize..addr as usize + data.len()].copy_from_slice(data);
    }

    pub fn u16_at(&self, addr: u64) -> u16 {
        u16::from_le_bytes([self.bytes[addr as usize], self.bytes[addr as usize + 1]])
    }

    pub fn u32_at(&self, addr: u64) -> u32 {
        u32::from_le_bytes(self.read_vec(addr, 4).try_into().unwrap())
    }
}

impl GuestMemory for TestRam {
    fn ram_size(&self) -> u32 {
        self.bytes.len() as u32
    }

    fn read_ram(&mut self, addr: u32, buf: &mut [u8]) {
        let end = addr as usize + buf.len();
        assert!(
            end <= self.bytes.len(),
            "device read outside RAM at {addr:#x}"
        );
        buf.copy_from_slice(&self.bytes[addr as usize..end]);
    }

    fn write_ram(&mut self, addr: u32, data: &[u8]) {
        let end = addr as usize + data.len();
        assert!(
            end <= self.bytes.len(),
            "device wrote outside RAM at {addr:#x}"
        );
        self.bytes[addr as usize..end].copy_from_slice(data);
    }
}

/// Writes descriptor `i` of the table at `table`.
pub fn write_desc(
    ram: &mut TestRam,
    table: u64,
    i: u16,
    addr: u64,
    len: u32,
    flags: u16,
    next: u16,
) {
    let mut d = [0u8; 16];
    d[0..8].copy_from_slice(&addr.to_le_bytes());
    d[8..12].copy_from_slice(&len.to_le_bytes());
    d[12..14].copy_from_slice(&flags.to_le_bytes());
    d[14..16].copy_from_slice(&next.to_le_bytes());
    ram.put(table + 16 * u64::from(i), &d);
}

/// One buffer of a chain: guest address, length, device-writable.
#[derive(Clone, Copy, Debug)]
pub struct Buf {
    pub addr: u64,
    pub len: u32,
    pub writable: bool,
}

pub fn ro(addr: u64, len: u32) -> Buf {
    Buf {
        addr,
        len,
        writable: false,
    }
}

pub fn wo(addr: u64, len: u32) -> Buf {
    Buf {
        addr,
        len,
        writable: true,
    }
}

/// The driver's view of one queue.
#[derive(Clone, Debug)]
pub struct MockQueue {
    pub size: u16,
    pub desc: u64,
    pub avail: u64,
    pub used: u64,
    pub next_desc: u16,
    pub avail_idx: u16,
    pub used_seen: u16,
}

/// A device driven by a mock driver in test RAM.
pub struct MockDriver<D: VirtioDevice> {
    pub dev: VirtioPci<D>,
    pub ram: TestRam,
    pub queues: Vec<MockQueue>,
    /// Next free byte for `alloc`.
    pub heap: u64,
}

impl<D: VirtioDevice> MockDriver<D> {
    /// `device` with 1 MiB of RAM, not yet initialised.
    pub fn new(device: D) -> Self {
        MockDriver {
            dev: VirtioPci::new(device, 10),
            ram: TestRam::new(1 << 20),
            queues: Vec::new(),
            heap: 0x1000,
        }
    }

    /// Reserves `len` bytes aligned to 16.
    pub fn alloc(&mut self, len: u64) -> u64 {
        let at = (self.heap + 15) & !15;
        self.heap = at + len;
        assert!(
            self.heap <= self.ram.bytes.len() as u64,
            "test RAM exhausted"
        );
        at
    }

    pub fn read_common(&mut self, r: u32, size: u8) -> u32 {
        self.dev.bar_read(COMMON_OFFSET + r, size)
    }

    pub fn write_common(&mut self, r: u32, size: u8, v: u32) {
        self.dev.bar_write(COMMON_OFFSET + r, size, v)
    }

    /// The 64 offered feature bits.
    pub fn device_features(&mut self) -> u64 {
        self.write_common(reg::DEVICE_FEATURE_SELECT, 4, 0);
        let lo = self.read_common(reg::DEVICE_FEATURE, 4);
        self.write_common(reg::DEVICE_FEATURE_SELECT, 4, 1);
        let hi = self.read_common(reg::DEVICE_FEATURE, 4);
        u64::from(hi) << 32 | u64::from(lo)
    }

    pub fn write_driver_features(&mut self, f: u64) {
        self.write_common(reg::DRIVER_FEATURE_SELECT, 4, 0);
        self.write_common(reg::DRIVER_FEATURE, 4, f as u32);
        self.write_common(reg::DRIVER_FEATURE_SELECT, 4, 1);
        self.write_common(reg::DRIVER_FEATURE, 4, (f >> 32) as u32);
    }

    pub fn status(&mut self) -> u8 {
        self.read_common(reg::DEVICE_STATUS, 1) as u8
    }

    pub fn set_status(&mut self, s: u8) {
        self.write_common(reg::DEVICE_STATUS, 1, u32::from(s));
    }

    /// The §3.1.1 sequence accepting the offered features `& wanted`, with every queue at
    /// `queue_size` (or its maximum), ending with DRIVER_OK.
    pub fn init(&mut self, wanted: u64, queue_size: Option<u16>) {
        self.setup(wanted, queue_size);
        let s = self.status();
        self.set_status(s | status::DRIVER_OK);
    }

    /// [`MockDriver::init`] without setting DRIVER_OK.
    pub fn setup(&mut self, wanted: u64, queue_size: Option<u16>) {
        self.set_status(0);
        self.set_status(status::ACKNOWLEDGE);
        self.set_status(status::ACKNOWLEDGE | status::DRIVER);
        let features = self.device_features() & wanted;
        self.write_driver_features(features);
        let s = status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK;
        self.set_status(s);
        assert_eq!(self.status(), s, "device accepted the features");
        let n = self.read_common(reg::NUM_QUEUES, 2) as u16;
        self.queues.clear();
        for q in 0..n {
            self.write_common(reg::QUEUE_SELECT, 2, u32::from(q));
            let max = self.read_common(reg::QUEUE_SIZE, 2) as u16;
            let size = queue_size.unwrap_or(max).min(max);
            self.write_common(reg::QUEUE_SIZE, 2, u32::from(size));
            let desc = self.alloc(16 * u64::from(size));
            let avail = self.alloc(6 + 2 * u64::from(size));
            let used = self.alloc(6 + 8 * u64::from(size));
            for (r, v) in [
                (reg::QUEUE_DESC_LO, desc),
                (reg::QUEUE_DRIVER_LO, avail),
                (reg::QUEUE_DEVICE_LO, used),
            ] {
                self.write_common(r, 4, v as u32);
                self.write_common(r + 4, 4, (v >> 32) as u32);
            }
            self.write_common(reg::QUEUE_ENABLE, 2, 1);
            self.queues.push(MockQueue {
                size,
                desc,
                avail,
                used,
                next_desc: 0,
                avail_idx: 0,
                used_seen: 0,
            });
        }
    }

    /// `init` accepting everything offered.
    pub fn init_all(&mut self) {
        self.init(u64::MAX, None);
    }

    /// Writes descriptor `i` of the table at `table`.
    pub fn write_desc(&mut self, table: u64, i: u16, addr: u64, len: u32, flags: u16, next: u16) {
        write_desc(&mut self.ram, table, i, addr, len, flags, next);
    }

    /// Writes `bufs` as a chain of direct descriptors; returns the head index.
    pub fn add_chain(&mut self, q: usize, bufs: &[Buf]) -> u16 {
        let queue = self.queues[q].clone();
        let idx: Vec<u16> = (0..bufs.len() as u16)
            .map(|i| (queue.next_desc + i) % queue.size)
            .collect();
        for (i, b) in bufs.iter().enumerate() {
            let more = i + 1 < bufs.len();
            let flags = if b.writable { VIRTQ_DESC_F_WRITE } else { 0 }
                | if more { VIRTQ_DESC_F_NEXT } else { 0 };
            let next = if more { idx[i + 1] } else { 0 };
            self.write_desc(queue.desc, idx[i], b.addr, b.len, flags, next);
        }
        self.queues[q].next_desc = (queue.next_desc + bufs.len() as u16) % queue.size;
        idx[0]
    }

    /// Writes `bufs` as an indirect table behind one descriptor; returns the head index.
    pub fn add_indirect_chain(&mut self, q: usize, bufs: &[Buf]) -> u16 {
        let table = self.alloc(16 * bufs.len() as u64);
        for (i, b) in bufs.iter().enumerate() {
            let more = i + 1 < bufs.len();
            let flags = if b.writable { VIRTQ_DESC_F_WRITE } else { 0 }
                | if more { VIRTQ_DESC_F_NEXT } else { 0 };
            self.write_desc(table, i as u16, b.addr, b.len, flags, i as u16 + 1);
        }
        let queue = self.queues[q].clone();
        let head = queue.next_desc;
        let len = 16 * bufs.len() as u32;
        self.write_desc(queue.desc, head, table, len, VIRTQ_DESC_F_INDIRECT, 0);
        self.queues[q].next_desc = (head + 1) % queue.size;
        head
    }

    /// Makes chain `head` available (without notifying).
    pub fn publish(&mut self, q: usize, head: u16) {
        let queue = self.queues[q].clone();
        let slot = u64::from(queue.avail_idx % queue.size);
        self.ram
            .put(queue.avail + 4 + 2 * slot, &head.to_le_bytes());
        let idx = queue.avail_idx.wrapping_add(1);
        self.ram.put(queue.avail + 2, &idx.to_le_bytes());
        self.queues[q].avail_idx = idx;
    }

    /// Writes queue `q`'s notification register.
    pub fn notify(&mut self, q: usize) {
        let at = NOTIFY_OFFSET + NOTIFY_OFF_MULTIPLIER * q as u32;
        self.dev.bar_write(at, 2, q as u32);
    }

    /// Publishes, notifies and lets the device work.
    pub fn submit(&mut self, q: usize, head: u16) {
        self.publish(q, head);
        self.notify(q);
        self.poll();
    }

    pub fn poll(&mut self) {
        self.dev.poll(&mut self.ram);
    }

    /// Used entries `(id, len)` added since the last call. Like Linux's `virtqueue_get_buf`,
    /// then asks (through `used_event`) for an interrupt at the next used entry.
    pub fn take_used(&mut self, q: usize) -> Vec<(u32, u32)> {
        let queue = self.queues[q].clone();
        let idx = self.ram.u16_at(queue.used + 2);
        let mut out = Vec::new();
        let mut seen = queue.used_seen;
        if idx.wrapping_sub(seen) > queue.size {
            // Not something this device wrote (the test scribbled on the ring): resynchronise.
            seen = idx;
        }
        while seen != idx {
            let e = queue.used + 4 + 8 * u64::from(seen % queue.size);
            out.push((self.ram.u32_at(e), self.ram.u32_at(e + 4)));
            seen = seen.wrapping_add(1);
        }
        self.queues[q].used_seen = seen;
        let used_event = queue.avail + 4 + 2 * u64::from(queue.size);
        self.ram.put(used_event, &seen.to_le_bytes());
        out
    }

    /// Reads (and so clears) the ISR.
    pub fn read_isr(&mut self) -> u8 {
        self.dev.bar_read(ISR_OFFSET, 1) as u8
    }

    /// Whether every transport feature was negotiated.
    pub fn negotiated_all_transport_features(&self) -> bool {
        let f = self.dev.state().driver_features;
        let t = feature::VERSION_1 | feature::INDIRECT_DESC | feature::EVENT_IDX;
        f & t == t
    }
}
