//! `manifest.json`: what a chunked image is made of and how to boot it.
//!
//! Format version 1 (all sizes in bytes):
//!
//! ```json
//! {
//!   "format": "webx86-disk-image",
//!   "version": 1,
//!   "size": 2147483648,
//!   "chunk_size": 262144,
//!   "kernel": { "sha256": "<64 hex digits>", "size": 7654321 },
//!   "initrd": { "sha256": "<64 hex digits>", "size": 6543210 },
//!   "cmdline": "root=/dev/vda rw console=hvc0",
//!   "chunks": [ "<64 hex digits>", null, "<64 hex digits>", ... ]
//! }
//! ```
//!
//! `chunks[i]` is the SHA-256 of disk bytes `i * chunk_size ..` (the last chunk is shorter when
//! `size` is not a multiple of `chunk_size`), or `null` for a chunk of zeros, which has no file.
//! Every object — chunk, kernel, initrd — is stored at `sha256/<its hex digest>` relative to the
//! manifest, so a static host can serve the layout and cache each object forever. `kernel` and
//! `initrd` may be `null` for a data disk. Unknown fields are ignored (additions within version
//! 1 stay readable); a reader refuses any other `format` or `version`.

use serde::{Deserialize, Serialize};

use crate::{ContentHash, DiskError, SECTOR_SIZE};

/// The `format` value of every manifest.
pub const MANIFEST_FORMAT: &str = "webx86-disk-image";
/// The manifest version this crate reads and writes.
pub const MANIFEST_VERSION: u32 = 1;
/// The manifest's file name inside an image directory.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The folder, next to the manifest, holding the objects named by their SHA-256.
pub const OBJECT_DIR: &str = "sha256";
/// Largest chunk size a manifest may declare (each chunk is held whole in memory).
pub const MAX_CHUNK_SIZE: u64 = 64 << 20;

/// A file stored by content (kernel or initrd).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    pub sha256: ContentHash,
    pub size: u64,
}

impl ObjectRef {
    /// Checks fetched bytes of this object (the `what`: "kernel" or "initrd") against its size
    /// and digest, so a corrupt boot file is an error naming it, never a strange boot.
    pub fn verify(
        &self,
        what: &'static str,
        bytes: &[u8],
        manifest: &str,
    ) -> Result<(), DiskError> {
        if bytes.len() as u64 != self.size || ContentHash::of(bytes) != self.sha256 {
            return Err(DiskError::BootFileCorrupt {
                what,
                hash: self.sha256,
                manifest: manifest.to_string(),
            });
        }
        Ok(())
    }
}

/// A parsed, validated `manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub version: u32,
    /// Disk size in bytes.
    pub size: u64,
    /// Bytes per chunk: a power of two from 512 to [`MAX_CHUNK_SIZE`].
    pub chunk_size: u64,
    pub kernel: Option<ObjectRef>,
    pub initrd: Option<ObjectRef>,
    /// The kernel command line to boot with.
    #[serde(default)]
    pub cmdline: String,
    /// One entry per chunk; `None` for all-zero chunks.
    pub chunks: Vec<Option<ContentHash>>,
}

impl Manifest {
    /// Parses and validates manifest text; `name` (its path or URL) appears in errors.
    pub fn from_json(text: &[u8], name: &str) -> Result<Manifest, DiskError> {
        let manifest: Manifest =
            serde_json::from_slice(text).map_err(|e| DiskError::BadManifest {
                manifest: name.to_string(),
                reason: e.to_string(),
            })?;
        manifest.validate(name)?;
        Ok(manifest)
    }

    /// The canonical text: pretty-printed JSON with a final newline. Deterministic, so packing
    /// the same image twice gives the same bytes.
    pub fn to_json(&self) -> Vec<u8> {
        let mut text = serde_json::to_vec_pretty(self).expect("a manifest always serialises");
        text.push(b'\n');
        text
    }

    /// The SHA-256 of the canonical text: identifies the image (e.g. its GET_ID, an overlay's
    /// base).
    pub fn digest(&self) -> ContentHash {
        ContentHash::of(&self.to_json())
    }

    /// Checks the invariants every reader relies on.
    pub fn validate(&self, name: &str) -> Result<(), DiskError> {
        let bad = |reason: String| {
            Err(DiskError::BadManifest {
                manifest: name.to_string(),
                reason,
            })
        };
        if self.format != MANIFEST_FORMAT {
            return bad(format!(
                "its format is `{}`, not `{MANIFEST_FORMAT}`",
                self.format
            ));
        }
        if self.version != MANIFEST_VERSION {
            return bad(format!(
                "it has format version {}; this build reads version {MANIFEST_VERSION}",
                self.version
            ));
        }
        if !self.chunk_size.is_power_of_two()
            || !(SECTOR_SIZE..=MAX_CHUNK_SIZE).contains(&self.chunk_size)
        {
            return bad(format!(
                "its chunk size {} is not a power of two from {SECTOR_SIZE} to {MAX_CHUNK_SIZE}",
                self.chunk_size
            ));
        }
        let expected = self.size.div_ceil(self.chunk_size);
        if self.chunks.len() as u64 != expected {
            return bad(format!(
                "it lists {} chunks where a {}-byte disk in {}-byte chunks has {expected}",
                self.chunks.len(),
                self.size,
                self.chunk_size
            ));
        }
        Ok(())
    }

    /// How many bytes chunk `index` holds (the last one may be short).
    pub fn chunk_len(&self, index: u64) -> u64 {
        let start = index.saturating_mul(self.chunk_size);
        self.size.saturating_sub(start).min(self.chunk_size)
    }

    /// Where the object named `hash` is stored, relative to the manifest's folder or URL.
    pub fn object_path(hash: &ContentHash) -> String {
        format!("{OBJECT_DIR}/{hash}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format: MANIFEST_FORMAT.to_string(),
            version: 1,
            size: 5000,
            chunk_size: 2048,
            kernel: Some(ObjectRef {
                sha256: ContentHash::of(b"kernel"),
                size: 6,
            }),
            initrd: None,
            cmdline: "console=hvc0".to_string(),
            chunks: vec![
                Some(ContentHash::of(b"a")),
                None,
                Some(ContentHash::of(b"b")),
            ],
        }
    }

    #[test]
    fn round_trips_through_json() {
        let manifest = sample();
        let text = manifest.to_json();
        assert_eq!(Manifest::from_json(&text, "m.json").unwrap(), manifest);
        assert_eq!(manifest.chunk_len(0), 2048);
        assert_eq!(manifest.chunk_len(2), 904);
        assert_eq!(manifest.chunk_len(3), 0);
        let object = Manifest::object_path(&ContentHash::of(b"a"));
        assert!(object.starts_with("sha256/") && object.len() == 71);
    }

    #[test]
    fn rejects_inconsistent_manifests_naming_the_file() {
        let mut wrong_count = sample();
        wrong_count.chunks.pop();
        let err = Manifest::from_json(&wrong_count.to_json(), "img/manifest.json").unwrap_err();
        assert!(err.to_string().contains("img/manifest.json"), "{err}");
        assert!(err.to_string().contains("lists 2 chunks"), "{err}");

        let mut odd_chunk = sample();
        odd_chunk.chunk_size = 3000;
        assert!(Manifest::from_json(&odd_chunk.to_json(), "m").is_err());

        let mut future = sample();
        future.version = 2;
        let err = Manifest::from_json(&future.to_json(), "m").unwrap_err();
        assert!(err.to_string().contains("version 2"), "{err}");

        let text = String::from_utf8(sample().to_json()).unwrap();
        let bad_hash = text.replacen("\"sha256\": \"", "\"sha256\": \"zz", 1);
        let err = Manifest::from_json(bad_hash.as_bytes(), "m").unwrap_err();
        assert!(err.to_string().contains("SHA-256"), "{err}");
        assert!(Manifest::from_json(b"{", "m").is_err());
    }
}
