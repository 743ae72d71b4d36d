//! What can be wrong with the files handed to the loader, as sentences naming the file.

use thiserror::Error;

/// A kernel, initrd or command line the loader cannot boot. `name` is the file's path (or
/// whatever name the caller gave the bytes).
#[derive(Debug, Error)]
pub enum BootError {
    #[error("cannot read {name}: {source}")]
    Read {
        name: String,
        source: std::io::Error,
    },
    #[error("{name} is not a Linux bzImage: {reason}")]
    NotBzImage { name: String, reason: &'static str },
    #[error(
        "{name} uses Linux boot protocol {}.{:02}; webx86 needs 2.10 or later (kernel 2.6.31+)",
        version >> 8,
        version & 0xFF
    )]
    ProtocolTooOld { name: String, version: u16 },
    #[error(
        "{name} needs {needed_mib} MiB of memory to decompress and start, but the machine has \
         {memory_mib} MiB (raise --mem)"
    )]
    KernelTooBig {
        name: String,
        needed_mib: u32,
        memory_mib: u32,
    },
    #[error(
        "initrd {name} ({size} bytes) does not fit in memory between the kernel's decompression \
         area (ending at {kernel_end:#x}) and {limit:#x} (raise --mem)"
    )]
    InitrdTooBig {
        name: String,
        size: usize,
        kernel_end: u32,
        limit: u32,
    },
    #[error("the command line is {len} bytes; {name} accepts at most {max}")]
    CommandLineTooLong { name: String, len: usize, max: u32 },
}
