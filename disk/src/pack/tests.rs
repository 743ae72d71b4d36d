use super::*;
use crate::test_utils::{Rng, TempDir};

fn tree(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                files.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

#[test]
fn packing_is_reproducible_and_omits_zero_chunks() {
    let mut rng = Rng::new(31);
    let chunk = 4096usize;
    let mut image = rng.bytes(chunk * 6 + 123);
    image[..chunk].fill(0);
    image[3 * chunk..5 * chunk].fill(0);
    let dir = TempDir::new("pack-reproducible");
    let image_path = dir.path().join("disk.img");
    std::fs::write(&image_path, &image).unwrap();
    let kernel = dir.path().join("k");
    std::fs::write(&kernel, b"kernel bytes").unwrap();
    let options = PackOptions {
        chunk_size: chunk as u64,
        kernel: Some(kernel),
        initrd: None,
        cmdline: "quiet".to_string(),
    };
    let mut reports = Vec::new();
    let first = pack(
        &image_path,
        &dir.path().join("a"),
        &options,
        &mut |done, total| reports.push((done, total)),
    )
    .unwrap();
    let second = pack(&image_path, &dir.path().join("b"), &options, &mut |_, _| {}).unwrap();
    assert_eq!(tree(&dir.path().join("a")), tree(&dir.path().join("b")));
    assert_eq!(first.manifest, second.manifest);

    let manifest = &first.manifest;
    assert_eq!(manifest.size, image.len() as u64);
    assert_eq!(manifest.chunks.len(), 7);
    let zeros: Vec<usize> = (0..7).filter(|&i| manifest.chunks[i].is_none()).collect();
    assert_eq!(zeros, [0, 3, 4]);
    assert_eq!(first.zero_chunks, 3);
    assert_eq!(first.distinct_chunks, 4);
    // Four chunks and the kernel, plus the manifest.
    let files = tree(&dir.path().join("a"));
    assert_eq!(files.len(), 6);
    for (name, bytes) in &files {
        if let Some(hex) = name.strip_prefix("sha256/") {
            assert_eq!(ContentHash::of(bytes).to_hex(), hex);
            assert!(bytes.iter().any(|&b| b != 0));
        } else {
            assert_eq!(name, "manifest.json");
        }
    }
    assert_eq!(
        reports.last(),
        Some(&(image.len() as u64, image.len() as u64))
    );
    assert_eq!(reports.len(), 7);

    // Packing again into the same folder rewrites nothing and changes nothing.
    let before = tree(&dir.path().join("a"));
    let again = pack(&image_path, &dir.path().join("a"), &options, &mut |_, _| {}).unwrap();
    assert_eq!(again.objects_written, 0);
    assert_eq!(tree(&dir.path().join("a")), before);
}

#[test]
fn rejects_bad_chunk_sizes_and_missing_inputs() {
    let dir = TempDir::new("pack-errors");
    let image_path = dir.path().join("disk.img");
    std::fs::write(&image_path, [1u8; 1000]).unwrap();
    for size in [0, 100, 3000, 128 << 20] {
        let options = PackOptions {
            chunk_size: size,
            ..Default::default()
        };
        let err = pack(&image_path, dir.path(), &options, &mut |_, _| {}).unwrap_err();
        assert!(matches!(err, PackError::ChunkSize(s) if s == size));
    }
    let err = pack(
        &dir.path().join("absent.img"),
        dir.path(),
        &PackOptions::default(),
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("absent.img"), "{err}");
    let options = PackOptions {
        initrd: Some(dir.path().join("no-initrd")),
        ..Default::default()
    };
    let err = pack(
        &image_path,
        &dir.path().join("out"),
        &options,
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(err.to_string().contains("no-initrd"), "{err}");
}
