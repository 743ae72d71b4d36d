//! The overlay's on-store format, version 1. All integers are little-endian.
//!
//! ```text
//! offset 0      header (one 4 KiB page)
//!                 0  magic        8 bytes  "webx86ov"
//!                 8  version      u32      1
//!                12  cluster size u32      4096
//!                16  disk size    u64      bytes of the disk it overlays
//!                24  index offset u64      4096
//!                32  data offset  u64      index offset + index length rounded up to 4 KiB
//!                40  base id      1 length byte + 20 bytes + 3 zero bytes: the base's GET_ID
//!                64  checksum     8 bytes: the first 8 bytes of SHA-256(header bytes 0..64)
//!                72  zeros up to 4096
//! index offset  index: one u64 per 4 KiB cluster of the disk, in disk order
//!                 bits  0..32  slot: 0 = cluster not in the overlay, n = data at
//!                              data offset + (n - 1) * 4096
//!                 bits 32..40  sector mask: bit i set = the cluster's 512-byte sector i is
//!                              in the overlay (read it from the slot), clear = read the base
//!                 bits 40..64  zero
//! data offset   data: 4 KiB slots, allocated in order as clusters are first written
//! ```
//!
//! Sector masks let a write of whole sectors go straight to the overlay without first copying the
//! rest of its cluster from the base (which, for a streamed image, may not be fetched yet).
//!
//! Crash safety: data is written to its slot when the guest writes; index entries change only in
//! memory until a flush, which syncs the data, then writes the changed index pages, then syncs
//! again. So the index on the store only ever names data that is already durable: after a crash
//! each sector reads as of the last completed flush or as a write made after it — the way a disk
//! with a volatile write cache behaves — never as garbage. Slots are never reused, so a durable
//! entry's data is never overwritten except by a newer write to the same sector.

use sha2::{Digest, Sha256};

/// Identifies an overlay.
pub const MAGIC: [u8; 8] = *b"webx86ov";
/// The format version written and read.
pub const VERSION: u32 = 1;
/// Bytes per cluster (allocation unit) and per index page.
pub const CLUSTER_SIZE: u64 = 4096;
/// 512-byte sectors per cluster (the width of an entry's mask).
pub const SECTORS_PER_CLUSTER: u64 = CLUSTER_SIZE / crate::SECTOR_SIZE;
/// Where the index starts.
pub const INDEX_OFFSET: u64 = 4096;
/// Bytes in the header that the checksum covers.
const HEADER_FIELDS: usize = 64;
/// Overlaid disks are smaller than this, so that every cluster's slot number fits in 32 bits.
pub const MAX_DISK_SIZE: u64 = 1 << 44;
/// Index entries per 4 KiB page of the index.
pub const ENTRIES_PER_PAGE: u64 = CLUSTER_SIZE / 8;

/// The decoded header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub disk_size: u64,
    pub data_offset: u64,
    pub base_id: String,
}

impl Header {
    /// The header for an overlay of a `disk_size`-byte base named `base_id`.
    pub fn new(disk_size: u64, base_id: &str) -> Header {
        let index_len = clusters(disk_size) * 8;
        Header {
            disk_size,
            data_offset: INDEX_OFFSET + index_len.div_ceil(CLUSTER_SIZE) * CLUSTER_SIZE,
            base_id: crate::truncate_device_id(base_id.to_string()),
        }
    }

    pub fn encode(&self) -> [u8; 4096] {
        let mut page = [0u8; 4096];
        page[0..8].copy_from_slice(&MAGIC);
        page[8..12].copy_from_slice(&VERSION.to_le_bytes());
        page[12..16].copy_from_slice(&(CLUSTER_SIZE as u32).to_le_bytes());
        page[16..24].copy_from_slice(&self.disk_size.to_le_bytes());
        page[24..32].copy_from_slice(&INDEX_OFFSET.to_le_bytes());
        page[32..40].copy_from_slice(&self.data_offset.to_le_bytes());
        let id = self.base_id.as_bytes();
        page[40] = id.len() as u8;
        page[41..41 + id.len()].copy_from_slice(id);
        let checksum = Sha256::digest(&page[..HEADER_FIELDS]);
        page[64..72].copy_from_slice(&checksum[..8]);
        page
    }

    /// Decodes and checks a header page; the error is the reason it is not one.
    pub fn decode(page: &[u8; 4096]) -> Result<Header, String> {
        if page[0..8] != MAGIC {
            return Err("it does not start with the overlay magic `webx86ov`".to_string());
        }
        let checksum = Sha256::digest(&page[..HEADER_FIELDS]);
        if page[64..72] != checksum[..8] {
            return Err("its header checksum does not match".to_string());
        }
        let u32_at = |at: usize| u32::from_le_bytes(page[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_le_bytes(page[at..at + 8].try_into().unwrap());
        let version = u32_at(8);
        if version != VERSION {
            return Err(format!(
                "it has format version {version}; this build reads version {VERSION}"
            ));
        }
        if u64::from(u32_at(12)) != CLUSTER_SIZE || u64_at(24) != INDEX_OFFSET {
            return Err("its cluster size or index offset is not the version 1 layout".to_string());
        }
        let id_len = usize::from(page[40]);
        if id_len > 20 {
            return Err("its base id is longer than 20 bytes".to_string());
        }
        let base_id = std::str::from_utf8(&page[41..41 + id_len])
            .map_err(|_| "its base id is not UTF-8".to_string())?
            .to_string();
        let header = Header {
            disk_size: u64_at(16),
            data_offset: u64_at(32),
            base_id,
        };
        if header.disk_size > 1 << 44 {
            return Err(format!(
                "its disk size {} is beyond 16 TiB",
                header.disk_size
            ));
        }
        if header != Header::new(header.disk_size, &header.base_id) {
            return Err("its data offset does not follow from its disk size".to_string());
        }
        Ok(header)
    }
}

/// Clusters covering a `disk_size`-byte disk.
pub fn clusters(disk_size: u64) -> u64 {
    disk_size.div_ceil(CLUSTER_SIZE)
}

/// One index entry: where a cluster's data is and which of its sectors are valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Entry {
    /// 0 = not allocated; else data at `data_offset + (slot - 1) * CLUSTER_SIZE`.
    pub slot: u32,
    pub mask: u8,
}

impl Entry {
    pub fn encode(self) -> u64 {
        u64::from(self.slot) | (u64::from(self.mask) << 32)
    }

    /// Decodes an entry, refusing reserved bits and half-allocated entries.
    pub fn decode(raw: u64) -> Result<Entry, String> {
        let entry = Entry {
            slot: raw as u32,
            mask: (raw >> 32) as u8,
        };
        if raw >> 40 != 0 || (entry.slot == 0) != (entry.mask == 0) {
            return Err(format!("index entry {raw:#018x} is malformed"));
        }
        Ok(entry)
    }

    pub fn has_sector(self, sector_in_cluster: u64) -> bool {
        self.mask & (1 << sector_in_cluster) != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_detects_damage() {
        let header = Header::new(10 << 30, "img-0123456789abcdef");
        // 10 GiB / 4 KiB = 2.5 Mi clusters = 20 MiB of index.
        assert_eq!(header.data_offset, 4096 + (20 << 20));
        let page = header.encode();
        assert_eq!(Header::decode(&page).unwrap(), header);
        for at in [0, 9, 17, 33, 41, 70] {
            let mut damaged = page;
            damaged[at] ^= 0x10;
            assert!(Header::decode(&damaged).is_err(), "byte {at}");
        }
    }

    #[test]
    fn entries_round_trip_and_reject_malformed_bits() {
        let entry = Entry {
            slot: 7,
            mask: 0b1010_0001,
        };
        assert_eq!(Entry::decode(entry.encode()).unwrap(), entry);
        assert!(entry.has_sector(0) && !entry.has_sector(1) && entry.has_sector(7));
        assert_eq!(Entry::decode(0).unwrap(), Entry::default());
        assert!(Entry::decode(1 << 40 | 1 << 32 | 1).is_err());
        assert!(Entry::decode(5).is_err()); // slot without sectors
        assert!(Entry::decode(1 << 32).is_err()); // sectors without slot
    }
}
