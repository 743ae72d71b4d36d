//! The image packer behind `webx86 image pack`: a raw disk image (an ext2 file system) becomes
//! the chunked layout described in [`crate::chunked::manifest`].
//!
//! The output is a function of the input alone (no times, no host names, objects named by
//! content, a canonical manifest), so packing the same image and boot files again gives the same
//! bytes, and unchanged chunks keep their names across image versions (a CDN keeps them cached).
//! Objects are written under a temporary name and renamed, and the manifest is written last, so
//! an interrupted pack never leaves a manifest naming missing objects.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use thiserror::Error;

use crate::chunked::manifest::{
    ObjectRef, MANIFEST_FILE, MANIFEST_FORMAT, MANIFEST_VERSION, MAX_CHUNK_SIZE, OBJECT_DIR,
};
use crate::{ContentHash, Manifest, SECTOR_SIZE};

/// Chunk size when none is given: small enough that a guest's scattered reads fetch little it
/// does not need, large enough that a 2 GiB image's manifest stays a few hundred KiB.
pub const DEFAULT_CHUNK_SIZE: u64 = 256 * 1024;

/// What to pack besides the disk image.
#[derive(Clone, Debug)]
pub struct PackOptions {
    /// Bytes per chunk: a power of two from 512 to 64 MiB.
    pub chunk_size: u64,
    pub kernel: Option<PathBuf>,
    pub initrd: Option<PathBuf>,
    /// The kernel command line.
    pub cmdline: String,
}

impl Default for PackOptions {
    fn default() -> PackOptions {
        PackOptions {
            chunk_size: DEFAULT_CHUNK_SIZE,
            kernel: None,
            initrd: None,
            cmdline: String::new(),
        }
    }
}

/// What a pack produced.
#[derive(Clone, Debug)]
pub struct PackSummary {
    pub manifest: Manifest,
    /// Where the manifest was written.
    pub manifest_path: PathBuf,
    /// Chunks of zeros, omitted.
    pub zero_chunks: u64,
    /// Distinct stored chunks.
    pub distinct_chunks: u64,
    /// Object files written now (the rest were already present with the right content).
    pub objects_written: u64,
}

/// Why packing failed; each names the file at fault.
#[derive(Debug, Error)]
pub enum PackError {
    #[error("chunk size {0} is not a power of two from 512 bytes to 64 MiB")]
    ChunkSize(u64),
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: io::Error },
    #[error("{path} changed size while it was being packed")]
    Changed { path: String },
}

/// Packs `image` into `out_dir` (created if needed), reporting `(bytes done, bytes total)` to
/// `progress` after every chunk.
pub fn pack(
    image: &Path,
    out_dir: &Path,
    options: &PackOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<PackSummary, PackError> {
    let chunk_size = options.chunk_size;
    if !chunk_size.is_power_of_two() || !(SECTOR_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
        return Err(PackError::ChunkSize(chunk_size));
    }
    let image_name = image.display().to_string();
    let read_err = |source| PackError::Read {
        path: image_name.clone(),
        source,
    };
    let objects = out_dir.join(OBJECT_DIR);
    std::fs::create_dir_all(&objects).map_err(|source| PackError::Write {
        path: objects.display().to_string(),
        source,
    })?;

    let mut file = File::open(image).map_err(read_err)?;
    let size = file.metadata().map_err(read_err)?.len();
    let mut chunks = Vec::with_capacity(size.div_ceil(chunk_size) as usize);
    let mut seen = std::collections::HashSet::new();
    let mut summary_zero = 0;
    let mut written = 0;
    let mut buf = vec![0u8; chunk_size as usize];
    let mut done = 0u64;
    while done < size {
        let len = (size - done).min(chunk_size) as usize;
        file.read_exact(&mut buf[..len]).map_err(|source| {
            if source.kind() == io::ErrorKind::UnexpectedEof {
                PackError::Changed {
                    path: image_name.clone(),
                }
            } else {
                read_err(source)
            }
        })?;
        let bytes = &buf[..len];
        if bytes.iter().all(|&b| b == 0) {
            summary_zero += 1;
            chunks.push(None);
        } else {
            let hash = ContentHash::of(bytes);
            if seen.insert(hash) && store_object(&objects, &hash, bytes)? {
                written += 1;
            }
            chunks.push(Some(hash));
        }
        done += len as u64;
        progress(done, size);
    }

    let mut boot_file = |path: &Option<PathBuf>| -> Result<Option<ObjectRef>, PackError> {
        let Some(path) = path else {
            return Ok(None);
        };
        let bytes = std::fs::read(path).map_err(|source| PackError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let hash = ContentHash::of(&bytes);
        if store_object(&objects, &hash, &bytes)? {
            written += 1;
        }
        Ok(Some(ObjectRef {
            sha256: hash,
            size: bytes.len() as u64,
        }))
    };
    let kernel = boot_file(&options.kernel)?;
    let initrd = boot_file(&options.initrd)?;

    let manifest = Manifest {
        format: MANIFEST_FORMAT.to_string(),
        version: MANIFEST_VERSION,
        size,
        chunk_size,
        kernel,
        initrd,
        cmdline: options.cmdline.clone(),
        chunks,
    };
    let manifest_path = out_dir.join(MANIFEST_FILE);
    write_atomically(&manifest_path, &manifest.to_json())?;
    Ok(PackSummary {
        manifest,
        manifest_path,
        zero_chunks: summary_zero,
        distinct_chunks: seen.len() as u64,
        objects_written: written,
    })
}

/// Stores `bytes` as `objects/<hash>` unless that file already holds exactly them; returns
/// whether it wrote.
fn store_object(objects: &Path, hash: &ContentHash, bytes: &[u8]) -> Result<bool, PackError> {
    let path = objects.join(hash.to_hex());
    if let Ok(existing) = std::fs::read(&path) {
        if existing == bytes {
            return Ok(false);
        }
    }
    write_atomically(&path, bytes)?;
    Ok(true)
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so
/// readers see the old file or the whole new one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), PackError> {
    let write_err = |source| PackError::Write {
        path: path.display().to_string(),
        source,
    };
    let mut temporary = path.as_os_str().to_owned();
    temporary.push(".partial");
    let temporary = PathBuf::from(temporary);
    std::fs::write(&temporary, bytes).map_err(write_err)?;
    std::fs::rename(&temporary, path).map_err(write_err)
}

#[cfg(test)]
mod tests;
