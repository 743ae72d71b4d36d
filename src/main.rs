//! The `webx86` command-line tool.

// Booting needs a host clock and a terminal: native builds only.
#[cfg(not(target_arch = "wasm32"))]
mod boot_command;
#[cfg(not(target_arch = "wasm32"))]
mod guest_image;
#[cfg(not(target_arch = "wasm32"))]
mod host_console;

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use webx86::rom::{load_rom, rom_cpu, run_rom, RomEnd, StdioOutput};

mod image_cmd;

/// Exit status when the instruction budget (`--max-instructions`) runs out.
const EXIT_BUDGET: u8 = 2;

#[derive(Parser)]
#[command(
    name = "webx86",
    version,
    about = "A full-system x86 (i686) PC emulator",
    long_about = "A full-system x86 (i686) PC emulator.\n\nIt boots Debian (`webx86 boot`) or \
                  another Linux guest with its console on stdin/stdout, runs raw ROM \
                  images such as the test386 conformance ROM (`webx86 rom FILE`) and packs disk \
                  images (`webx86 image pack`)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a raw ROM image (e.g. test386) in place of the BIOS.
    #[command(
        long_about = "Run a raw ROM image (e.g. test386) in place of the BIOS.\n\n\
        The image is mapped read-only at the top of the first MiB and at the top of 4 GiB, over \
        4 MiB of RAM, and the CPU starts at its reset vector (CS=F000, base FFFF0000, EIP=FFF0). \
        Bytes the guest writes to port 0xE9 go to stdout, unchanged; each byte written to the \
        POST port goes to stderr as a line `POST xx`. No interrupts are ever raised.\n\n\
        Exit status: 0 when the CPU halts with interrupts disabled; 1 on an unreadable or \
        badly sized ROM, a triple fault, or HLT with interrupts enabled (nothing could wake \
        the CPU); 2 when --max-instructions runs out first (or on a command-line error)."
    )]
    Rom {
        /// The ROM image: a whole number of 4 KiB pages, at most 1 MiB.
        file: String,
        /// I/O port whose writes are reported as POST codes (decimal or 0x-prefixed hex).
        #[arg(long, value_name = "PORT", default_value = "0x190", value_parser = parse_port)]
        post_port: u16,
        /// Stop with exit status 2 after this many instructions.
        #[arg(long, value_name = "N")]
        max_instructions: Option<u64>,
        /// At the end, print instructions retired and guest MIPS (millions of guest
        /// instructions per second of wall time) on stderr.
        #[arg(long)]
        stats: bool,
    },
    #[cfg(not(target_arch = "wasm32"))]
    Boot(boot_command::BootArgs),
    /// Work with disk images in the chunked layout (`image pack`).
    Image(image_cmd::ImageArgs),
}

fn parse_port(text: &str) -> Result<u16, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u16::from_str_radix(hex, 16),
        None => text.parse(),
    };
    parsed.map_err(|e| format!("not a port number (0-65535 or 0x0-0xFFFF): {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        #[cfg(not(target_arch = "wasm32"))]
        Command::Boot(args) => boot_command::run(args),
        Command::Image(args) => image_cmd::run(args),
        Command::Rom {
            file,
            post_port,
            max_instructions,
            stats,
        } => run_rom_command(&file, post_port, max_instructions, stats),
    }
}

/// `webx86 rom`: runs the ROM in `file` to its end and reports how it ended.
fn run_rom_command(file: &str, post_port: u16, max: Option<u64>, stats: bool) -> ExitCode {
    let image = match load_rom(file) {
        Ok(image) => image,
        Err(e) => {
            eprintln!("webx86: {e}");
            return ExitCode::from(1);
        }
    };
    let mut cpu = rom_cpu(&image, StdioOutput::default(), post_port);
    let started = Instant::now();
    let end = run_rom(&mut cpu, max.unwrap_or(u64::MAX));
    let secs = started.elapsed().as_secs_f64();
    let retired = cpu.state.retired;
    // Dropping the CPU flushes the guest's buffered stdout before any message below.
    drop(cpu);
    if stats {
        eprintln!(
            "webx86: {retired} instructions retired in {secs:.3} s, {:.1} guest MIPS",
            retired as f64 / secs.max(1e-9) / 1e6
        );
    }
    match end {
        RomEnd::Halted => ExitCode::SUCCESS,
        RomEnd::Budget => {
            eprintln!(
                "webx86: {file}: stopped after {retired} instructions (--max-instructions) \
                 without halting"
            );
            ExitCode::from(EXIT_BUDGET)
        }
        RomEnd::IdleForever => {
            eprintln!(
                "webx86: {file}: the CPU halted with interrupts enabled after {retired} \
                 instructions; nothing in a ROM run can wake it"
            );
            ExitCode::from(1)
        }
        RomEnd::Shutdown => {
            eprintln!(
                "webx86: {file}: the CPU shut down after a triple fault ({retired} instructions)"
            );
            ExitCode::from(1)
        }
    }
}
