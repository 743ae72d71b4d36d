//! Where chunk bytes come from. Asking for a chunk and receiving it are separate steps, so a
//! browser implementation can start a `fetch()` in `request` and hand the bytes over in a later
//! `poll` once the promise resolves, while a native one reads a file.

use crate::ContentHash;

/// Why an object could not be fetched; `location` is the file or URL tried.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchError {
    pub location: String,
    pub reason: String,
}

/// The answer to one [`ChunkSource::request`].
#[derive(Debug)]
pub struct Fetched {
    pub hash: ContentHash,
    /// The object's bytes as stored (not yet verified: the image checks them against `hash`).
    pub result: Result<Vec<u8>, FetchError>,
}

/// A store of objects named by their SHA-256 (`sha256/<hex>` next to the manifest).
///
/// Contract: every `request` is answered by exactly one [`Fetched`] in some later `poll` (or
/// several identical requests by one each); answers may come in any order. The source does
/// not verify; [`crate::ChunkedImage`] does, so a corrupt or truncated object can never pass.
/// A failure answer fails the reads waiting for that chunk (the guest sees an I/O error), so a
/// network source should retry transient failures itself before answering with one.
pub trait ChunkSource {
    /// Starts fetching the object named `hash`. Must not block on the network.
    fn request(&mut self, hash: ContentHash);
    /// Moves answers that have arrived into `out` (appending).
    fn poll(&mut self, out: &mut Vec<Fetched>);
}

#[cfg(any(unix, windows))]
pub use directory::DirectorySource;

#[cfg(any(unix, windows))]
mod directory {
    use std::collections::VecDeque;
    use std::path::{Path, PathBuf};

    use super::{ChunkSource, FetchError, Fetched};
    use crate::chunked::Manifest;
    use crate::ContentHash;

    /// Objects in a local image directory (native). Requested objects are read from disk at
    /// the next poll.
    #[derive(Debug)]
    pub struct DirectorySource {
        dir: PathBuf,
        requested: VecDeque<ContentHash>,
    }

    impl DirectorySource {
        /// Objects under `dir` (the folder holding `manifest.json`).
        pub fn new(dir: &Path) -> DirectorySource {
            DirectorySource {
                dir: dir.to_path_buf(),
                requested: VecDeque::new(),
            }
        }

        /// The path of the object named `hash`.
        pub fn object_file(&self, hash: &ContentHash) -> PathBuf {
            self.dir.join(Manifest::object_path(hash))
        }

        /// Reads an object at once (the boot files, natively), without verifying it.
        pub fn read_object(&self, hash: &ContentHash) -> Result<Vec<u8>, FetchError> {
            let path = self.object_file(hash);
            std::fs::read(&path).map_err(|e| FetchError {
                location: path.display().to_string(),
                reason: e.to_string(),
            })
        }
    }

    impl ChunkSource for DirectorySource {
        fn request(&mut self, hash: ContentHash) {
            self.requested.push_back(hash);
        }

        fn poll(&mut self, out: &mut Vec<Fetched>) {
            while let Some(hash) = self.requested.pop_front() {
                let result = self.read_object(&hash);
                out.push(Fetched { hash, result });
            }
        }
    }
}
