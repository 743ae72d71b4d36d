use std::collections::HashMap;

use super::*;
use crate::pack::{pack, PackOptions};
use crate::test_utils::{read_all, run, wait_for, Rng, TempDir};

/// A source answering from memory, a few requests per poll in random order, and counting what
/// was asked.
struct LateSource {
    objects: HashMap<ContentHash, Vec<u8>>,
    pending: Vec<ContentHash>,
    requests: usize,
    rng: Rng,
}

impl LateSource {
    fn new(objects: HashMap<ContentHash, Vec<u8>>, seed: u64) -> LateSource {
        LateSource {
            objects,
            pending: Vec::new(),
            requests: 0,
            rng: Rng::new(seed),
        }
    }
}

impl ChunkSource for LateSource {
    fn request(&mut self, hash: ContentHash) {
        self.requests += 1;
        self.pending.push(hash);
    }

    fn poll(&mut self, out: &mut Vec<Fetched>) {
        let release = self.rng.below(self.pending.len() as u64 + 1);
        for _ in 0..release {
            let pick = self.rng.below(self.pending.len() as u64) as usize;
            let hash = self.pending.swap_remove(pick);
            let result = self.objects.get(&hash).cloned().ok_or(FetchError {
                location: format!("mem:{hash}"),
                reason: "absent".to_string(),
            });
            out.push(Fetched { hash, result });
        }
    }
}

/// A disk image with random chunks, zero chunks, a repeated chunk and a short tail.
fn sample_image(chunk: usize, rng: &mut Rng) -> Vec<u8> {
    let mut image = rng.bytes(chunk * 9 + 1000);
    image[chunk..3 * chunk].fill(0); // two zero chunks
    let repeated = image[4 * chunk..5 * chunk].to_vec();
    image[6 * chunk..7 * chunk].copy_from_slice(&repeated);
    image[8 * chunk + 10..8 * chunk + 20].fill(0); // zeros inside a non-zero chunk
    image
}

/// Splits `image` the way the packer does, into a manifest and objects in memory.
fn in_memory(image: &[u8], chunk: usize) -> (Manifest, HashMap<ContentHash, Vec<u8>>) {
    let mut objects = HashMap::new();
    let chunks = image
        .chunks(chunk)
        .map(|bytes| {
            if bytes.iter().all(|&b| b == 0) {
                return None;
            }
            let hash = ContentHash::of(bytes);
            objects.insert(hash, bytes.to_vec());
            Some(hash)
        })
        .collect();
    let manifest = Manifest {
        format: manifest::MANIFEST_FORMAT.to_string(),
        version: 1,
        size: image.len() as u64,
        chunk_size: chunk as u64,
        kernel: None,
        initrd: None,
        cmdline: String::new(),
        chunks,
    };
    (manifest, objects)
}

/// Random concurrent reads of `disk` checked against `image`.
fn check_random_reads(disk: &mut dyn BlockBackend, image: &[u8], rng: &mut Rng, rounds: usize) {
    let mut next = 0;
    for _ in 0..rounds {
        let mut expected = Vec::new();
        for _ in 0..1 + rng.below(6) {
            let len = 1 + rng.below(3 * 4096).min(image.len() as u64 - 1);
            let offset = rng.below(image.len() as u64 - len + 1);
            let id = RequestId(next);
            next += 1;
            disk.submit(
                id,
                Request::Read {
                    offset,
                    len: len as u32,
                },
            );
            expected.push((id, &image[offset as usize..(offset + len) as usize]));
        }
        let ids: Vec<RequestId> = expected.iter().map(|e| e.0).collect();
        let mut done = wait_for(disk, &ids);
        for (id, want) in expected {
            let got = done.remove(&id.0).unwrap().result.unwrap();
            assert!(got == want, "read {id:?} returned other bytes");
        }
    }
}

#[test]
fn late_out_of_order_chunks_serve_concurrent_reads() {
    let mut rng = Rng::new(11);
    let image = sample_image(4096, &mut rng);
    let (manifest, objects) = in_memory(&image, 4096);
    let source = LateSource::new(objects, 12);
    let mut disk = ChunkedImage::new(manifest, "mem/manifest.json", source, 3 * 4096).unwrap();
    check_random_reads(&mut disk, &image, &mut rng, 300);
    assert!(read_all(&mut disk) == image);
    assert_eq!(disk.reads_in_flight(), 0);
    assert!(disk.in_flight.is_empty());
}

#[test]
fn identical_chunks_in_flight_are_fetched_once() {
    let mut rng = Rng::new(13);
    let image = sample_image(4096, &mut rng);
    let (manifest, objects) = in_memory(&image, 4096);
    let mut disk = ChunkedImage::new(manifest, "m", LateSource::new(objects, 14), 0).unwrap();
    // Chunks 4 and 6 are identical; two reads of chunk 4 and one of chunk 6 at once.
    disk.submit(
        RequestId(1),
        Request::Read {
            offset: 4 * 4096,
            len: 100,
        },
    );
    disk.submit(
        RequestId(2),
        Request::Read {
            offset: 4 * 4096 + 50,
            len: 100,
        },
    );
    disk.submit(
        RequestId(3),
        Request::Read {
            offset: 6 * 4096,
            len: 4096,
        },
    );
    assert_eq!(disk.source_mut().requests, 1);
    let done = wait_for(&mut disk, &[RequestId(1), RequestId(2), RequestId(3)]);
    let got = done[&3].result.as_ref().unwrap();
    assert!(got[..] == image[6 * 4096..7 * 4096]);
    // Zero chunks need no fetch at all.
    let before = disk.source_mut().requests;
    assert_eq!(
        run(
            &mut disk,
            Request::Read {
                offset: 4096,
                len: 8192
            }
        )
        .unwrap(),
        vec![0; 8192]
    );
    assert_eq!(disk.source_mut().requests, before);
}

#[test]
fn cache_stays_within_its_bound_and_refetches_evicted_chunks() {
    let mut rng = Rng::new(15);
    let image = sample_image(4096, &mut rng);
    let (manifest, objects) = in_memory(&image, 4096);
    let mut disk =
        ChunkedImage::new(manifest, "m", LateSource::new(objects, 16), 2 * 4096).unwrap();
    for chunk in 0..10u64 {
        let offset = chunk * 4096;
        let len = (image.len() as u64 - offset).min(4096) as u32;
        run(&mut disk, Request::Read { offset, len }).unwrap();
        assert!(disk.stats().cache_bytes <= 2 * 4096);
    }
    let fetched = disk.stats().chunks_fetched;
    let hits = disk.stats().cache_hits; // chunk 6 repeats chunk 4, still cached then
                                        // Chunk 8 (the newest but one) is cached; chunk 0 was evicted long ago.
    run(
        &mut disk,
        Request::Read {
            offset: 8 * 4096,
            len: 10,
        },
    )
    .unwrap();
    assert_eq!(disk.stats().chunks_fetched, fetched);
    assert_eq!(disk.stats().cache_hits, hits + 1);
    let got = run(&mut disk, Request::Read { offset: 0, len: 10 }).unwrap();
    assert_eq!(got, image[..10]);
    assert_eq!(disk.stats().chunks_fetched, fetched + 1);
}

#[test]
fn corrupt_and_missing_chunks_are_errors_naming_them_never_data() {
    let mut rng = Rng::new(17);
    let image = sample_image(4096, &mut rng);
    let dir = TempDir::new("chunked-corrupt");
    let image_path = dir.path().join("disk.img");
    std::fs::write(&image_path, &image).unwrap();
    let out = dir.path().join("out");
    let summary = pack(
        &image_path,
        &out,
        &PackOptions {
            chunk_size: 4096,
            ..Default::default()
        },
        &mut |_, _| {},
    )
    .unwrap();

    let bad = summary.manifest.chunks[3].unwrap();
    let bad_file = out.join("sha256").join(bad.to_hex());
    let mut bytes = std::fs::read(&bad_file).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&bad_file, &bytes).unwrap();
    let missing = summary.manifest.chunks[5].unwrap();
    std::fs::remove_file(out.join("sha256").join(missing.to_hex())).unwrap();

    let mut disk = ImageDir::open(&out).unwrap().into_disk(1 << 20).unwrap();
    let manifest_name = out.join("manifest.json").display().to_string();
    let err = run(
        &mut disk,
        Request::Read {
            offset: 3 * 4096 + 5,
            len: 10,
        },
    )
    .unwrap_err();
    assert!(matches!(err, DiskError::ChunkCorrupt { hash, .. } if hash == bad));
    let text = err.to_string();
    assert!(
        text.contains(&bad.to_hex()) && text.contains(&manifest_name),
        "{text}"
    );
    assert!(text.contains("SHA-256"), "{text}");
    // A read spanning a good and the corrupt chunk fails as a whole.
    assert!(run(
        &mut disk,
        Request::Read {
            offset: 3 * 4096 - 10,
            len: 20
        }
    )
    .is_err());
    // It stays an error (nothing bad was cached), and good chunks still read.
    assert!(run(
        &mut disk,
        Request::Read {
            offset: 3 * 4096,
            len: 1
        }
    )
    .is_err());
    assert_eq!(
        run(
            &mut disk,
            Request::Read {
                offset: 4 * 4096,
                len: 4
            }
        )
        .unwrap(),
        image[4 * 4096..4 * 4096 + 4]
    );

    let err = run(
        &mut disk,
        Request::Read {
            offset: 5 * 4096,
            len: 1,
        },
    )
    .unwrap_err();
    assert!(matches!(err, DiskError::ChunkFetch { .. }));
    let text = err.to_string();
    assert!(
        text.contains(&missing.to_hex()) && text.contains(&manifest_name),
        "{text}"
    );

    // A truncated chunk fails the same check.
    let mut bytes = std::fs::read(&bad_file).unwrap();
    bytes[100] ^= 1;
    bytes.truncate(4000);
    std::fs::write(&bad_file, &bytes).unwrap();
    assert!(matches!(
        run(
            &mut disk,
            Request::Read {
                offset: 3 * 4096,
                len: 1
            }
        ),
        Err(DiskError::ChunkCorrupt { .. })
    ));
}

#[test]
fn a_manifest_whose_sizes_disagree_with_its_chunks_is_an_error() {
    // The last chunk's hash is that of a full 4 KiB chunk, but the disk ends 1000 bytes in.
    let mut rng = Rng::new(19);
    let image = rng.bytes(8192);
    let (mut manifest, objects) = in_memory(&image, 4096);
    manifest.size = 4096 + 1000;
    let mut disk = ChunkedImage::new(manifest, "m", LateSource::new(objects, 20), 1 << 20).unwrap();
    let err = run(
        &mut disk,
        Request::Read {
            offset: 4096,
            len: 10,
        },
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            DiskError::ChunkSize {
                expected: 1000,
                actual: 4096,
                ..
            }
        ),
        "{err}"
    );
    // Now cached: the check holds on the cache path too.
    assert!(run(
        &mut disk,
        Request::Read {
            offset: 4096,
            len: 10
        }
    )
    .is_err());
}

#[test]
fn read_only_out_of_range_and_flush() {
    let mut rng = Rng::new(21);
    let image = sample_image(4096, &mut rng);
    let (manifest, objects) = in_memory(&image, 4096);
    let mut disk = ChunkedImage::new(manifest, "m", LateSource::new(objects, 22), 0).unwrap();
    assert!(disk.read_only());
    assert_eq!(disk.len(), image.len() as u64);
    assert_eq!(disk.device_id().len(), 20);
    assert!(matches!(
        run(
            &mut disk,
            Request::Write {
                offset: 0,
                data: vec![1]
            }
        ),
        Err(DiskError::ReadOnly)
    ));
    assert!(matches!(
        run(
            &mut disk,
            Request::Read {
                offset: image.len() as u64 - 1,
                len: 2
            }
        ),
        Err(DiskError::OutOfRange { .. })
    ));
    assert!(run(&mut disk, Request::Flush).unwrap().is_empty());
}

#[test]
fn prefetched_chunks_serve_later_reads_from_the_cache() {
    let mut rng = Rng::new(23);
    let image = sample_image(4096, &mut rng);
    let (manifest, objects) = in_memory(&image, 4096);
    let mut disk = ChunkedImage::new(manifest, "m", LateSource::new(objects, 24), 1 << 20).unwrap();
    disk.prefetch(0, u64::MAX);
    let mut out = Vec::new();
    while !disk.in_flight.is_empty() {
        disk.poll(&mut out);
    }
    assert!(out.is_empty());
    let fetched = disk.stats().chunks_fetched;
    assert_eq!(fetched, 7); // chunks 0, 3, 4 (= 6), 5, 7, 8, 9
    assert!(read_all(&mut disk) == image);
    assert_eq!(disk.stats().chunks_fetched, fetched);
}

#[test]
fn packed_directory_round_trips_with_boot_files() {
    let mut rng = Rng::new(25);
    let image = sample_image(8192, &mut rng);
    let dir = TempDir::new("chunked-round-trip");
    let image_path = dir.path().join("disk.img");
    std::fs::write(&image_path, &image).unwrap();
    let kernel = dir.path().join("vmlinuz");
    std::fs::write(&kernel, b"a kernel").unwrap();
    let initrd = dir.path().join("initrd.img");
    std::fs::write(&initrd, b"an initrd").unwrap();
    let out = dir.path().join("out");
    let options = PackOptions {
        chunk_size: 8192,
        kernel: Some(kernel),
        initrd: Some(initrd),
        cmdline: "console=hvc0 root=/dev/vda".to_string(),
    };
    pack(&image_path, &out, &options, &mut |_, _| {}).unwrap();

    // Open through the manifest's path this time.
    let opened = ImageDir::open(&out.join("manifest.json")).unwrap();
    assert_eq!(opened.kernel().unwrap().unwrap(), b"a kernel");
    assert_eq!(opened.initrd().unwrap().unwrap(), b"an initrd");
    assert_eq!(opened.manifest.cmdline, "console=hvc0 root=/dev/vda");
    let mut disk = opened.into_disk(4 * 8192).unwrap();
    assert!(read_all(&mut disk) == image);
    check_random_reads(&mut disk, &image, &mut rng, 100);

    // A corrupt kernel is refused by name.
    let opened = ImageDir::open(&out).unwrap();
    let kernel_hash = opened.manifest.kernel.as_ref().unwrap().sha256;
    std::fs::write(out.join("sha256").join(kernel_hash.to_hex()), b"a kernal").unwrap();
    let err = opened.kernel().unwrap_err();
    assert!(matches!(
        err,
        DiskError::BootFileCorrupt { what: "kernel", .. }
    ));
    assert!(err.to_string().contains(&kernel_hash.to_hex()), "{err}");

    let err = ImageDir::open(&dir.path().join("nowhere")).unwrap_err();
    assert!(err.to_string().contains("nowhere"), "{err}");
}
