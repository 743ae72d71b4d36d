//! A chunked image in a local folder (native): `manifest.json` and `sha256/<hex>` objects.

use std::path::{Path, PathBuf};

use super::manifest::MANIFEST_FILE;
use super::{ChunkedImage, DirectorySource, Manifest, ObjectRef};
use crate::DiskError;

/// An opened image folder: its manifest, read and validated, and the folder as a chunk source.
#[derive(Debug)]
pub struct ImageDir {
    pub manifest: Manifest,
    /// The manifest's path, for messages.
    pub manifest_path: String,
    pub dir: PathBuf,
}

impl ImageDir {
    /// Opens `path`: either the image folder or its `manifest.json` (any file name: the objects
    /// are looked for next to it).
    pub fn open(path: &Path) -> Result<ImageDir, DiskError> {
        let (dir, manifest_file) = if path.is_dir() {
            (path.to_path_buf(), path.join(MANIFEST_FILE))
        } else {
            let parent = path.parent().unwrap_or(Path::new("."));
            let parent = if parent.as_os_str().is_empty() {
                Path::new(".")
            } else {
                parent
            };
            (parent.to_path_buf(), path.to_path_buf())
        };
        let manifest_path = manifest_file.display().to_string();
        let text = std::fs::read(&manifest_file).map_err(|source| DiskError::Io {
            path: manifest_path.clone(),
            source,
        })?;
        let manifest = Manifest::from_json(&text, &manifest_path)?;
        Ok(ImageDir {
            manifest,
            manifest_path,
            dir,
        })
    }

    /// The kernel's bytes, verified, if the manifest names one.
    pub fn kernel(&self) -> Result<Option<Vec<u8>>, DiskError> {
        self.boot_file("kernel", self.manifest.kernel.as_ref())
    }

    /// The initrd's bytes, verified, if the manifest names one.
    pub fn initrd(&self) -> Result<Option<Vec<u8>>, DiskError> {
        self.boot_file("initrd", self.manifest.initrd.as_ref())
    }

    fn boot_file(
        &self,
        what: &'static str,
        object: Option<&ObjectRef>,
    ) -> Result<Option<Vec<u8>>, DiskError> {
        let Some(object) = object else {
            return Ok(None);
        };
        let bytes = DirectorySource::new(&self.dir)
            .read_object(&object.sha256)
            .map_err(|e| DiskError::BootFileFetch {
                what,
                hash: object.sha256,
                manifest: self.manifest_path.clone(),
                location: e.location,
                reason: e.reason,
            })?;
        object.verify(what, &bytes, &self.manifest_path)?;
        Ok(Some(bytes))
    }

    /// The disk, reading chunks from this folder, caching at most `cache_bytes` of them.
    pub fn into_disk(self, cache_bytes: usize) -> Result<ChunkedImage<DirectorySource>, DiskError> {
        let source = DirectorySource::new(&self.dir);
        ChunkedImage::new(self.manifest, &self.manifest_path, source, cache_bytes)
    }
}
