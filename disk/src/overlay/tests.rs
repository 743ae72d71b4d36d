use std::collections::HashMap;

use super::*;
use crate::test_utils::{check_against_reference, read_all, run, LateDisk, Rng, TempDir};
use crate::MemoryDisk;

fn random_base(rng: &mut Rng, size: usize) -> MemoryDisk {
    MemoryDisk::new(rng.bytes(size))
        .with_read_only(true)
        .with_device_id("test-base")
}

#[test]
fn random_reads_and_writes_over_a_late_base_match_a_reference() {
    for seed in 0..4 {
        let mut rng = Rng::new(100 + seed);
        // Not a multiple of the cluster size: the last cluster is short.
        let base = random_base(&mut rng, 200 * 1024 + 1536);
        let mut reference = base.bytes().to_vec();
        let original = reference.clone();
        let late = LateDisk::new(base, seed);
        let mut overlay = CowOverlay::new(late, MemoryStore::default()).unwrap();
        check_against_reference(&mut overlay, &mut reference, &mut rng, 300);
        let (late, _) = overlay.into_parts();
        assert!(late.inner.bytes() == original, "the base changed");
        assert!(late
            .submitted
            .iter()
            .all(|r| matches!(r, Request::Read { .. })));
    }
}

#[test]
fn whole_sector_writes_never_read_the_base_and_flush_survives_reopening() {
    let mut rng = Rng::new(7);
    let dir = TempDir::new("overlay-reopen");
    let path = dir.path().join("overlay.cow");
    let size = 1 << 20;
    let base_bytes = rng.bytes(size);
    let base = || LateDisk::new(MemoryDisk::new(base_bytes.clone()).with_read_only(true), 1);
    let mut reference = base_bytes.clone();
    let mut overlay = CowOverlay::new(base(), FileStore::open_or_create(&path).unwrap()).unwrap();
    for _ in 0..200 {
        let sectors = 1 + rng.below(24);
        let offset = rng.below(size as u64 / 512 - sectors + 1) * 512;
        let data = rng.bytes((sectors * 512) as usize);
        reference[offset as usize..offset as usize + data.len()].copy_from_slice(&data);
        run(&mut overlay, Request::Write { offset, data }).unwrap();
    }
    assert!(overlay.base().submitted.is_empty());
    run(&mut overlay, Request::Flush).unwrap();
    let allocated = overlay.allocated_clusters();
    drop(overlay);

    let mut overlay = CowOverlay::new(base(), FileStore::open_or_create(&path).unwrap()).unwrap();
    assert_eq!(overlay.allocated_clusters(), allocated);
    assert!(read_all(&mut overlay) == reference);
    // Writes after reopening take fresh slots and persist too.
    let data = rng.bytes(5000);
    reference[12345..17345].copy_from_slice(&data);
    run(
        &mut overlay,
        Request::Write {
            offset: 12345,
            data,
        },
    )
    .unwrap();
    run(&mut overlay, Request::Flush).unwrap();
    drop(overlay);
    let mut overlay = CowOverlay::new(base(), FileStore::open_or_create(&path).unwrap()).unwrap();
    assert!(read_all(&mut overlay) == reference);
}

/// A store that remembers which writes were synced, to simulate a power cut.
#[derive(Default)]
struct CrashStore {
    current: MemoryStore,
    durable: Vec<u8>,
    unsynced: Vec<(u64, Vec<u8>)>,
}

impl CrashStore {
    /// The store as a power cut could leave it: everything synced plus any subset of the later
    /// writes (each whole or not at all, in order).
    fn after_crash(&self, rng: &mut Rng) -> MemoryStore {
        let mut store = MemoryStore {
            bytes: self.durable.clone(),
        };
        for (offset, data) in &self.unsynced {
            if rng.below(2) == 0 {
                store.write_at(*offset, data).unwrap();
            }
        }
        store
    }
}

impl OverlayStore for CrashStore {
    fn name(&self) -> String {
        "crash-store".to_string()
    }
    fn size(&mut self) -> std::io::Result<u64> {
        self.current.size()
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> std::io::Result<()> {
        self.current.read_at(offset, buf)
    }
    fn write_at(&mut self, offset: u64, data: &[u8]) -> std::io::Result<()> {
        self.unsynced.push((offset, data.to_vec()));
        self.current.write_at(offset, data)
    }
    fn sync(&mut self) -> std::io::Result<()> {
        self.durable = self.current.bytes.clone();
        self.unsynced.clear();
        Ok(())
    }
}

#[test]
fn after_a_crash_every_sector_reads_as_flushed_or_as_written_since() {
    for trial in 0..40 {
        let mut rng = Rng::new(500 + trial);
        let size = 64 * 1024;
        let base_bytes = rng.bytes(size);
        let base = || MemoryDisk::new(base_bytes.clone()).with_device_id("b");
        let mut overlay = CowOverlay::new(base(), CrashStore::default()).unwrap();
        let mut current = base_bytes.clone();
        let mut flushed = current.clone();
        // Sector → every content it had since the last flush.
        let mut since: HashMap<usize, Vec<Vec<u8>>> = HashMap::new();
        for _ in 0..rng.below(60) {
            if rng.below(6) == 0 {
                run(&mut overlay, Request::Flush).unwrap();
                flushed = current.clone();
                since.clear();
                continue;
            }
            let len = 1 + rng.below(9000) as usize;
            let mut offset = rng.below((size - len + 1) as u64) as usize;
            if rng.below(3) != 0 {
                offset &= !511;
            }
            let data = rng.bytes(len);
            current[offset..offset + len].copy_from_slice(&data);
            for sector in offset / 512..(offset + len).div_ceil(512) {
                let content = current[sector * 512..sector * 512 + 512].to_vec();
                since.entry(sector).or_default().push(content);
            }
            run(
                &mut overlay,
                Request::Write {
                    offset: offset as u64,
                    data,
                },
            )
            .unwrap();
        }
        let crashed = overlay.store().after_crash(&mut rng);
        let mut reopened = CowOverlay::new(base(), crashed).unwrap();
        let after = read_all(&mut reopened);
        for sector in 0..size / 512 {
            let got = &after[sector * 512..sector * 512 + 512];
            let ok = got == &flushed[sector * 512..sector * 512 + 512]
                || since
                    .get(&sector)
                    .is_some_and(|c| c.iter().any(|c| c == got));
            assert!(
                ok,
                "trial {trial}: sector {sector} holds neither flushed nor later data"
            );
        }
    }
}

#[test]
fn refuses_overlays_of_another_base_and_damaged_files() {
    let mut rng = Rng::new(9);
    let dir = TempDir::new("overlay-mismatch");
    let path = dir.path().join("o.cow");
    let base = random_base(&mut rng, 8192);
    let mut overlay = CowOverlay::new(base, FileStore::open_or_create(&path).unwrap()).unwrap();
    run(
        &mut overlay,
        Request::Write {
            offset: 0,
            data: vec![1; 512],
        },
    )
    .unwrap();
    run(&mut overlay, Request::Flush).unwrap();
    drop(overlay);

    let open = |base: MemoryDisk| CowOverlay::new(base, FileStore::open_or_create(&path).unwrap());
    let err = open(random_base(&mut rng, 4096)).unwrap_err();
    assert!(
        matches!(err, DiskError::OverlayBaseMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("o.cow"), "{err}");
    let other = random_base(&mut rng, 8192).with_device_id("another");
    assert!(matches!(
        open(other),
        Err(DiskError::OverlayBaseMismatch { .. })
    ));
    assert!(open(random_base(&mut rng, 8192)).is_ok());

    let mut bytes = std::fs::read(&path).unwrap();
    bytes[20] ^= 1;
    std::fs::write(&path, &bytes).unwrap();
    let err = open(random_base(&mut rng, 8192)).unwrap_err();
    assert!(matches!(err, DiskError::BadOverlay { .. }), "{err}");
    assert!(err.to_string().contains("o.cow"), "{err}");

    // An index entry naming a slot past the end of the file.
    bytes[20] ^= 1;
    bytes[4096 + 8..4096 + 16].copy_from_slice(&Entry { slot: 9, mask: 1 }.encode().to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let err = open(random_base(&mut rng, 8192)).unwrap_err();
    assert!(err.to_string().contains("cluster 1"), "{err}");

    std::fs::write(&path, b"not an overlay at all").unwrap();
    assert!(matches!(
        open(random_base(&mut rng, 8192)),
        Err(DiskError::BadOverlay { .. })
    ));
}

#[test]
fn out_of_range_requests_and_base_errors_are_reported() {
    let mut rng = Rng::new(10);
    let base = random_base(&mut rng, 4096);
    let mut overlay = CowOverlay::new(base, MemoryStore::default()).unwrap();
    assert!(!overlay.read_only());
    assert_eq!(overlay.device_id(), "test-base");
    for request in [
        Request::Read {
            offset: 4000,
            len: 97,
        },
        Request::Write {
            offset: 4095,
            data: vec![0; 2],
        },
        Request::Write {
            offset: u64::MAX,
            data: vec![0; 2],
        },
    ] {
        assert!(matches!(
            run(&mut overlay, request),
            Err(DiskError::OutOfRange { .. })
        ));
    }
}

#[test]
fn overlay_over_a_chunked_image_reports_a_corrupt_chunk_and_keeps_writes() {
    use crate::chunked::ImageDir;
    use crate::pack::{pack, PackOptions};
    let mut rng = Rng::new(12);
    let dir = TempDir::new("overlay-chunked");
    let image = rng.bytes(64 * 1024);
    std::fs::write(dir.path().join("disk.img"), &image).unwrap();
    let out = dir.path().join("img");
    let options = PackOptions {
        chunk_size: 16 * 1024,
        ..Default::default()
    };
    let summary = pack(&dir.path().join("disk.img"), &out, &options, &mut |_, _| {}).unwrap();
    let overlay_path = dir.path().join("overlay.cow");
    let open = || {
        let base = ImageDir::open(&out).unwrap().into_disk(1 << 20).unwrap();
        CowOverlay::new(base, FileStore::open_or_create(&overlay_path).unwrap()).unwrap()
    };

    let mut reference = image.clone();
    let mut overlay = open();
    check_against_reference(&mut overlay, &mut reference, &mut rng, 100);
    run(&mut overlay, Request::Flush).unwrap();
    drop(overlay);
    let mut overlay = open();
    assert!(read_all(&mut overlay) == reference);
    drop(overlay);
    // The base's chunks are untouched.
    for hash in summary.manifest.chunks.iter().flatten() {
        let bytes = std::fs::read(out.join("sha256").join(hash.to_hex())).unwrap();
        assert_eq!(crate::ContentHash::of(&bytes), *hash);
    }

    // Corrupt chunk 2; bytes the overlay holds still read, bytes needing the chunk fail by name.
    let bad = summary.manifest.chunks[2].unwrap();
    std::fs::write(out.join("sha256").join(bad.to_hex()), b"junk").unwrap();
    std::fs::remove_file(&overlay_path).unwrap();
    let mut overlay = open();
    run(
        &mut overlay,
        Request::Write {
            offset: 32 * 1024,
            data: vec![9; 1024],
        },
    )
    .unwrap();
    assert_eq!(
        run(
            &mut overlay,
            Request::Read {
                offset: 32 * 1024,
                len: 1024
            }
        )
        .unwrap(),
        vec![9; 1024]
    );
    let result = run(
        &mut overlay,
        Request::Read {
            offset: 32 * 1024,
            len: 2048,
        },
    );
    let err = result.expect_err("a read needing the corrupt chunk must fail");
    assert!(err.to_string().contains(&bad.to_hex()), "{err}");
    // A partial-sector write needing the corrupt chunk fails without changing anything.
    let err = run(
        &mut overlay,
        Request::Write {
            offset: 40 * 1024 + 3,
            data: vec![1; 10],
        },
    )
    .unwrap_err();
    assert!(matches!(err, DiskError::ChunkCorrupt { .. }));
    assert_eq!(overlay.allocated_clusters(), 1);
    // Whole sectors write without the base, and read back over the corrupt chunk.
    run(
        &mut overlay,
        Request::Write {
            offset: 40 * 1024,
            data: vec![2; 512],
        },
    )
    .unwrap();
    assert_eq!(
        run(
            &mut overlay,
            Request::Read {
                offset: 40 * 1024,
                len: 512
            }
        )
        .unwrap(),
        vec![2; 512]
    );
}
