//! Parsing a virtio-blk request from a descriptor chain (virtio 1.2 §5.2.6).
//!
//! A request is a 16-byte header (`type: u32, reserved: u32, sector: u64`) in device-readable
//! memory, then data (device-readable for writes, device-writable for reads and GET_ID), then
//! one device-writable status byte. With VIRTIO_F_VERSION_1 the device may not assume any
//! framing (§2.7.4.1), so the parts are found by byte counts across the chain's buffers.
//!
//! Two kinds of failure: a chain that cannot be a request at all (no room for the header or
//! the status byte) is a [`RequestError`], which puts the device in its error state since there
//! is nowhere to report it; a well-formed request the device refuses is answered with a status
//! byte ([`Rejection`]).

use webx86_disk::SECTOR_SIZE;

use crate::virtio::memory::GuestRam;
use crate::virtio::queue::{DescriptorChain, QueueError, Segments};

/// Request types.
pub mod request_type {
    pub const IN: u32 = 0;
    pub const OUT: u32 = 1;
    pub const FLUSH: u32 = 4;
    pub const GET_ID: u32 = 8;
}

/// Status byte values.
pub mod blk_status {
    pub const OK: u8 = 0;
    pub const IOERR: u8 = 1;
    pub const UNSUPP: u8 = 2;
}

/// Bytes of the request header.
pub const HEADER_LEN: u64 = 16;
/// Bytes GET_ID returns (§5.2.6: a 20-byte string, NUL-padded).
pub const ID_LEN: usize = 20;
/// Largest data transfer of one request; longer ones complete with IOERR.
pub const MAX_TRANSFER: u64 = 16 << 20;

/// A chain that is not a block request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("request header needs 16 device-readable bytes, chain has {0}")]
    ShortHeader(u64),
    #[error("request has no device-writable byte for its status")]
    NoStatus,
    #[error("{0}")]
    Queue(#[from] QueueError),
}

/// What the request asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestKind {
    /// Read `data` bytes at `sector`.
    In,
    /// Write the data at `sector`.
    Out,
    Flush,
    GetId,
    /// Any other type: answered with UNSUPP.
    Unsupported(u32),
}

/// A request's parts, all inside guest RAM.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BlkRequest {
    pub head: u16,
    pub kind: RequestKind,
    pub sector: u64,
    /// Data to write (OUT) or room for data to read (IN, GET_ID).
    pub data: Segments,
    /// Readable bytes after the header that the request type does not use (must be none for
    /// IN, FLUSH and GET_ID).
    pub extra_readable: u64,
    /// Writable bytes before the status byte that the request type does not use (must be none
    /// for OUT and FLUSH).
    pub extra_writable: u64,
    /// The status byte.
    pub status: Segments,
}

/// Why a well-formed request is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejection(pub u8);

impl BlkRequest {
    /// Finds the parts of a request in `chain`, reading its header.
    pub fn parse(mem: &mut GuestRam, chain: &DescriptorChain) -> Result<Self, RequestError> {
        let readable_len = chain.readable.len();
        if readable_len < HEADER_LEN {
            return Err(RequestError::ShortHeader(readable_len));
        }
        let writable_len = chain.writable.len();
        if writable_len == 0 {
            return Err(RequestError::NoStatus);
        }
        let mut header = [0u8; HEADER_LEN as usize];
        chain.readable.read_at(mem, 0, &mut header)?;
        let ty = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let sector = u64::from_le_bytes(header[8..16].try_into().unwrap_or([0; 8]));
        let kind = match ty {
            request_type::IN => RequestKind::In,
            request_type::OUT => RequestKind::Out,
            request_type::FLUSH => RequestKind::Flush,
            request_type::GET_ID => RequestKind::GetId,
            other => RequestKind::Unsupported(other),
        };
        let (_, after_header) = chain.readable.split_at(HEADER_LEN);
        let (before_status, status) = chain.writable.split_at(writable_len - 1);
        let (data, extra_readable, extra_writable) = match kind {
            RequestKind::Out => (after_header, 0, before_status.len()),
            RequestKind::In | RequestKind::GetId => (before_status, after_header.len(), 0),
            RequestKind::Flush => (Segments::default(), after_header.len(), before_status.len()),
            RequestKind::Unsupported(_) => (Segments::default(), 0, 0),
        };
        Ok(BlkRequest {
            head: chain.head,
            kind,
            sector,
            data,
            extra_readable,
            extra_writable,
            status,
        })
    }

    /// Checks the request against a disk of `capacity` sectors: a data buffer in the wrong
    /// direction, a length that is not whole sectors or too long, a range past the end, or a
    /// write to a read-only disk gets IOERR; an unknown type gets UNSUPP.
    pub fn validate(&self, capacity: u64, read_only: bool) -> Result<(), Rejection> {
        let ioerr = Err(Rejection(blk_status::IOERR));
        if self.extra_readable != 0 || self.extra_writable != 0 {
            return ioerr;
        }
        match self.kind {
            RequestKind::In | RequestKind::Out => {
                let len = self.data.len();
                if !len.is_multiple_of(SECTOR_SIZE) || len > MAX_TRANSFER {
                    return ioerr;
                }
                let end = self.sector.checked_add(len / SECTOR_SIZE);
                if end.is_none_or(|end| end > capacity) {
                    return ioerr;
                }
                if self.kind == RequestKind::Out && read_only {
                    return ioerr;
                }
                Ok(())
            }
            RequestKind::Flush | RequestKind::GetId => Ok(()),
            RequestKind::Unsupported(_) => Err(Rejection(blk_status::UNSUPP)),
        }
    }
}
