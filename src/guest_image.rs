//! Where `webx86 boot` finds its guest: a chunked image folder (or its manifest) with the
//! kernel, initrd and command line it names, under a copy-on-write overlay; and the default
//! image, built by `images/build-debian.sh` the first time it is wanted.

use std::path::{Path, PathBuf};
use std::process::Command;

use thiserror::Error;
use webx86_disk::chunked::ImageDir;
use webx86_disk::overlay::{FileStore, MemoryStore};
use webx86_disk::{BlockBackend, CowOverlay, DiskError, Manifest};

/// Bytes of verified chunks kept in memory (the LRU's bound); the guest's own page cache
/// holds what it reads often, so this only needs to cover read-ahead and the boot's working set.
pub const CHUNK_CACHE_BYTES: usize = 64 << 20;

/// The repository this binary was built from (for the default image and its build script).
const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// Why a guest image could not be used.
#[derive(Debug, Error)]
pub enum GuestImageError {
    #[error(transparent)]
    Disk(#[from] DiskError),
    #[error("{manifest} names no kernel; give one with --kernel")]
    NoKernel { manifest: String },
    #[error("could not run {script}: {source}")]
    BuildSpawn {
        script: String,
        source: std::io::Error,
    },
    #[error("{script} failed ({status}); see its messages above")]
    BuildFailed { script: String, status: String },
}

/// Where guest files are built: `$WEBX86_GUEST_DIR`, else `target/guest` in the repository.
pub fn guest_dir() -> PathBuf {
    std::env::var_os("WEBX86_GUEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(REPO).join("target/guest"))
}

/// The default image's folder (the CDN layout of `images/build-debian.sh`).
pub fn default_image_dir() -> PathBuf {
    guest_dir().join("debian")
}

/// The default image's overlay file: the guest's changes, kept across boots.
pub fn default_overlay() -> PathBuf {
    guest_dir().join("debian.overlay")
}

/// Builds the default image with `images/build-debian.sh` unless it is there already. The
/// script prints its progress on stderr and packs with this very binary.
pub fn ensure_default_image() -> Result<PathBuf, GuestImageError> {
    let dir = default_image_dir();
    if dir.join("manifest.json").is_file() {
        return Ok(dir);
    }
    let script = Path::new(REPO).join("images/build-debian.sh");
    let script_name = script.display().to_string();
    eprintln!(
        "webx86: no default image at {}; building it with {script_name} (Debian bookworm i386, \
         a few minutes; needs root and network access to the Debian mirror)",
        dir.display()
    );
    let mut command = Command::new("bash");
    command.arg(&script).env("WEBX86_GUEST_DIR", guest_dir());
    if let Ok(exe) = std::env::current_exe() {
        command.env("WEBX86", exe);
    }
    let status = command
        .status()
        .map_err(|source| GuestImageError::BuildSpawn {
            script: script_name.clone(),
            source,
        })?;
    if !status.success() {
        return Err(GuestImageError::BuildFailed {
            script: script_name,
            status: status.to_string(),
        });
    }
    Ok(dir)
}

/// An opened image: what to boot and the disk.
pub struct GuestImage {
    pub manifest: Manifest,
    pub manifest_path: String,
    pub kernel: Option<Vec<u8>>,
    pub initrd: Option<Vec<u8>>,
    pub disk: Box<dyn BlockBackend>,
}

/// Opens the image at `path` (a folder or its manifest) under an overlay: in `overlay` if
/// given (created if missing, kept across boots), else in memory (dropped at exit).
pub fn open_image(path: &Path, overlay: Option<&Path>) -> Result<GuestImage, GuestImageError> {
    let dir = ImageDir::open(path)?;
    let kernel = dir.kernel()?;
    let initrd = dir.initrd()?;
    let manifest = dir.manifest.clone();
    let manifest_path = dir.manifest_path.clone();
    let base = dir.into_disk(CHUNK_CACHE_BYTES)?;
    let disk: Box<dyn BlockBackend> = match overlay {
        Some(file) => Box::new(CowOverlay::new(base, FileStore::open_or_create(file)?)?),
        None => Box::new(CowOverlay::new(base, MemoryStore::default())?),
    };
    Ok(GuestImage {
        manifest,
        manifest_path,
        kernel,
        initrd,
        disk,
    })
}
