//! Test support: a seeded random source, a driver that runs requests to completion, a checker
//! that drives a backend with random request batches against a reference `Vec<u8>`, a base that
//! completes out of order, and scratch directories.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::{BlockBackend, Completion, DiskError, Request, RequestId};

/// xorshift64*: deterministic and good enough to pick offsets.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

/// Polls `disk` until the completions for all of `ids` arrived; panics if that takes forever.
pub fn wait_for(disk: &mut dyn BlockBackend, ids: &[RequestId]) -> HashMap<u64, Completion> {
    let mut done = HashMap::new();
    let mut out = Vec::new();
    for _ in 0..10_000 {
        disk.poll(&mut out);
        for completion in out.drain(..) {
            assert!(
                done.insert(completion.id.0, completion).is_none(),
                "a request completed twice"
            );
        }
        if ids.iter().all(|id| done.contains_key(&id.0)) {
            return done;
        }
    }
    panic!("requests never completed");
}

/// Submits one request and waits for its result.
pub fn run(disk: &mut dyn BlockBackend, request: Request) -> Result<Vec<u8>, DiskError> {
    disk.submit(RequestId(u64::MAX), request);
    let mut done = wait_for(disk, &[RequestId(u64::MAX)]);
    done.remove(&u64::MAX).unwrap().result
}

/// Reads the whole disk.
pub fn read_all(disk: &mut dyn BlockBackend) -> Vec<u8> {
    let len = disk.len();
    run(
        disk,
        Request::Read {
            offset: 0,
            len: len as u32,
        },
    )
    .unwrap()
}

/// A random range inside a disk of `size` bytes: often sector-aligned, sometimes not, sometimes
/// crossing 4 KiB and larger boundaries.
fn random_range(rng: &mut Rng, size: u64) -> (u64, u64) {
    let len = match rng.below(4) {
        0 => 1 + rng.below(600),
        1 => 512 * (1 + rng.below(16)),
        _ => 1 + rng.below(20_000),
    }
    .min(size);
    let mut offset = rng.below(size - len + 1);
    if rng.below(2) == 0 {
        offset &= !511;
    }
    (offset, len)
}

/// Drives `disk` with `batches` batches of up to eight concurrent, mutually non-overlapping
/// reads, writes and flushes, checks every read against `reference` (updated by the writes),
/// and finally compares the whole disk.
pub fn check_against_reference(
    disk: &mut dyn BlockBackend,
    reference: &mut [u8],
    rng: &mut Rng,
    batches: usize,
) {
    let size = reference.len() as u64;
    assert_eq!(disk.len(), size);
    let mut next_id = 0u64;
    for _ in 0..batches {
        let mut taken: Vec<(u64, u64)> = Vec::new();
        let mut expected: Vec<(RequestId, Option<Vec<u8>>)> = Vec::new();
        for _ in 0..1 + rng.below(8) {
            let id = RequestId(next_id);
            next_id += 1;
            if rng.below(10) == 0 {
                disk.submit(id, Request::Flush);
                expected.push((id, None));
                continue;
            }
            let (offset, len) = random_range(rng, size);
            if taken
                .iter()
                .any(|&(o, l)| offset < o + l && o < offset + len)
            {
                continue;
            }
            taken.push((offset, len));
            let range = offset as usize..(offset + len) as usize;
            if rng.below(2) == 0 {
                let data = rng.bytes(len as usize);
                reference[range].copy_from_slice(&data);
                disk.submit(id, Request::Write { offset, data });
                expected.push((id, None));
            } else {
                disk.submit(
                    id,
                    Request::Read {
                        offset,
                        len: len as u32,
                    },
                );
                expected.push((id, Some(reference[range].to_vec())));
            }
        }
        let ids: Vec<RequestId> = expected.iter().map(|e| e.0).collect();
        let mut done = wait_for(disk, &ids);
        for (id, want) in expected {
            let got = done.remove(&id.0).unwrap().result.expect("request failed");
            match want {
                Some(bytes) => assert!(got == bytes, "read {id:?} returned other bytes"),
                None => assert!(got.is_empty()),
            }
        }
    }
    assert!(
        read_all(disk) == reference,
        "the disk differs from the reference"
    );
}

/// A base that holds its inner backend's completions and releases them a few at a time in a
/// shuffled order, so that callers see genuinely late and reordered completions.
pub struct LateDisk<B> {
    pub inner: B,
    held: Vec<Completion>,
    rng: Rng,
    pub submitted: Vec<Request>,
}

impl<B: BlockBackend> LateDisk<B> {
    pub fn new(inner: B, seed: u64) -> LateDisk<B> {
        LateDisk {
            inner,
            held: Vec::new(),
            rng: Rng::new(seed),
            submitted: Vec::new(),
        }
    }
}

impl<B: BlockBackend> BlockBackend for LateDisk<B> {
    fn len(&self) -> u64 {
        self.inner.len()
    }
    fn read_only(&self) -> bool {
        self.inner.read_only()
    }
    fn device_id(&self) -> String {
        self.inner.device_id()
    }
    fn submit(&mut self, id: RequestId, request: Request) {
        self.submitted.push(request.clone());
        self.inner.submit(id, request);
    }
    fn poll(&mut self, out: &mut Vec<Completion>) {
        self.inner.poll(&mut self.held);
        let release = self.rng.below(self.held.len() as u64 + 1) as usize;
        for _ in 0..release {
            let pick = self.rng.below(self.held.len() as u64) as usize;
            out.push(self.held.swap_remove(pick));
        }
    }
}

/// A directory under the system's temporary directory, removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("webx86-disk-test-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
