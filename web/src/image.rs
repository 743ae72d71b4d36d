//! The streamed disk: a [`ChunkedImage`] whose chunks the JavaScript side fetches (through a
//! [`ChunkQueue`]), under a [`CowOverlay`] that keeps the guest's writes in a [`WebStore`], with
//! errors recorded for the page ([`ReportingDisk`]).

use webx86_disk::chunked::ObjectRef;
use webx86_disk::{ChunkedImage, CowOverlay, DiskError, Manifest};

use crate::chunk_queue::ChunkQueue;
use crate::disk_report::{DiskErrors, ReportingDisk};
use crate::overlay_file::WebStore;

/// Chunks kept in memory after verification (the JS side also keeps every chunk in its
/// persistent cache, so this only saves the round trip to it for re-read chunks).
pub const MEMORY_CACHE_BYTES: usize = 32 << 20;

/// The disk the machine gets.
pub type ImageDisk = ReportingDisk<CowOverlay<ChunkedImage<ChunkQueue>, WebStore>>;

/// The front end's handles on a streamed image after its disk went to the machine.
pub struct StreamedImage {
    pub manifest: Manifest,
    /// The manifest's URL or path, for messages.
    pub name: String,
    pub queue: ChunkQueue,
    pub errors: DiskErrors,
}

impl StreamedImage {
    /// Parses `manifest_json` (from `name`) and builds the disk over `store`, which must be
    /// empty or hold an overlay made for this image.
    pub fn open(
        manifest_json: &[u8],
        name: &str,
        store: WebStore,
    ) -> Result<(StreamedImage, ImageDisk), DiskError> {
        let manifest = Manifest::from_json(manifest_json, name)?;
        let queue = ChunkQueue::default();
        let base = ChunkedImage::new(manifest.clone(), name, queue.clone(), MEMORY_CACHE_BYTES)?;
        let overlay = CowOverlay::new(base, store)?;
        let errors = DiskErrors::default();
        let disk = ReportingDisk::new(overlay, errors.clone());
        let image = StreamedImage {
            manifest,
            name: name.to_string(),
            queue,
            errors,
        };
        Ok((image, disk))
    }

    /// Checks fetched boot files against the manifest: an image without a kernel cannot boot,
    /// and a corrupt kernel or initrd is an error naming it.
    pub fn verify_boot_files(&self, kernel: &[u8], initrd: Option<&[u8]>) -> Result<(), DiskError> {
        let kernel_ref = self.boot_file("kernel", self.manifest.kernel.as_ref())?;
        kernel_ref.verify("kernel", kernel, &self.name)?;
        match (&self.manifest.initrd, initrd) {
            (Some(r), Some(bytes)) => r.verify("initrd", bytes, &self.name),
            (None, None) => Ok(()),
            (Some(_), None) => Err(self.bad("it names an initrd that was not supplied")),
            (None, Some(_)) => Err(self.bad("it names no initrd, but one was supplied")),
        }
    }

    fn boot_file<'a>(
        &self,
        what: &str,
        object: Option<&'a ObjectRef>,
    ) -> Result<&'a ObjectRef, DiskError> {
        object.ok_or_else(|| self.bad(&format!("it names no {what} to boot")))
    }

    fn bad(&self, reason: &str) -> DiskError {
        DiskError::BadManifest {
            manifest: self.name.clone(),
            reason: reason.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use webx86_disk::overlay::MemoryStore;
    use webx86_disk::{BlockBackend, Completion, ContentHash, Request, RequestId};

    use super::*;

    const CHUNK: usize = 4096;

    /// A test image: its manifest's text, the disk bytes, the objects by hash, the kernel.
    struct Sample {
        json: Vec<u8>,
        disk: Vec<u8>,
        objects: HashMap<ContentHash, Vec<u8>>,
        kernel: Vec<u8>,
    }

    /// A 3-chunk image (the middle chunk all zeros) with a kernel and no initrd.
    fn sample() -> Sample {
        let mut disk = vec![0u8; 3 * CHUNK];
        for (i, b) in disk.iter_mut().enumerate() {
            if i / CHUNK != 1 {
                *b = (i * 7 + i / 251) as u8;
            }
        }
        let kernel = b"a kernel".to_vec();
        let mut objects = HashMap::new();
        let chunks: Vec<Option<ContentHash>> = disk
            .chunks(CHUNK)
            .map(|c| {
                (!c.iter().all(|&b| b == 0)).then(|| {
                    let h = ContentHash::of(c);
                    objects.insert(h, c.to_vec());
                    h
                })
            })
            .collect();
        let manifest = Manifest {
            format: "webx86-disk-image".into(),
            version: 1,
            size: disk.len() as u64,
            chunk_size: CHUNK as u64,
            kernel: Some(ObjectRef {
                sha256: ContentHash::of(&kernel),
                size: kernel.len() as u64,
            }),
            initrd: None,
            cmdline: "console=hvc0".into(),
            chunks,
        };
        Sample {
            json: manifest.to_json(),
            disk,
            objects,
            kernel,
        }
    }

    /// Submits `request`, serving chunk requests from `objects` (or failing them, or
    /// corrupting them) until it completes.
    fn complete(
        disk: &mut ImageDisk,
        image: &StreamedImage,
        request: Request,
        serve: &dyn Fn(ContentHash) -> Result<Vec<u8>, String>,
    ) -> Completion {
        disk.submit(RequestId(1), request);
        for _ in 0..10 {
            let mut out = Vec::new();
            disk.poll(&mut out);
            if let Some(done) = out.pop() {
                return done;
            }
            for hash in image.queue.take_wanted() {
                match serve(hash) {
                    Ok(bytes) => image.queue.deliver(hash, bytes),
                    Err(reason) => image.queue.fail(hash, format!("x/{hash}"), reason),
                }
            }
        }
        panic!("the request never completed");
    }

    #[test]
    fn reads_stream_in_and_writes_stay_in_the_overlay() {
        let Sample {
            json,
            disk: bytes,
            objects,
            ..
        } = sample();
        let (image, mut disk) = StreamedImage::open(
            &json,
            "img/manifest.json",
            WebStore::Memory(MemoryStore::default()),
        )
        .unwrap();
        let serve = |h: ContentHash| Ok(objects[&h].clone());
        let read = Request::Read {
            offset: 1000,
            len: 3 * CHUNK as u32 - 2000,
        };
        let got = complete(&mut disk, &image, read.clone(), &serve)
            .result
            .unwrap();
        assert_eq!(got, bytes[1000..3 * CHUNK - 1000]);

        let write = Request::Write {
            offset: CHUNK as u64,
            data: vec![0xAB; 512],
        };
        complete(&mut disk, &image, write, &serve).result.unwrap();
        let got = complete(&mut disk, &image, read, &serve).result.unwrap();
        assert_eq!(got[CHUNK - 1000..CHUNK - 488], [0xAB; 512]);
        assert_eq!(got[..CHUNK - 1000], bytes[1000..CHUNK]);
        assert!(image.errors.take_new().is_empty());
    }

    #[test]
    fn corrupt_and_missing_chunks_are_reported_once() {
        let Sample { json, objects, .. } = sample();
        let (image, mut disk) = StreamedImage::open(
            &json,
            "img/manifest.json",
            WebStore::Memory(MemoryStore::default()),
        )
        .unwrap();
        let corrupt = |h: ContentHash| {
            let mut bytes = objects[&h].clone();
            bytes[5] ^= 1;
            Ok(bytes)
        };
        let read = Request::Read {
            offset: 0,
            len: 512,
        };
        for _ in 0..2 {
            let done = complete(&mut disk, &image, read.clone(), &corrupt);
            assert!(matches!(done.result, Err(DiskError::ChunkCorrupt { .. })));
        }
        let errors = image.errors.take_new();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("img/manifest.json") && errors[0].contains("SHA-256"));

        let missing = |_| Err("HTTP 404 Not Found".to_string());
        let done = complete(&mut disk, &image, read, &missing);
        assert!(matches!(done.result, Err(DiskError::ChunkFetch { .. })));
        let errors = image.errors.take_new();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].contains("HTTP 404 Not Found"), "{errors:?}");
    }

    #[test]
    fn boot_files_are_checked_against_the_manifest() {
        let Sample { json, kernel, .. } = sample();
        let (image, _) =
            StreamedImage::open(&json, "m.json", WebStore::Memory(MemoryStore::default())).unwrap();
        image.verify_boot_files(&kernel, None).unwrap();
        let err = image.verify_boot_files(b"a kernal", None).unwrap_err();
        assert!(matches!(
            err,
            DiskError::BootFileCorrupt { what: "kernel", .. }
        ));
        let err = image.verify_boot_files(&kernel, Some(b"x")).unwrap_err();
        assert!(err.to_string().contains("names no initrd"), "{err}");
    }

    #[test]
    fn a_bad_manifest_is_one_sentence_naming_it() {
        let err = StreamedImage::open(
            b"<html>",
            "http://h/i/manifest.json",
            WebStore::Memory(MemoryStore::default()),
        )
        .err()
        .unwrap();
        assert!(err
            .to_string()
            .starts_with("http://h/i/manifest.json is not a usable image manifest"));
    }
}
