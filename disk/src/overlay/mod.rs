//! A copy-on-write overlay: the guest's writes go to an [`OverlayStore`] (natively a file), reads
//! take each sector from the overlay if it was ever written and from the base otherwise, and the
//! base is never written. The store's format and crash-safety argument are in [`format`].
//!
//! Everything the overlay holds is read and written synchronously from its store; only the base
//! is asynchronous. A read therefore fills its overlay sectors at once and waits for the base
//! for the rest; a write of whole sectors completes at once. A write covering only part of a
//! sector that the overlay does not hold yet must first read that sector from the base: such a
//! write is parked until the base answers, and requests submitted meanwhile wait behind it in
//! order (virtio drivers write whole sectors, so this path is for completeness, not speed).

pub mod format;
mod store;

use std::collections::{BTreeSet, HashMap, VecDeque};

#[cfg(any(unix, windows))]
pub use store::FileStore;
pub use store::MemoryStore;
pub use store::OverlayStore;

use format::{Entry, Header, CLUSTER_SIZE, ENTRIES_PER_PAGE, INDEX_OFFSET};

use crate::{check_range, BlockBackend, Completion, DiskError, Request, RequestId, SECTOR_SIZE};

/// A read waiting for base data.
#[derive(Debug)]
struct PendingRead {
    id: RequestId,
    buf: Vec<u8>,
    missing: usize,
    error: Option<DiskError>,
}

/// A partial-sector write waiting for the base's copy of its edge sectors.
#[derive(Debug)]
struct ParkedWrite {
    id: RequestId,
    offset: u64,
    data: Vec<u8>,
    edges: HashMap<u64, Vec<u8>>,
    missing: usize,
    error: Option<DiskError>,
}

/// What a request to the base is for.
#[derive(Debug)]
enum BaseWait {
    /// Bytes for read `read`, to go at `at` in its buffer.
    Read { read: u64, at: usize, len: usize },
    /// The base's copy of `sector`, for the parked write.
    Edge { sector: u64 },
}

/// A disk made of a read-only base and the writes made on top of it.
#[derive(Debug)]
pub struct CowOverlay<B, S> {
    base: B,
    store: S,
    size: u64,
    data_offset: u64,
    index: Vec<Entry>,
    next_slot: u32,
    /// Index pages changed in memory since the last flush.
    dirty_pages: BTreeSet<u64>,
    /// Data written since the last flush.
    data_unsynced: bool,
    next_base_id: u64,
    base_waits: HashMap<u64, BaseWait>,
    reads: HashMap<u64, PendingRead>,
    next_read: u64,
    parked: Option<ParkedWrite>,
    blocked: VecDeque<(RequestId, Request)>,
    ready: Vec<Completion>,
    base_done: Vec<Completion>,
}

impl<B: BlockBackend, S: OverlayStore> CowOverlay<B, S> {
    /// An overlay of `base` in `store`: a new one if the store is empty, else the one the store
    /// holds, which must have been made for this base (same size and GET_ID).
    pub fn new(base: B, mut store: S) -> Result<CowOverlay<B, S>, DiskError> {
        let name = store.name();
        let io = |source| DiskError::Io {
            path: name.clone(),
            source,
        };
        let bad = |reason: String| DiskError::BadOverlay {
            path: name.clone(),
            reason,
        };
        let store_len = store.size().map_err(io)?;
        let header = if store_len == 0 {
            let header = Header::new(base.len(), &base.device_id());
            if header.disk_size >= format::MAX_DISK_SIZE {
                return Err(bad("overlays are limited to disks below 16 TiB".to_string()));
            }
            store.write_at(0, &header.encode()).map_err(io)?;
            store.sync().map_err(io)?;
            header
        } else {
            let mut page = [0u8; 4096];
            store.read_at(0, &mut page).map_err(io)?;
            let header = Header::decode(&page).map_err(bad)?;
            let base_id = crate::truncate_device_id(base.device_id());
            if header.disk_size != base.len() || header.base_id != base_id {
                return Err(DiskError::OverlayBaseMismatch {
                    path: name.clone(),
                    expected_id: header.base_id,
                    expected_size: header.disk_size,
                    found_id: base_id,
                    found_size: base.len(),
                });
            }
            header
        };

        let clusters = format::clusters(header.disk_size) as usize;
        let mut raw = vec![0u8; clusters * 8];
        store.read_at(INDEX_OFFSET, &mut raw).map_err(io)?;
        let mut index = Vec::with_capacity(clusters);
        let mut slots_seen = BTreeSet::new();
        for (cluster, bytes) in raw.chunks_exact(8).enumerate() {
            let entry = Entry::decode(u64::from_le_bytes(bytes.try_into().unwrap()))
                .map_err(|e| bad(format!("cluster {cluster}'s {e}")))?;
            if entry.slot != 0 {
                // The highest valid sector must lie inside the store: a flush syncs data before
                // it writes the entry naming it.
                let last_sector = 7 - u64::from(entry.mask.leading_zeros());
                let end = header.data_offset
                    + u64::from(entry.slot - 1) * CLUSTER_SIZE
                    + (last_sector + 1) * SECTOR_SIZE;
                if end > store_len || !slots_seen.insert(entry.slot) {
                    return Err(bad(format!(
                        "cluster {cluster} names data slot {} that is past the end or shared",
                        entry.slot
                    )));
                }
            }
            index.push(entry);
        }
        let next_slot = slots_seen.last().map_or(1, |&s| s + 1);
        Ok(CowOverlay {
            base,
            store,
            size: header.disk_size,
            data_offset: header.data_offset,
            index,
            next_slot,
            dirty_pages: BTreeSet::new(),
            data_unsynced: false,
            next_base_id: 0,
            base_waits: HashMap::new(),
            reads: HashMap::new(),
            next_read: 0,
            parked: None,
            blocked: VecDeque::new(),
            ready: Vec::new(),
            base_done: Vec::new(),
        })
    }

    pub fn base(&self) -> &B {
        &self.base
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Gives back the base and the store (e.g. to reopen the store later).
    pub fn into_parts(self) -> (B, S) {
        (self.base, self.store)
    }

    /// Clusters the overlay holds data for.
    pub fn allocated_clusters(&self) -> u64 {
        u64::from(self.next_slot - 1)
    }

    fn io_error(&self, source: std::io::Error) -> DiskError {
        DiskError::Io {
            path: self.store.name(),
            source,
        }
    }

    /// Where sector `sector_in_cluster` of the cluster with `entry` lives in the store.
    fn slot_offset(&self, entry: Entry, sector_in_cluster: u64) -> u64 {
        self.data_offset
            + u64::from(entry.slot - 1) * CLUSTER_SIZE
            + sector_in_cluster * SECTOR_SIZE
    }

    fn entry_of_sector(&self, sector: u64) -> Entry {
        self.index[(sector * SECTOR_SIZE / CLUSTER_SIZE) as usize]
    }

    fn sector_in_overlay(&self, sector: u64) -> bool {
        self.entry_of_sector(sector)
            .has_sector(sector % format::SECTORS_PER_CLUSTER)
    }

    fn submit_base(&mut self, request: Request, wait: BaseWait) {
        let id = self.next_base_id;
        self.next_base_id += 1;
        self.base_waits.insert(id, wait);
        self.base.submit(RequestId(id), request);
    }

    fn handle(&mut self, id: RequestId, request: Request) {
        if self.parked.is_some() {
            self.blocked.push_back((id, request));
            return;
        }
        match request {
            Request::Read { offset, len } => self.start_read(id, offset, len),
            Request::Write { offset, data } => self.start_write(id, offset, data),
            Request::Flush => {
                let result = self.flush().map(|()| Vec::new());
                self.ready.push(Completion { id, result });
            }
        }
    }

    fn start_read(&mut self, id: RequestId, offset: u64, len: u32) {
        if let Err(e) = check_range(offset, u64::from(len), self.size) {
            self.ready.push(Completion { id, result: Err(e) });
            return;
        }
        let mut buf = vec![0u8; len as usize];
        let end = offset + u64::from(len);
        // Walk the request sector by sector, copying overlay runs now and collecting base runs.
        let mut base_runs: Vec<(u64, u64)> = Vec::new();
        let mut at = offset;
        while at < end {
            let sector = at / SECTOR_SIZE;
            let entry = self.entry_of_sector(sector);
            let in_overlay = entry.has_sector(sector % format::SECTORS_PER_CLUSTER);
            // Extend the run while sectors stay on the same side (and, for the overlay, in the
            // same cluster, whose slot is contiguous).
            let mut run_end = ((sector + 1) * SECTOR_SIZE).min(end);
            while run_end < end {
                let next = run_end / SECTOR_SIZE;
                let same_cluster =
                    next / format::SECTORS_PER_CLUSTER == sector / format::SECTORS_PER_CLUSTER;
                if self.sector_in_overlay(next) != in_overlay || (in_overlay && !same_cluster) {
                    break;
                }
                run_end = ((next + 1) * SECTOR_SIZE).min(end);
            }
            if in_overlay {
                let within = at - sector * SECTOR_SIZE;
                let from = self.slot_offset(entry, sector % format::SECTORS_PER_CLUSTER) + within;
                let to = (at - offset) as usize..(run_end - offset) as usize;
                if let Err(e) = self.store.read_at(from, &mut buf[to]) {
                    let result = Err(self.io_error(e));
                    self.ready.push(Completion { id, result });
                    return;
                }
            } else {
                base_runs.push((at, run_end));
            }
            at = run_end;
        }
        if base_runs.is_empty() {
            self.ready.push(Completion {
                id,
                result: Ok(buf),
            });
            return;
        }
        let key = self.next_read;
        self.next_read += 1;
        self.reads.insert(
            key,
            PendingRead {
                id,
                buf,
                missing: base_runs.len(),
                error: None,
            },
        );
        for (start, stop) in base_runs {
            let len = (stop - start) as usize;
            let wait = BaseWait::Read {
                read: key,
                at: (start - offset) as usize,
                len,
            };
            let request = Request::Read {
                offset: start,
                len: len as u32,
            };
            self.submit_base(request, wait);
        }
    }

    /// Sectors that `len` bytes at `offset` cover only in part and the overlay lacks.
    fn missing_edges(&self, offset: u64, len: u64) -> Vec<u64> {
        if len == 0 {
            return Vec::new();
        }
        let end = offset + len;
        let first = offset / SECTOR_SIZE;
        let last = (end - 1) / SECTOR_SIZE;
        let mut edges = Vec::new();
        if !offset.is_multiple_of(SECTOR_SIZE)
            || (first == last && !end.is_multiple_of(SECTOR_SIZE))
        {
            edges.push(first);
        }
        if last != first && !end.is_multiple_of(SECTOR_SIZE) {
            edges.push(last);
        }
        edges.retain(|&s| !self.sector_in_overlay(s));
        edges
    }

    fn start_write(&mut self, id: RequestId, offset: u64, data: Vec<u8>) {
        if let Err(e) = check_range(offset, data.len() as u64, self.size) {
            self.ready.push(Completion { id, result: Err(e) });
            return;
        }
        let edges = self.missing_edges(offset, data.len() as u64);
        if edges.is_empty() {
            let result = self.apply_write(offset, &data, &HashMap::new());
            self.ready.push(Completion {
                id,
                result: result.map(|()| Vec::new()),
            });
            return;
        }
        self.parked = Some(ParkedWrite {
            id,
            offset,
            data,
            edges: HashMap::new(),
            missing: edges.len(),
            error: None,
        });
        for sector in edges {
            let request = Request::Read {
                offset: sector * SECTOR_SIZE,
                len: SECTOR_SIZE as u32,
            };
            self.submit_base(request, BaseWait::Edge { sector });
        }
    }

    /// Writes `data` at `offset` into the overlay, cluster by cluster, completing partial
    /// sectors from the overlay or, where it lacks them, from `edges` (the base's copies).
    fn apply_write(
        &mut self,
        offset: u64,
        data: &[u8],
        edges: &HashMap<u64, Vec<u8>>,
    ) -> Result<(), DiskError> {
        let end = offset + data.len() as u64;
        let mut at = offset;
        while at < end {
            let cluster = at / CLUSTER_SIZE;
            let cluster_start = cluster * CLUSTER_SIZE;
            let part_end = end.min(cluster_start + CLUSTER_SIZE);
            let first = at / SECTOR_SIZE;
            let stop = part_end.div_ceil(SECTOR_SIZE); // one past the last sector touched
            let span_start = first * SECTOR_SIZE;
            let mut span = vec![0u8; ((stop - first) * SECTOR_SIZE) as usize];
            for sector in [first, stop - 1] {
                let sector_start = sector * SECTOR_SIZE;
                let whole = at <= sector_start && sector_start + SECTOR_SIZE <= part_end;
                if whole {
                    continue;
                }
                let piece = (sector_start - span_start) as usize..;
                let piece = &mut span[piece][..SECTOR_SIZE as usize];
                if self.sector_in_overlay(sector) {
                    let entry = self.entry_of_sector(sector);
                    let from = self.slot_offset(entry, sector % format::SECTORS_PER_CLUSTER);
                    self.store
                        .read_at(from, piece)
                        .map_err(|e| self.io_error(e))?;
                } else if let Some(copy) = edges.get(&sector) {
                    piece.copy_from_slice(copy);
                } else {
                    // `missing_edges` found every such sector before the write was applied,
                    // and the parked-write barrier keeps that answer valid.
                    debug_assert!(false, "partial sector {sector} without its base copy");
                }
            }
            let into = (at - span_start) as usize..(part_end - span_start) as usize;
            span[into].copy_from_slice(&data[(at - offset) as usize..(part_end - offset) as usize]);

            let mut entry = self.index[cluster as usize];
            if entry.slot == 0 {
                entry.slot = self.next_slot;
                self.next_slot += 1;
            }
            let first_in_cluster = first % format::SECTORS_PER_CLUSTER;
            let to = self.slot_offset(entry, first_in_cluster);
            self.data_unsynced = true;
            self.store
                .write_at(to, &span)
                .map_err(|e| self.io_error(e))?;
            for sector in first..stop {
                entry.mask |= 1 << (sector % format::SECTORS_PER_CLUSTER);
            }
            if entry != self.index[cluster as usize] {
                self.index[cluster as usize] = entry;
                self.dirty_pages.insert(cluster / ENTRIES_PER_PAGE);
            }
            at = part_end;
        }
        Ok(())
    }

    /// Makes every completed write durable: data first, then the index entries naming it.
    fn flush(&mut self) -> Result<(), DiskError> {
        if !self.data_unsynced && self.dirty_pages.is_empty() {
            return Ok(());
        }
        self.store.sync().map_err(|e| self.io_error(e))?;
        self.data_unsynced = false;
        while let Some(&page) = self.dirty_pages.first() {
            let first = (page * ENTRIES_PER_PAGE) as usize;
            let last = (first + ENTRIES_PER_PAGE as usize).min(self.index.len());
            let bytes: Vec<u8> = self.index[first..last]
                .iter()
                .flat_map(|e| e.encode().to_le_bytes())
                .collect();
            self.store
                .write_at(INDEX_OFFSET + page * CLUSTER_SIZE, &bytes)
                .map_err(|e| self.io_error(e))?;
            self.dirty_pages.remove(&page);
        }
        self.store.sync().map_err(|e| self.io_error(e))
    }

    fn base_answered(&mut self, completion: Completion) {
        let Some(wait) = self.base_waits.remove(&completion.id.0) else {
            return;
        };
        match wait {
            BaseWait::Read { read, at, len } => {
                let Some(pending) = self.reads.get_mut(&read) else {
                    return;
                };
                match completion.result {
                    Ok(bytes) if bytes.len() == len => {
                        pending.buf[at..at + len].copy_from_slice(&bytes);
                    }
                    Ok(_) => {
                        pending.error.get_or_insert(DiskError::Io {
                            path: self.base.device_id(),
                            source: std::io::Error::other("the base returned a short read"),
                        });
                    }
                    Err(e) => {
                        pending.error.get_or_insert(e);
                    }
                }
                pending.missing -= 1;
                if pending.missing == 0 {
                    let pending = self.reads.remove(&read).expect("present above");
                    let result = match pending.error {
                        Some(e) => Err(e),
                        None => Ok(pending.buf),
                    };
                    self.ready.push(Completion {
                        id: pending.id,
                        result,
                    });
                }
            }
            BaseWait::Edge { sector } => {
                let Some(parked) = self.parked.as_mut() else {
                    return;
                };
                match completion.result {
                    Ok(bytes) if bytes.len() == SECTOR_SIZE as usize => {
                        parked.edges.insert(sector, bytes);
                    }
                    Ok(_) => {
                        parked.error.get_or_insert(DiskError::Io {
                            path: self.base.device_id(),
                            source: std::io::Error::other("the base returned a short read"),
                        });
                    }
                    Err(e) => {
                        parked.error.get_or_insert(e);
                    }
                }
                parked.missing -= 1;
                if parked.missing == 0 {
                    let parked = self.parked.take().expect("present above");
                    let result = match parked.error {
                        Some(e) => Err(e),
                        None => self
                            .apply_write(parked.offset, &parked.data, &parked.edges)
                            .map(|()| Vec::new()),
                    };
                    self.ready.push(Completion {
                        id: parked.id,
                        result,
                    });
                    while self.parked.is_none() {
                        let Some((id, request)) = self.blocked.pop_front() else {
                            break;
                        };
                        self.handle(id, request);
                    }
                }
            }
        }
    }
}

impl<B: BlockBackend, S: OverlayStore> BlockBackend for CowOverlay<B, S> {
    fn len(&self) -> u64 {
        self.size
    }

    /// The base's: the overlay is the same disk, changed.
    fn device_id(&self) -> String {
        self.base.device_id()
    }

    fn submit(&mut self, id: RequestId, request: Request) {
        self.handle(id, request);
    }

    fn poll(&mut self, out: &mut Vec<Completion>) {
        // A base answer can release blocked requests whose own base reads complete later, so
        // keep going while the base produces answers.
        loop {
            let mut done = std::mem::take(&mut self.base_done);
            self.base.poll(&mut done);
            if done.is_empty() {
                self.base_done = done;
                break;
            }
            for completion in done.drain(..) {
                self.base_answered(completion);
            }
            self.base_done = done;
        }
        out.append(&mut self.ready);
    }
}

#[cfg(test)]
mod tests;
