//! `webx86 image ...`: tools for disk images in the chunked CDN layout.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use webx86_disk::pack::{pack, PackOptions, DEFAULT_CHUNK_SIZE};

#[derive(Args)]
pub struct ImageArgs {
    #[command(subcommand)]
    command: ImageCommand,
}

#[derive(Subcommand)]
enum ImageCommand {
    /// Split a raw disk image (an ext2 file system) into chunks named by their SHA-256, omit
    /// all-zero chunks, store the kernel and initrd the same way, and write manifest.json.
    /// The same inputs always give the same files.
    Pack {
        /// The raw disk image.
        image: PathBuf,
        /// The folder to write (created if needed); serve it as is from any static host.
        outdir: PathBuf,
        /// The kernel (bzImage) to boot the image with.
        #[arg(long)]
        kernel: Option<PathBuf>,
        /// The initrd to boot the image with.
        #[arg(long)]
        initrd: Option<PathBuf>,
        /// The kernel command line.
        #[arg(long, default_value = "")]
        append: String,
        /// Bytes per chunk, a power of two from 512 to 64M; K and M suffixes (KiB, MiB) allowed.
        #[arg(long, default_value_t = DEFAULT_CHUNK_SIZE, value_parser = parse_byte_size)]
        chunk_size: u64,
    },
}

/// Parses `4096`, `256K` or `1M` (binary units).
fn parse_byte_size(text: &str) -> Result<u64, String> {
    let (digits, unit) = match text.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((at, _)) => text.split_at(at),
        None => (text, ""),
    };
    let shift = match unit {
        "" => 0,
        "K" | "k" | "KiB" => 10,
        "M" | "m" | "MiB" => 20,
        _ => return Err(format!("`{text}` is not a size like 4096, 256K or 1M")),
    };
    let number: u64 = digits
        .parse()
        .map_err(|_| format!("`{text}` is not a size like 4096, 256K or 1M"))?;
    number
        .checked_mul(1 << shift)
        .ok_or_else(|| format!("`{text}` is too large"))
}

pub fn run(args: ImageArgs) -> ExitCode {
    match args.command {
        ImageCommand::Pack {
            image,
            outdir,
            kernel,
            initrd,
            append,
            chunk_size,
        } => {
            let options = PackOptions {
                chunk_size,
                kernel,
                initrd,
                cmdline: append,
            };
            // A progress line only on a terminal: in a log, one line per percent is noise.
            let show_progress = std::io::stderr().is_terminal();
            let mut last_percent = u64::MAX;
            let mut progress = |done: u64, total: u64| {
                let percent = (done * 100).checked_div(total).unwrap_or(100);
                if show_progress && percent != last_percent {
                    last_percent = percent;
                    eprint!("\rwebx86: packing {}: {percent}%", image.display());
                    let _ = std::io::stderr().flush();
                }
            };
            let result = pack(&image, &outdir, &options, &mut progress);
            if show_progress && last_percent != u64::MAX {
                eprintln!();
            }
            match result {
                Ok(summary) => {
                    let manifest = &summary.manifest;
                    println!(
                        "{}: {} bytes in {} chunks of {} bytes ({} all-zero, omitted; {} distinct stored; {} files written)",
                        summary.manifest_path.display(),
                        manifest.size,
                        manifest.chunks.len(),
                        manifest.chunk_size,
                        summary.zero_chunks,
                        summary.distinct_chunks,
                        summary.objects_written
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("webx86: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_byte_size;

    #[test]
    fn byte_sizes() {
        assert_eq!(parse_byte_size("4096"), Ok(4096));
        assert_eq!(parse_byte_size("256K"), Ok(256 << 10));
        assert_eq!(parse_byte_size("1M"), Ok(1 << 20));
        assert_eq!(parse_byte_size("2MiB"), Ok(2 << 20));
        assert!(parse_byte_size("1G").is_err());
        assert!(parse_byte_size("K").is_err());
        assert!(parse_byte_size("").is_err());
        assert!(parse_byte_size("99999999999999999999M").is_err());
    }
}
