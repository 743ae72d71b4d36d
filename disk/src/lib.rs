//! Block backends behind one asynchronous interface: a request is submitted now and completes
//! later (natively often at once; in the browser when a chunk fetch resolves), so no caller
//! ever blocks on a read.
//!
//! Backends, each in its own module, in the manner of Firecracker's block `io/` folder:
//! - [`MemoryDisk`]: bytes in memory (tests, small scratch disks);
//! - [`RawFile`] (native only): a raw image file with positioned I/O, flush = `fsync`;
//! - [`ChunkedImage`]: a read-only image described by a `manifest.json` and stored as chunks named
//!   by their SHA-256, fetched on demand through a [`ChunkSource`], verified, cached in an LRU;
//! - [`CowOverlay`]: a sparse copy-on-write layer over any base, stored in an [`OverlayStore`]
//!   (natively a file), durable at every completed flush; the base is never written.
//!
//! [`pack`] turns a raw image into the chunked layout (`webx86 image pack`).
//!
//! In the browser the same types apply with two host-specific parts supplied from outside: a
//! [`ChunkSource`] whose `request` starts a `fetch()` and whose `poll` hands over the responses
//! that have resolved, and an [`OverlayStore`] over an OPFS file (its synchronous access handle in
//! a Worker has exactly `read`/`write`/`getSize`/`flush`). Nothing here blocks on the network.

use thiserror::Error;

pub mod chunked;
mod content_hash;
mod memory;
pub mod overlay;
pub mod pack;
#[cfg(any(unix, windows))]
mod positioned_io;
#[cfg(any(unix, windows))]
mod raw_file;
#[cfg(test)]
mod test_utils;

pub use chunked::{ChunkSource, ChunkedImage, FetchError, Fetched, Manifest};
pub use content_hash::ContentHash;
pub use memory::MemoryDisk;
pub use overlay::{CowOverlay, OverlayStore};
#[cfg(any(unix, windows))]
pub use raw_file::RawFile;

/// Bytes in a sector, the unit of virtio-blk offsets.
pub const SECTOR_SIZE: u64 = 512;

/// Chosen by the submitter; returned with the completion. Ids of requests in flight at the same
/// time should differ (backends do not rely on it, but the submitter cannot tell them apart).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RequestId(pub u64);

/// What a request asks of the backend.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Request {
    /// Read `len` bytes at byte `offset`.
    Read { offset: u64, len: u32 },
    /// Write `data` at byte `offset`; acknowledged only once it is in the backend's store
    /// (an overlay for images), so an acknowledged write is never lost.
    Write { offset: u64, data: Vec<u8> },
    /// Make every acknowledged write durable (fsync natively).
    Flush,
}

/// A finished request. `Ok` carries the bytes read (empty for writes and flushes).
#[derive(Debug)]
pub struct Completion {
    pub id: RequestId,
    pub result: Result<Vec<u8>, DiskError>,
}

/// Why a request or a backend failed. Messages name the file, chunk or URL at fault.
#[derive(Debug, Error)]
pub enum DiskError {
    #[error("request at byte {offset} of length {len} is outside the {size}-byte disk")]
    OutOfRange { offset: u64, len: u64, size: u64 },
    #[error("the disk is read-only")]
    ReadOnly,
    #[error("I/O error on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{manifest} is not a usable image manifest: {reason}")]
    BadManifest { manifest: String, reason: String },
    #[error("chunk {hash} of {manifest} failed its SHA-256 check")]
    ChunkCorrupt { hash: ContentHash, manifest: String },
    #[error("chunk {hash} of {manifest} has {actual} bytes where the manifest implies {expected}")]
    ChunkSize {
        hash: ContentHash,
        manifest: String,
        expected: u64,
        actual: u64,
    },
    #[error("could not fetch chunk {hash} of {manifest} from {location}: {reason}")]
    ChunkFetch {
        hash: ContentHash,
        manifest: String,
        location: String,
        reason: String,
    },
    #[error("the {what} {hash} of {manifest} failed its SHA-256 check or has the wrong size")]
    BootFileCorrupt {
        what: &'static str,
        hash: ContentHash,
        manifest: String,
    },
    #[error("could not fetch the {what} {hash} of {manifest} from {location}: {reason}")]
    BootFileFetch {
        what: &'static str,
        hash: ContentHash,
        manifest: String,
        location: String,
        reason: String,
    },
    #[error("{path} is not a usable copy-on-write overlay: {reason}")]
    BadOverlay { path: String, reason: String },
    #[error("{path} is an overlay for a {expected_size}-byte disk `{expected_id}`, not for this {found_size}-byte disk `{found_id}`")]
    OverlayBaseMismatch {
        path: String,
        expected_id: String,
        expected_size: u64,
        found_id: String,
        found_size: u64,
    },
}

/// A block device's storage. Requests may complete in any order, and never inside `submit`:
/// a completion is always delivered by a later [`BlockBackend::poll`], so callers have one path.
pub trait BlockBackend {
    /// Size in bytes.
    fn len(&self) -> u64;
    /// Whether the disk has no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Whether writes are refused.
    fn read_only(&self) -> bool {
        false
    }
    /// A stable identifier for virtio-blk's GET_ID (at most 20 bytes).
    fn device_id(&self) -> String;
    /// Starts a request; its completion appears in a later [`BlockBackend::poll`].
    fn submit(&mut self, id: RequestId, request: Request);
    /// Moves finished requests into `out` (appending; `out` is not cleared).
    fn poll(&mut self, out: &mut Vec<Completion>);
}

impl<T: BlockBackend + ?Sized> BlockBackend for Box<T> {
    fn len(&self) -> u64 {
        (**self).len()
    }
    fn read_only(&self) -> bool {
        (**self).read_only()
    }
    fn device_id(&self) -> String {
        (**self).device_id()
    }
    fn submit(&mut self, id: RequestId, request: Request) {
        (**self).submit(id, request)
    }
    fn poll(&mut self, out: &mut Vec<Completion>) {
        (**self).poll(out)
    }
}

/// Checks that `len` bytes at `offset` lie inside a `size`-byte disk (without overflowing).
pub fn check_range(offset: u64, len: u64, size: u64) -> Result<(), DiskError> {
    match offset.checked_add(len) {
        Some(end) if end <= size => Ok(()),
        _ => Err(DiskError::OutOfRange { offset, len, size }),
    }
}

/// Cuts `id` to the 20 bytes virtio-blk's GET_ID returns, at a character boundary.
pub fn truncate_device_id(mut id: String) -> String {
    while id.len() > 20 {
        id.pop();
    }
    id
}
