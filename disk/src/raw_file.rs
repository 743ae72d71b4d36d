//! A raw disk image file on the host (native only): byte `n` of the disk is byte `n` of the file.

use std::fs::{File, OpenOptions};
use std::path::Path;

use crate::positioned_io::{read_at_zero_filled, write_all_at};
use crate::{check_range, BlockBackend, Completion, DiskError, Request, RequestId};

/// A raw image file. Reads and writes use positioned I/O and complete at the next poll; a flush
/// is `fsync` (`File::sync_data`), so a completed flush means the data is on stable storage.
#[derive(Debug)]
pub struct RawFile {
    file: File,
    path: String,
    size: u64,
    read_only: bool,
    ready: Vec<Completion>,
}

impl RawFile {
    /// Opens an existing image; its size is the file's size.
    pub fn open(path: &Path, read_only: bool) -> Result<RawFile, DiskError> {
        let name = path.display().to_string();
        let io = |source| DiskError::Io {
            path: name.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(!read_only)
            .open(path)
            .map_err(io)?;
        let size = file.metadata().map_err(io)?.len();
        Ok(RawFile {
            file,
            path: name,
            size,
            read_only,
            ready: Vec::new(),
        })
    }

    /// Creates (or truncates) a sparse, zero-filled image of `size` bytes.
    pub fn create(path: &Path, size: u64) -> Result<RawFile, DiskError> {
        let name = path.display().to_string();
        let io = |source| DiskError::Io {
            path: name.clone(),
            source,
        };
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(path)
            .map_err(io)?;
        file.set_len(size).map_err(io)?;
        Ok(RawFile {
            file,
            path: name,
            size,
            read_only: false,
            ready: Vec::new(),
        })
    }

    fn execute(&mut self, request: Request) -> Result<Vec<u8>, DiskError> {
        let io = |source| DiskError::Io {
            path: self.path.clone(),
            source,
        };
        match request {
            Request::Read { offset, len } => {
                check_range(offset, u64::from(len), self.size)?;
                let mut buf = vec![0; len as usize];
                read_at_zero_filled(&self.file, offset, &mut buf).map_err(io)?;
                Ok(buf)
            }
            Request::Write { offset, data } => {
                if self.read_only {
                    return Err(DiskError::ReadOnly);
                }
                check_range(offset, data.len() as u64, self.size)?;
                write_all_at(&self.file, offset, &data).map_err(io)?;
                Ok(Vec::new())
            }
            Request::Flush => {
                if !self.read_only {
                    self.file.sync_data().map_err(io)?;
                }
                Ok(Vec::new())
            }
        }
    }
}

impl BlockBackend for RawFile {
    fn len(&self) -> u64 {
        self.size
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    /// The file's name (without its directory), cut to 20 bytes.
    fn device_id(&self) -> String {
        let name = Path::new(&self.path)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.path.clone());
        crate::truncate_device_id(name)
    }

    fn submit(&mut self, id: RequestId, request: Request) {
        let result = self.execute(request);
        self.ready.push(Completion { id, result });
    }

    fn poll(&mut self, out: &mut Vec<Completion>) {
        out.append(&mut self.ready);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_utils::{check_against_reference, read_all, run, Rng, TempDir};

    #[test]
    fn random_reads_and_writes_match_a_reference_and_persist() {
        let dir = TempDir::new("raw-random");
        let path = dir.path().join("disk.img");
        let mut rng = Rng::new(2);
        let mut reference = vec![0u8; 96 * 1024];
        {
            let mut disk = RawFile::create(&path, reference.len() as u64).unwrap();
            check_against_reference(&mut disk, &mut reference, &mut rng, 300);
            run(&mut disk, Request::Flush).unwrap();
        }
        let mut disk = RawFile::open(&path, true).unwrap();
        assert!(read_all(&mut disk) == reference);
        assert_eq!(disk.device_id(), "disk.img");
    }

    #[test]
    fn out_of_range_read_only_and_missing_file() {
        let dir = TempDir::new("raw-errors");
        let path = dir.path().join("disk.img");
        std::fs::write(&path, [7u8; 1024]).unwrap();
        let mut disk = RawFile::open(&path, true).unwrap();
        assert_eq!(disk.len(), 1024);
        assert!(matches!(
            run(
                &mut disk,
                Request::Read {
                    offset: 1000,
                    len: 25
                }
            ),
            Err(DiskError::OutOfRange { .. })
        ));
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
        assert_eq!(
            run(
                &mut disk,
                Request::Read {
                    offset: 1020,
                    len: 4
                }
            )
            .unwrap(),
            [7; 4]
        );
        let missing = dir.path().join("nope.img");
        let err = RawFile::open(&missing, true).unwrap_err();
        assert!(err.to_string().contains("nope.img"), "{err}");
    }
}
