//! Where an overlay keeps its bytes: a small random-access file interface, so the same format
//! lives in a host file natively and, in the browser, in an OPFS file (whose synchronous access
//! handle in a Worker offers exactly these calls) or in memory.

use std::io;

/// Random-access bytes with a durability barrier.
pub trait OverlayStore {
    /// The file's path or another name for messages.
    fn name(&self) -> String;
    /// Current size in bytes.
    fn size(&mut self) -> io::Result<u64>;
    /// Fills `buf` from `offset`; bytes past the end read as zeros.
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()>;
    /// Writes `data` at `offset`, extending the store if needed.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Returns once every earlier write is durable (`fsync`).
    fn sync(&mut self) -> io::Result<()>;
}

/// An overlay store in memory: nothing survives the process, so `sync` has nothing to do.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    pub bytes: Vec<u8>,
}

/// Largest size a memory store grows to (a guard against absurd offsets).
const MEMORY_STORE_LIMIT: u64 = 1 << 40;

impl OverlayStore for MemoryStore {
    fn name(&self) -> String {
        "the in-memory overlay".to_string()
    }

    fn size(&mut self) -> io::Result<u64> {
        Ok(self.bytes.len() as u64)
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        buf.fill(0);
        let len = self.bytes.len() as u64;
        if offset < len {
            let end = (offset + buf.len() as u64).min(len);
            let part = (end - offset) as usize;
            buf[..part].copy_from_slice(&self.bytes[offset as usize..end as usize]);
        }
        Ok(())
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = offset
            .checked_add(data.len() as u64)
            .filter(|&end| end <= MEMORY_STORE_LIMIT)
            .ok_or_else(|| io::Error::other("write beyond the in-memory overlay's limit"))?;
        if self.bytes.len() < end as usize {
            self.bytes.resize(end as usize, 0);
        }
        self.bytes[offset as usize..end as usize].copy_from_slice(data);
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(any(unix, windows))]
pub use file::FileStore;

#[cfg(any(unix, windows))]
mod file {
    use std::fs::{File, OpenOptions};
    use std::io;
    use std::path::Path;

    use super::OverlayStore;
    use crate::positioned_io::{read_at_zero_filled, write_all_at};
    use crate::DiskError;

    /// An overlay in a host file; `sync` is `fsync` (`File::sync_all`, which also makes a grown
    /// length durable).
    #[derive(Debug)]
    pub struct FileStore {
        file: File,
        path: String,
    }

    impl FileStore {
        /// Opens `path`, creating an empty file if there is none.
        pub fn open_or_create(path: &Path) -> Result<FileStore, DiskError> {
            let name = path.display().to_string();
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(path)
                .map_err(|source| DiskError::Io {
                    path: name.clone(),
                    source,
                })?;
            Ok(FileStore { file, path: name })
        }
    }

    impl OverlayStore for FileStore {
        fn name(&self) -> String {
            self.path.clone()
        }

        fn size(&mut self) -> io::Result<u64> {
            Ok(self.file.metadata()?.len())
        }

        fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
            read_at_zero_filled(&self.file, offset, buf)
        }

        fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
            write_all_at(&self.file, offset, data)
        }

        fn sync(&mut self) -> io::Result<()> {
            self.file.sync_all()
        }
    }
}
