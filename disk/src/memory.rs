//! A disk held in memory: for tests, scratch disks, and images small enough to keep whole.

use crate::{check_range, BlockBackend, Completion, DiskError, Request, RequestId};

/// A disk whose bytes live in a `Vec<u8>`. Requests complete at the next poll.
#[derive(Debug, Default)]
pub struct MemoryDisk {
    bytes: Vec<u8>,
    read_only: bool,
    id: String,
    ready: Vec<Completion>,
}

impl MemoryDisk {
    /// A writable disk holding `bytes`.
    pub fn new(bytes: Vec<u8>) -> MemoryDisk {
        MemoryDisk {
            bytes,
            read_only: false,
            id: "webx86-memory".to_string(),
            ready: Vec::new(),
        }
    }

    /// A zero-filled writable disk of `size` bytes.
    pub fn zeroed(size: usize) -> MemoryDisk {
        MemoryDisk::new(vec![0; size])
    }

    /// Makes the disk refuse writes.
    pub fn with_read_only(mut self, read_only: bool) -> MemoryDisk {
        self.read_only = read_only;
        self
    }

    /// Sets the GET_ID string (cut to 20 bytes).
    pub fn with_device_id(mut self, id: &str) -> MemoryDisk {
        self.id = crate::truncate_device_id(id.to_string());
        self
    }

    /// The disk's current contents.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    fn execute(&mut self, request: Request) -> Result<Vec<u8>, DiskError> {
        let size = self.bytes.len() as u64;
        match request {
            Request::Read { offset, len } => {
                check_range(offset, u64::from(len), size)?;
                let start = offset as usize;
                Ok(self.bytes[start..start + len as usize].to_vec())
            }
            Request::Write { offset, data } => {
                if self.read_only {
                    return Err(DiskError::ReadOnly);
                }
                check_range(offset, data.len() as u64, size)?;
                let start = offset as usize;
                self.bytes[start..start + data.len()].copy_from_slice(&data);
                Ok(Vec::new())
            }
            Request::Flush => Ok(Vec::new()),
        }
    }
}

impl BlockBackend for MemoryDisk {
    fn len(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn read_only(&self) -> bool {
        self.read_only
    }

    fn device_id(&self) -> String {
        self.id.clone()
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
    use crate::test_utils::{check_against_reference, run, Rng};

    #[test]
    fn random_reads_and_writes_match_a_reference() {
        let mut rng = Rng::new(1);
        let mut disk = MemoryDisk::zeroed(64 * 1024);
        let mut reference = vec![0u8; 64 * 1024];
        check_against_reference(&mut disk, &mut reference, &mut rng, 400);
    }

    #[test]
    fn out_of_range_and_read_only() {
        let mut disk = MemoryDisk::zeroed(4096);
        assert!(matches!(
            run(
                &mut disk,
                Request::Read {
                    offset: 4096,
                    len: 1
                }
            ),
            Err(DiskError::OutOfRange { .. })
        ));
        assert!(matches!(
            run(
                &mut disk,
                Request::Read {
                    offset: u64::MAX,
                    len: 2
                }
            ),
            Err(DiskError::OutOfRange { .. })
        ));
        assert_eq!(
            run(
                &mut disk,
                Request::Read {
                    offset: 4096,
                    len: 0
                }
            )
            .unwrap(),
            b""
        );
        let mut disk = disk.with_read_only(true);
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
        assert_eq!(disk.bytes()[0], 0);
    }

    #[test]
    fn completion_comes_at_poll_not_submit() {
        let mut disk = MemoryDisk::zeroed(512);
        let mut out = Vec::new();
        disk.submit(RequestId(7), Request::Flush);
        disk.poll(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].id, RequestId(7));
        disk.poll(&mut out);
        assert_eq!(out.len(), 1);
    }
}
