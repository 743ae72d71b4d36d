//! Unpacking an XZ-compressed initramfs on the host, as the kernel's payload is: the kernel
//! takes an uncompressed cpio archive just as well, and decompressing Debian's initramfs in the
//! guest is a large share of a boot's instructions (zstd took 8% of a Debian boot).

use std::io::Read;

use crate::vmlinux::XZ_MAGIC;

/// `initrd` decompressed if it is one whole XZ stream that unpacks to at most `limit` bytes;
/// `None` otherwise (not XZ, corrupt, trailing data, or too big), and the caller passes the
/// original bytes to the kernel, whose own unpacker then decides (and reports) what it is.
pub fn unpack_xz(initrd: &[u8], limit: u64) -> Option<Vec<u8>> {
    if !initrd.starts_with(XZ_MAGIC) {
        return None;
    }
    let mut out = Vec::new();
    let reader = xz4rust::XzReader::new(std::io::Cursor::new(initrd.to_vec()));
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut out)
        .ok()?;
    (out.len() as u64 <= limit).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `printf 'webx86 initrd test\n' | xz --check=crc32 -c` (initramfs-tools' xz options).
    const SAMPLE_XZ: &[u8] = &[
        0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x01, 0x69, 0x22, 0xde, 0x36, 0x02, 0x00, 0x21,
        0x01, 0x16, 0x00, 0x00, 0x00, 0x74, 0x2f, 0xe5, 0xa3, 0x01, 0x00, 0x12, 0x77, 0x65, 0x62,
        0x78, 0x38, 0x36, 0x20, 0x69, 0x6e, 0x69, 0x74, 0x72, 0x64, 0x20, 0x74, 0x65, 0x73, 0x74,
        0x0a, 0x00, 0x00, 0xa9, 0xe7, 0x7e, 0x5f, 0x00, 0x01, 0x27, 0x13, 0x90, 0x46, 0xfd, 0x7e,
        0x90, 0x42, 0x99, 0x0d, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x59, 0x5a,
    ];

    #[test]
    fn unpacks_whole_streams_within_the_limit() {
        assert_eq!(
            unpack_xz(SAMPLE_XZ, 1 << 20).as_deref(),
            Some(&b"webx86 initrd test\n"[..])
        );
        assert_eq!(unpack_xz(SAMPLE_XZ, 10), None, "larger than the limit");
        assert_eq!(unpack_xz(b"070701 cpio", 1 << 20), None, "not XZ");
        let mut corrupt = SAMPLE_XZ.to_vec();
        corrupt[30] ^= 0xFF;
        assert_eq!(unpack_xz(&corrupt, 1 << 20), None, "CRC mismatch");
        assert_eq!(
            unpack_xz(&SAMPLE_XZ[..40], 1 << 20),
            None,
            "truncated stream"
        );
    }
}
