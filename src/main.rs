//! The `webx86` command-line tool.

mod boot_command;
mod host_console;

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use webx86::rom::{load_rom, rom_cpu, run_rom, RomEnd, StdioOutput};

#[derive(Parser)]
#[command(
    name = "webx86",
    version,
    about = "A full-system x86 (i686) PC emulator"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a raw ROM image (e.g. test386) mapped as the BIOS at the top of the first MiB and
    /// of 4 GiB. Bytes written to port 0xE9 go to stdout, POST codes to stderr as `POST xx`.
    /// Exits 0 when the CPU halts with interrupts disabled.
    Rom {
        /// The ROM image (a whole number of 4 KiB pages, at most 1 MiB).
        file: String,
        /// Port whose writes are reported as POST codes.
        #[arg(long, default_value_t = 0x190, value_parser = parse_port)]
        post_port: u16,
        /// Stop with exit status 2 after this many instructions.
        #[arg(long)]
        max_instructions: Option<u64>,
        /// Print instructions retired and guest MIPS on stderr at the end.
        #[arg(long)]
        stats: bool,
    },
    /// Boot a Linux kernel (bzImage) directly, with the serial console (COM1, ttyS0) on
    /// stdin/stdout. On a terminal, type Ctrl-A x to quit (Ctrl-A Ctrl-A sends Ctrl-A); from a
    /// pipe, bytes pass unchanged. Exits 0 when the guest powers off or reboots, 1 on a triple
    /// fault or a kernel/initrd that cannot be loaded.
    Boot {
        /// The kernel: a bzImage such as Debian's /boot/vmlinuz-*-686.
        #[arg(long, value_name = "FILE")]
        kernel: String,
        /// An initrd or initramfs image.
        #[arg(long, value_name = "FILE")]
        initrd: Option<String>,
        /// The kernel command line.
        #[arg(long, value_name = "CMDLINE", default_value = webx86::machine::DEFAULT_CMDLINE)]
        append: String,
        /// Guest RAM in MiB (2-3584).
        #[arg(long, value_name = "MiB", default_value_t = 256,
              value_parser = clap::value_parser!(u32).range(2..=3584))]
        mem: u32,
        /// Guest time from instructions retired instead of the host clock: the same input
        /// gives the same output.
        #[arg(long)]
        deterministic: bool,
        /// At the end, print instructions retired, guest MIPS and guest time on stderr.
        #[arg(long)]
        stats: bool,
        /// Let the bzImage's own decompressor unpack the kernel in the guest, as the boot
        /// protocol has it, instead of unpacking it on the host (slower; for testing).
        #[arg(long)]
        guest_decompress: bool,
    },
}

fn parse_port(text: &str) -> Result<u16, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| format!("not a port number: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Boot {
            kernel,
            initrd,
            append,
            mem,
            deterministic,
            stats,
            guest_decompress,
        } => boot_command::run(boot_command::BootOptions {
            kernel,
            initrd,
            append,
            mem_mib: mem,
            deterministic,
            stats,
            guest_decompress,
        }),
        Command::Rom {
            file,
            post_port,
            max_instructions,
            stats,
        } => {
            let image = match load_rom(&file) {
                Ok(image) => image,
                Err(e) => {
                    eprintln!("webx86: {e}");
                    return ExitCode::from(1);
                }
            };
            let mut cpu = rom_cpu(&image, StdioOutput::default(), post_port);
            let started = Instant::now();
            let end = run_rom(&mut cpu, max_instructions.unwrap_or(u64::MAX));
            let retired = cpu.state.retired;
            if stats {
                let secs = started.elapsed().as_secs_f64();
                eprintln!(
                    "webx86: {retired} instructions in {secs:.3} s, {:.1} guest MIPS",
                    retired as f64 / secs.max(1e-9) / 1e6
                );
            }
            drop(cpu);
            match end {
                RomEnd::Halted => ExitCode::SUCCESS,
                RomEnd::Budget => {
                    eprintln!("webx86: stopped after {retired} instructions (--max-instructions) without halting");
                    ExitCode::from(2)
                }
                RomEnd::Shutdown => {
                    eprintln!(
                        "webx86: the CPU shut down after a triple fault ({retired} instructions)"
                    );
                    ExitCode::from(1)
                }
            }
        }
    }
}
