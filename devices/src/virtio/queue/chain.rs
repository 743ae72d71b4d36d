//! Descriptor chains: walking and validating a chain from the descriptor table (virtio 1.2
//! §2.7.5), and reading/writing the buffers it describes.
//!
//! A chain is accepted only if every rule the driver must follow holds: each `next` inside the
//! table, no more descriptors than the queue size (so a loop is caught as "too long"), indirect
//! tables only when negotiated, never nested and never combined with `NEXT`, indirect table
//! lengths a non-zero multiple of 16, every device-writable descriptor after every readable one,
//! and every buffer inside guest RAM. The result is two lists of RAM segments that are known to
//! be in range, so devices can move data without further checks.

use super::QueueError;
use crate::virtio::memory::GuestRam;

/// `flags`: the chain continues at `next`.
pub const VIRTQ_DESC_F_NEXT: u16 = 1;
/// `flags`: the buffer is device-writable.
pub const VIRTQ_DESC_F_WRITE: u16 = 2;
/// `flags`: the buffer is a table of indirect descriptors.
pub const VIRTQ_DESC_F_INDIRECT: u16 = 4;

/// Bytes in one descriptor.
pub const DESCRIPTOR_SIZE: u64 = 16;

/// Largest total byte count of one chain's buffers (readable plus writable). Buffers are only
/// addresses, but devices copy them; bigger chains are refused as "too long".
pub const MAX_CHAIN_BYTES: u64 = 64 << 20;

/// Most entries an indirect table may have (Linux uses at most `seg_max + 2`).
pub const MAX_INDIRECT_ENTRIES: u64 = 1024;

/// One entry of a descriptor table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor {
    pub addr: u64,
    pub len: u32,
    pub flags: u16,
    pub next: u16,
}

impl Descriptor {
    /// Reads descriptor `index` of the table at `table`.
    pub fn read(mem: &mut GuestRam, table: u64, index: u16) -> Result<Self, QueueError> {
        let mut b = [0u8; 16];
        let at = table.wrapping_add(u64::from(index) * DESCRIPTOR_SIZE);
        mem.read(at, &mut b)?;
        Ok(Descriptor {
            addr: u64::from_le_bytes(b[0..8].try_into().unwrap_or([0; 8])),
            len: u32::from_le_bytes(b[8..12].try_into().unwrap_or([0; 4])),
            flags: u16::from_le_bytes([b[12], b[13]]),
            next: u16::from_le_bytes([b[14], b[15]]),
        })
    }
}

/// A run of guest RAM, known to lie inside RAM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segment {
    pub addr: u32,
    pub len: u32,
}

/// An ordered list of RAM segments seen as one byte stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Segments(pub Vec<Segment>);

impl Segments {
    /// Total bytes.
    pub fn len(&self) -> u64 {
        self.0.iter().map(|s| u64::from(s.len)).sum()
    }

    /// Whether the stream has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The first `at` bytes and the rest.
    pub fn split_at(&self, at: u64) -> (Segments, Segments) {
        let mut head = Vec::new();
        let mut tail = Vec::new();
        let mut left = at;
        for s in &self.0 {
            let len = u64::from(s.len);
            if left >= len {
                head.push(*s);
                left -= len;
            } else if left > 0 {
                head.push(Segment {
                    addr: s.addr,
                    len: left as u32,
                });
                tail.push(Segment {
                    addr: s.addr.wrapping_add(left as u32),
                    len: s.len - left as u32,
                });
                left = 0;
            } else {
                tail.push(*s);
            }
        }
        (Segments(head), Segments(tail))
    }

    /// Reads the whole stream (at most `limit` bytes).
    pub fn read_all(&self, mem: &mut GuestRam, limit: usize) -> Result<Vec<u8>, QueueError> {
        let total = (self.len() as usize).min(limit);
        let mut out = vec![0; total];
        self.read_at(mem, 0, &mut out)?;
        Ok(out)
    }

    /// Reads `buf.len()` bytes starting `offset` bytes into the stream; bytes past its end are
    /// left untouched. Returns how many were read.
    pub fn read_at(
        &self,
        mem: &mut GuestRam,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, QueueError> {
        let mut done = 0usize;
        for (seg_off, addr, n) in self.pieces(offset, buf.len() as u64) {
            let part = &mut buf[seg_off..seg_off + n];
            mem.read(u64::from(addr), part)?;
            done += n;
        }
        Ok(done)
    }

    /// Writes `data` starting `offset` bytes into the stream, up to its end. Returns how many
    /// bytes were written.
    pub fn write_at(
        &self,
        mem: &mut GuestRam,
        offset: u64,
        data: &[u8],
    ) -> Result<usize, QueueError> {
        let mut done = 0usize;
        for (data_off, addr, n) in self.pieces(offset, data.len() as u64) {
            mem.write(u64::from(addr), &data[data_off..data_off + n])?;
            done += n;
        }
        Ok(done)
    }

    /// The pieces of `[offset, offset + len)` of the stream: (offset in the caller's buffer,
    /// guest address, length).
    fn pieces(&self, offset: u64, len: u64) -> Vec<(usize, u32, usize)> {
        let mut out = Vec::new();
        let mut pos = 0u64; // stream offset of the current segment
        let end = offset.saturating_add(len);
        for s in &self.0 {
            let s_end = pos + u64::from(s.len);
            let from = offset.max(pos);
            let to = end.min(s_end);
            if from < to {
                let addr = s.addr.wrapping_add((from - pos) as u32);
                out.push(((from - offset) as usize, addr, (to - from) as usize));
            }
            pos = s_end;
            if pos >= end {
                break;
            }
        }
        out
    }
}

/// A validated descriptor chain.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DescriptorChain {
    /// Index of the head descriptor: the id put in the used ring.
    pub head: u16,
    /// Device-readable buffers, in order.
    pub readable: Segments,
    /// Device-writable buffers, in order.
    pub writable: Segments,
}

impl DescriptorChain {
    /// Walks the chain starting at `head` in the table at `table` of `queue_size` entries.
    pub fn parse(
        mem: &mut GuestRam,
        table: u64,
        queue_size: u16,
        head: u16,
        indirect_allowed: bool,
    ) -> Result<Self, QueueError> {
        if head >= queue_size {
            return Err(QueueError::HeadOutOfRange { head, queue_size });
        }
        let mut chain = DescriptorChain {
            head,
            readable: Segments::default(),
            writable: Segments::default(),
        };
        let mut walker = Walker {
            count: 0,
            limit: u32::from(queue_size),
            bytes: 0,
        };
        let mut index = head;
        loop {
            let d = Descriptor::read(mem, table, index)?;
            if d.flags & VIRTQ_DESC_F_INDIRECT != 0 {
                if !indirect_allowed {
                    return Err(QueueError::IndirectNotNegotiated);
                }
                if d.flags & VIRTQ_DESC_F_NEXT != 0 {
                    return Err(QueueError::IndirectWithNext);
                }
                chain.walk_indirect(mem, &d, walker.bytes)?;
                return Ok(chain);
            }
            walker.step()?;
            chain.push(mem, &d, &mut walker)?;
            if d.flags & VIRTQ_DESC_F_NEXT == 0 {
                return Ok(chain);
            }
            if d.next >= queue_size {
                return Err(QueueError::NextOutOfRange {
                    next: d.next,
                    table_len: u32::from(queue_size),
                });
            }
            index = d.next;
        }
    }

    /// Follows an indirect table (§2.7.5.3): its entries chain through `next` from entry 0.
    /// The table's own length bounds the walk (a loop inside it is "too long").
    fn walk_indirect(
        &mut self,
        mem: &mut GuestRam,
        d: &Descriptor,
        bytes_so_far: u64,
    ) -> Result<(), QueueError> {
        if d.len == 0 || u64::from(d.len) % DESCRIPTOR_SIZE != 0 {
            return Err(QueueError::BadIndirectLength(d.len));
        }
        let entries = u64::from(d.len) / DESCRIPTOR_SIZE;
        if entries > MAX_INDIRECT_ENTRIES {
            return Err(QueueError::ChainTooLong);
        }
        mem.check(d.addr, u64::from(d.len))?;
        let walker = &mut Walker {
            count: 0,
            limit: entries as u32,
            bytes: bytes_so_far,
        };
        let mut index = 0u64;
        loop {
            let e = Descriptor::read(mem, d.addr, index as u16)?;
            if e.flags & VIRTQ_DESC_F_INDIRECT != 0 {
                return Err(QueueError::NestedIndirect);
            }
            walker.step()?;
            self.push(mem, &e, walker)?;
            if e.flags & VIRTQ_DESC_F_NEXT == 0 {
                return Ok(());
            }
            if u64::from(e.next) >= entries {
                return Err(QueueError::NextOutOfRange {
                    next: e.next,
                    table_len: entries as u32,
                });
            }
            index = u64::from(e.next);
        }
    }

    /// Adds one buffer descriptor.
    fn push(
        &mut self,
        mem: &mut GuestRam,
        d: &Descriptor,
        walker: &mut Walker,
    ) -> Result<(), QueueError> {
        let addr = mem.check(d.addr, u64::from(d.len))?;
        walker.bytes += u64::from(d.len);
        if walker.bytes > MAX_CHAIN_BYTES {
            return Err(QueueError::ChainTooLong);
        }
        let seg = Segment { addr, len: d.len };
        if d.flags & VIRTQ_DESC_F_WRITE != 0 {
            self.writable.0.push(seg);
        } else {
            // §2.7.4.2: device-readable descriptors come before device-writable ones.
            if !self.writable.0.is_empty() {
                return Err(QueueError::ReadableAfterWritable);
            }
            self.readable.0.push(seg);
        }
        Ok(())
    }
}

/// Counts descriptors and bytes of a chain as it is walked.
struct Walker {
    count: u32,
    limit: u32,
    bytes: u64,
}

impl Walker {
    /// A chain is never longer than its table (§2.7.5.3.1); this also ends any loop.
    fn step(&mut self) -> Result<(), QueueError> {
        self.count += 1;
        if self.count > self.limit {
            return Err(QueueError::ChainTooLong);
        }
        Ok(())
    }
}
