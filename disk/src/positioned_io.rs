//! Positioned reads and writes on a host file (`pread`/`pwrite` on Unix, `seek_read`/`seek_write`
//! on Windows), so one file handle serves requests at any offset without a shared cursor.

use std::fs::File;
use std::io;

/// Reads exactly `buf.len()` bytes at `offset`; bytes past the end of the file read as zeros
/// (the overlay and raw files may be shorter than the disk they hold when their tail was never
/// written).
pub fn read_at_zero_filled(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        match read_once(file, offset + done as u64, &mut buf[done..]) {
            Ok(0) => {
                buf[done..].fill(0);
                return Ok(());
            }
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Writes all of `data` at `offset`.
pub fn write_all_at(file: &File, offset: u64, data: &[u8]) -> io::Result<()> {
    let mut done = 0;
    while done < data.len() {
        match write_once(file, offset + done as u64, &data[done..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(unix)]
fn read_once(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    std::os::unix::fs::FileExt::read_at(file, buf, offset)
}

#[cfg(unix)]
fn write_once(file: &File, offset: u64, data: &[u8]) -> io::Result<usize> {
    std::os::unix::fs::FileExt::write_at(file, data, offset)
}

#[cfg(windows)]
fn read_once(file: &File, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_read(file, buf, offset)
}

#[cfg(windows)]
fn write_once(file: &File, offset: u64, data: &[u8]) -> io::Result<usize> {
    std::os::windows::fs::FileExt::seek_write(file, data, offset)
}
