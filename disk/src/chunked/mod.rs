//! A read-only disk image in the CDN layout: `manifest.json` plus chunks named by their SHA-256
//! (see [`manifest`] for the format). Chunks are requested from a [`ChunkSource`] when a read
//! first needs them, verified against the manifest when they arrive, and kept in an LRU cache
//! bounded in bytes. A read waits (without blocking anyone) until all its chunks are in.

mod cache;
#[cfg(any(unix, windows))]
mod image_dir;
pub mod manifest;
mod source;

use std::collections::HashMap;

pub use cache::ChunkCache;
#[cfg(any(unix, windows))]
pub use image_dir::ImageDir;
pub use manifest::{Manifest, ObjectRef};
#[cfg(any(unix, windows))]
pub use source::DirectorySource;
pub use source::{ChunkSource, FetchError, Fetched};

use crate::{check_range, BlockBackend, Completion, ContentHash, DiskError, Request, RequestId};

/// A read waiting for chunks.
#[derive(Debug)]
struct PendingRead {
    id: RequestId,
    offset: u64,
    buf: Vec<u8>,
    /// Chunk arrivals still awaited.
    missing: usize,
    /// The first failure; the read completes with it once nothing is awaited any more.
    error: Option<DiskError>,
}

/// One read's interest in one chunk.
#[derive(Clone, Copy, Debug)]
struct Waiter {
    read: u64,
    chunk: u64,
}

/// Counters for a status line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChunkStats {
    /// Chunks that arrived and passed verification.
    pub chunks_fetched: u64,
    /// Their bytes.
    pub bytes_fetched: u64,
    /// Chunk uses served from the cache.
    pub cache_hits: u64,
    /// Bytes the cache holds now.
    pub cache_bytes: u64,
}

/// A read-only chunked image.
#[derive(Debug)]
pub struct ChunkedImage<S> {
    manifest: Manifest,
    /// The manifest's path or URL, for messages.
    name: String,
    source: S,
    cache: ChunkCache,
    /// Chunks requested from the source and not yet answered, with the reads waiting for them
    /// (none for a prefetch). Keyed by hash: identical chunks are fetched once.
    in_flight: HashMap<ContentHash, Vec<Waiter>>,
    reads: HashMap<u64, PendingRead>,
    next_read: u64,
    ready: Vec<Completion>,
    arrivals: Vec<Fetched>,
    stats: ChunkStats,
    device_id: String,
}

impl<S: ChunkSource> ChunkedImage<S> {
    /// An image described by `manifest` (whose path or URL is `name`), with chunks from
    /// `source` and a cache of at most `cache_bytes` (raised to one chunk if smaller).
    pub fn new(
        manifest: Manifest,
        name: &str,
        source: S,
        cache_bytes: usize,
    ) -> Result<ChunkedImage<S>, DiskError> {
        manifest.validate(name)?;
        let limit = cache_bytes.max(manifest.chunk_size as usize);
        let device_id = format!("img-{}", &manifest.digest().to_hex()[..16]);
        Ok(ChunkedImage {
            manifest,
            name: name.to_string(),
            source,
            cache: ChunkCache::new(limit),
            in_flight: HashMap::new(),
            reads: HashMap::new(),
            next_read: 0,
            ready: Vec::new(),
            arrivals: Vec::new(),
            stats: ChunkStats::default(),
            device_id,
        })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The chunk source (a browser front end feeds fetched bytes into its own source).
    pub fn source_mut(&mut self) -> &mut S {
        &mut self.source
    }

    pub fn stats(&self) -> ChunkStats {
        ChunkStats {
            cache_bytes: self.cache.used() as u64,
            ..self.stats
        }
    }

    /// Reads still waiting for chunks.
    pub fn reads_in_flight(&self) -> usize {
        self.reads.len()
    }

    /// Asks for the chunks covering `len` bytes at `offset` ahead of need (e.g. the boot working
    /// set); they land in the cache. Out-of-range parts are ignored.
    pub fn prefetch(&mut self, offset: u64, len: u64) {
        let end = offset.saturating_add(len).min(self.manifest.size);
        if offset >= end {
            return;
        }
        for chunk in offset / self.manifest.chunk_size..=(end - 1) / self.manifest.chunk_size {
            if let Some(hash) = self.manifest.chunks[chunk as usize] {
                if !self.cache.contains(&hash) && !self.in_flight.contains_key(&hash) {
                    self.in_flight.insert(hash, Vec::new());
                    self.source.request(hash);
                }
            }
        }
    }

    fn start_read(&mut self, id: RequestId, offset: u64, len: u32) {
        if let Err(e) = check_range(offset, u64::from(len), self.manifest.size) {
            self.ready.push(Completion { id, result: Err(e) });
            return;
        }
        let mut read = PendingRead {
            id,
            offset,
            buf: vec![0; len as usize],
            missing: 0,
            error: None,
        };
        let key = self.next_read;
        self.next_read += 1;
        if len > 0 {
            let end = offset + u64::from(len);
            let chunk_size = self.manifest.chunk_size;
            for chunk in offset / chunk_size..=(end - 1) / chunk_size {
                let Some(hash) = self.manifest.chunks[chunk as usize] else {
                    continue; // an all-zero chunk: the buffer is zeros already
                };
                if let Some(bytes) = self.cache.get(&hash) {
                    self.stats.cache_hits += 1;
                    let expected = self.manifest.chunk_len(chunk);
                    if bytes.len() as u64 == expected {
                        copy_chunk_part(&mut read, chunk, chunk_size, bytes);
                    } else {
                        read.error.get_or_insert(DiskError::ChunkSize {
                            hash,
                            manifest: self.name.clone(),
                            expected,
                            actual: bytes.len() as u64,
                        });
                    }
                    continue;
                }
                read.missing += 1;
                let waiters = self.in_flight.entry(hash).or_insert_with(|| {
                    self.source.request(hash);
                    Vec::new()
                });
                waiters.push(Waiter { read: key, chunk });
            }
        }
        if read.missing == 0 {
            let result = match read.error {
                Some(e) => Err(e),
                None => Ok(read.buf),
            };
            self.ready.push(Completion { id, result });
        } else {
            self.reads.insert(key, read);
        }
    }

    /// Verifies an arrived object and serves every read waiting for it.
    fn arrive(&mut self, fetched: Fetched) {
        let Some(waiters) = self.in_flight.remove(&fetched.hash) else {
            return; // not asked for (or answered twice): ignore
        };
        let hash = fetched.hash;
        let verified = match fetched.result {
            Ok(bytes) if ContentHash::of(&bytes) == hash => Ok(bytes),
            Ok(_) => Err(None),
            Err(e) => Err(Some(e)),
        };
        if let Ok(bytes) = &verified {
            self.stats.chunks_fetched += 1;
            self.stats.bytes_fetched += bytes.len() as u64;
        }
        for waiter in waiters {
            let Some(read) = self.reads.get_mut(&waiter.read) else {
                continue;
            };
            let expected = self.manifest.chunk_len(waiter.chunk);
            let outcome = match &verified {
                Ok(bytes) if bytes.len() as u64 == expected => Ok(bytes),
                Ok(bytes) => Err(DiskError::ChunkSize {
                    hash,
                    manifest: self.name.clone(),
                    expected,
                    actual: bytes.len() as u64,
                }),
                Err(None) => Err(DiskError::ChunkCorrupt {
                    hash,
                    manifest: self.name.clone(),
                }),
                Err(Some(e)) => Err(DiskError::ChunkFetch {
                    hash,
                    manifest: self.name.clone(),
                    location: e.location.clone(),
                    reason: e.reason.clone(),
                }),
            };
            match outcome {
                Ok(bytes) => copy_chunk_part(read, waiter.chunk, self.manifest.chunk_size, bytes),
                Err(e) => {
                    read.error.get_or_insert(e);
                }
            }
            read.missing -= 1;
            if read.missing == 0 {
                let read = self.reads.remove(&waiter.read).expect("present above");
                let result = match read.error {
                    Some(e) => Err(e),
                    None => Ok(read.buf),
                };
                self.ready.push(Completion {
                    id: read.id,
                    result,
                });
            }
        }
        // Verified bytes are this hash's content wherever it appears (sizes are checked at
        // each use, since only a faulty manifest gives one hash two lengths).
        if let Ok(bytes) = verified {
            self.cache.insert(hash, bytes);
        }
    }
}

/// Copies the part of chunk `chunk` (whose bytes are `bytes`) that `read` covers.
fn copy_chunk_part(read: &mut PendingRead, chunk: u64, chunk_size: u64, bytes: &[u8]) {
    let chunk_start = chunk * chunk_size;
    let read_end = read.offset + read.buf.len() as u64;
    let start = read.offset.max(chunk_start);
    let end = read_end.min(chunk_start + bytes.len() as u64);
    if start >= end {
        return;
    }
    let from = (start - chunk_start) as usize..(end - chunk_start) as usize;
    let to = (start - read.offset) as usize..(end - read.offset) as usize;
    read.buf[to].copy_from_slice(&bytes[from]);
}

impl<S: ChunkSource> BlockBackend for ChunkedImage<S> {
    fn len(&self) -> u64 {
        self.manifest.size
    }

    fn read_only(&self) -> bool {
        true
    }

    /// `img-` and the first 16 hex digits of the manifest's SHA-256.
    fn device_id(&self) -> String {
        self.device_id.clone()
    }

    fn submit(&mut self, id: RequestId, request: Request) {
        match request {
            Request::Read { offset, len } => self.start_read(id, offset, len),
            Request::Write { .. } => self.ready.push(Completion {
                id,
                result: Err(DiskError::ReadOnly),
            }),
            // Nothing is ever written, so everything is as durable as it will be.
            Request::Flush => self.ready.push(Completion {
                id,
                result: Ok(Vec::new()),
            }),
        }
    }

    fn poll(&mut self, out: &mut Vec<Completion>) {
        let mut arrivals = std::mem::take(&mut self.arrivals);
        self.source.poll(&mut arrivals);
        for fetched in arrivals.drain(..) {
            self.arrive(fetched);
        }
        self.arrivals = arrivals;
        out.append(&mut self.ready);
    }
}

#[cfg(test)]
mod tests;
