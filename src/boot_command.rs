//! `webx86 boot`: boots a Linux guest (an image, or a bare kernel) with its console on
//! stdin/stdout.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use webx86::machine::clock::StdHostClock;
use webx86::machine::{
    Clock, HashDrbg, Machine, MachineConfig, SliceEnd, DEFAULT_CMDLINE, DEFAULT_RTC_UNIX_TIME,
};
use webx86_bios::{BootError, Image};
use webx86_devices::virtio::EntropySource;
use webx86_disk::BlockBackend;

use crate::guest_image::{
    default_overlay, ensure_default_image, open_image, GuestImage, GuestImageError,
};
use crate::host_console::{ConsoleInput, HostConsole};

/// `webx86 boot`'s arguments.
#[derive(Args)]
#[command(
    about = "Boot a Linux guest: the default Debian image, an image folder, or a kernel",
    long_about = "Boot a Linux guest with its console on stdin/stdout.\n\n    With no arguments, boots the default Debian image (target/guest/debian, building it with \
    images/build-debian.sh the first time) with the guest's changes kept in \
    target/guest/debian.overlay. --image boots another image folder in the chunked layout \
    (`webx86 image pack`) with the kernel, initrd and command line its manifest names; its \
    disk is the guest's /dev/vda, under a copy-on-write overlay (--overlay FILE keeps the \
    changes; without it they live in memory until exit). --kernel alone boots a bzImage \
    directly with no disk.\n\n    The console is the serial port (ttyS0) until the guest opens the virtio console (hvc0), \
    then hvc0. On a terminal, type Ctrl-A x to quit (Ctrl-A Ctrl-A sends Ctrl-A); from a pipe, \
    bytes pass unchanged. Exits 0 when the guest powers off or reboots, 1 on a triple fault \
    or an image, kernel or initrd that cannot be used."
)]
pub struct BootArgs {
    /// An image folder in the chunked layout, or its manifest.json.
    #[arg(long, value_name = "DIR_OR_MANIFEST")]
    image: Option<PathBuf>,
    /// Keep the guest's disk writes in this file (created if missing); the image itself is
    /// never written. Reusing it on the next boot brings the changes back.
    #[arg(long, value_name = "FILE")]
    overlay: Option<PathBuf>,
    /// The kernel: a bzImage such as Debian's /boot/vmlinuz-*-686 (default with --image: the
    /// image's own).
    #[arg(long, value_name = "FILE")]
    kernel: Option<String>,
    /// An initrd or initramfs image (default with --image: the image's own).
    #[arg(long, value_name = "FILE")]
    initrd: Option<String>,
    /// The kernel command line (default: the image's, or for a bare kernel
    /// "console=ttyS0 acpi=off nolapic pci=nomsi cryptomgr.notests noisapnp").
    #[arg(long, value_name = "CMDLINE")]
    append: Option<String>,
    /// Guest RAM in MiB (2-3584).
    #[arg(long, value_name = "MiB", default_value_t = 256,
          value_parser = clap::value_parser!(u32).range(2..=3584))]
    mem: u32,
    /// Guest time from instructions retired instead of the host clock, and a fixed-seed
    /// entropy source: the same input gives the same output.
    #[arg(long)]
    deterministic: bool,
    /// At the end, print instructions retired, guest MIPS and guest time on stderr.
    #[arg(long)]
    stats: bool,
    /// Let the bzImage's own decompressor unpack the kernel in the guest, as the boot
    /// protocol has it, instead of unpacking it on the host (slower; for testing).
    #[arg(long)]
    guest_decompress: bool,
}

/// What to boot, resolved from the arguments.
struct Guest {
    kernel_name: String,
    kernel: Vec<u8>,
    initrd: Option<(String, Vec<u8>)>,
    cmdline: String,
    disk: Option<Box<dyn BlockBackend>>,
}

fn read_file(path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|source| {
        BootError::Read {
            name: path.to_string(),
            source,
        }
        .to_string()
    })
}

/// Resolves the arguments into a kernel, initrd, command line and disk.
fn resolve(args: &BootArgs) -> Result<Guest, String> {
    let image = match (&args.image, &args.kernel) {
        (Some(image), _) => Some((image.clone(), args.overlay.clone())),
        (None, Some(_)) => None,
        (None, None) => {
            let dir = ensure_default_image().map_err(|e| e.to_string())?;
            let overlay = args.overlay.clone().unwrap_or_else(default_overlay);
            eprintln!(
                "webx86: booting {}; the guest's changes are kept in {} (delete it to start afresh)",
                dir.display(),
                overlay.display()
            );
            Some((dir, Some(overlay)))
        }
    };
    if image.is_none() && args.overlay.is_some() {
        return Err(
            "--overlay needs a disk image (--image, or no --kernel for the default)".into(),
        );
    }
    if let Some((dir, None)) = &image {
        eprintln!(
            "webx86: booting {} with its disk writes kept in memory until exit (--overlay FILE keeps them)",
            dir.display()
        );
    }
    let opened = match &image {
        Some((dir, overlay)) => {
            Some(open_image(dir, overlay.as_deref()).map_err(|e| e.to_string())?)
        }
        None => None,
    };
    let (kernel_name, kernel) = match (&args.kernel, &opened) {
        (Some(path), _) => (path.clone(), read_file(path)?),
        (
            None,
            Some(GuestImage {
                kernel: Some(bytes),
                manifest_path,
                ..
            }),
        ) => (format!("the kernel of {manifest_path}"), bytes.clone()),
        (None, Some(image)) => {
            return Err(GuestImageError::NoKernel {
                manifest: image.manifest_path.clone(),
            }
            .to_string())
        }
        (None, None) => unreachable!("a boot without --kernel always has an image"),
    };
    let initrd = match (&args.initrd, &opened) {
        (Some(path), _) => Some((path.clone(), read_file(path)?)),
        (
            None,
            Some(GuestImage {
                initrd: Some(bytes),
                manifest_path,
                ..
            }),
        ) => Some((format!("the initrd of {manifest_path}"), bytes.clone())),
        _ => None,
    };
    let cmdline = match (&args.append, &opened) {
        (Some(append), _) => append.clone(),
        (None, Some(image)) => image.manifest.cmdline.clone(),
        (None, None) => DEFAULT_CMDLINE.to_string(),
    };
    Ok(Guest {
        kernel_name,
        kernel,
        initrd,
        cmdline,
        disk: opened.map(|image| image.disk),
    })
}

/// Boots and runs the guest until it powers off, reboots or dies; returns the exit status.
pub fn run(args: BootArgs) -> ExitCode {
    let guest = match resolve(&args) {
        Ok(guest) => guest,
        Err(message) => return fail(&message),
    };
    let clock = if args.deterministic {
        Clock::deterministic()
    } else {
        Clock::realtime(Box::new(StdHostClock::default()))
    };
    let mut machine = Machine::new(
        MachineConfig {
            mem_mib: args.mem,
            rtc_unix_time: if args.deterministic {
                DEFAULT_RTC_UNIX_TIME
            } else {
                host_unix_time()
            },
        },
        clock,
    );
    if !args.deterministic {
        machine.set_entropy(Box::new(HostEntropy));
    }
    if let Some(disk) = guest.disk {
        if let Err(e) = machine.attach_disk(disk) {
            return fail(&format!("could not attach the disk: {e}"));
        }
    }
    let initrd_image = guest
        .initrd
        .as_ref()
        .map(|(name, bytes)| Image::new(name, bytes));
    let kernel_image = Image::new(&guest.kernel_name, &guest.kernel);
    if let Err(e) = machine.boot_linux_with(
        kernel_image,
        initrd_image,
        &guest.cmdline,
        !args.guest_decompress,
    ) {
        return fail(&e.to_string());
    }

    let started = Instant::now();
    let mut console = HostConsole::open();
    if let Some((cols, rows)) = console.size() {
        machine.set_console_size(cols, rows);
    }
    let end = run_console(&mut machine, &mut console);
    let raw = console.raw_mode();
    drop(console);
    if raw {
        // The guest's last line may not end in a newline; start ours on a fresh line.
        eprintln!();
    }
    if args.stats {
        let secs = started.elapsed().as_secs_f64();
        let retired = machine.retired();
        let guest_secs = machine.now() as f64 / 1e9;
        eprintln!(
            "webx86: {retired} instructions in {secs:.3} s ({:.1} guest MIPS), {guest_secs:.3} s of guest time",
            retired as f64 / secs.max(1e-9) / 1e6
        );
    }
    match end {
        ConsoleEnd::Guest(SliceEnd::PoweredOff) => ExitCode::SUCCESS,
        ConsoleEnd::Guest(SliceEnd::ResetRequested) => {
            eprintln!("webx86: the guest asked for a reboot; stopping");
            ExitCode::SUCCESS
        }
        ConsoleEnd::Guest(_) => {
            let s = &machine.cpu().state;
            fail(&format!(
                "the guest CPU shut down after a triple fault (CS:EIP {:04x}:{:08x}, {} instructions)",
                s.segs[webx86_cpu::state::sreg::CS as usize].selector,
                s.eip,
                s.retired
            ))
        }
        ConsoleEnd::UserQuit => ExitCode::SUCCESS,
        ConsoleEnd::StuckIdle => {
            fail("the guest is idle with no timer running and the console input has ended")
        }
    }
}

/// virtio-rng's source natively: the host's CSPRNG through /dev/urandom.
struct HostEntropy;

impl EntropySource for HostEntropy {
    fn fill(&mut self, buf: &mut [u8]) {
        let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(buf));
        if let Err(e) = read {
            // No host entropy: the device must still hand out bytes, so fall back to a
            // generator seeded from the clock, and say so once.
            static WARNED: std::sync::Once = std::sync::Once::new();
            WARNED.call_once(|| {
                eprintln!(
                    "webx86: /dev/urandom: {e}; virtio-rng falls back to a clock-seeded generator"
                )
            });
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos());
            let mut seed = [0u8; 32];
            seed[..16].copy_from_slice(&nanos.to_le_bytes());
            HashDrbg::new(seed).fill(buf);
        }
    }
}

/// The host's wall-clock time for the RTC (realtime mode).
fn host_unix_time() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(DEFAULT_RTC_UNIX_TIME, |d| d.as_secs() as i64)
}

fn fail(message: &str) -> ExitCode {
    eprintln!("webx86: {message}");
    ExitCode::from(1)
}

enum ConsoleEnd {
    Guest(SliceEnd),
    UserQuit,
    StuckIdle,
}

/// The machine loop: slices, console bytes both ways, waiting when the guest idles.
fn run_console(machine: &mut Machine, console: &mut HostConsole) -> ConsoleEnd {
    let mut stdout = std::io::stdout().lock();
    loop {
        while let Some(input) = console.poll() {
            if let Some(end) = take_input(machine, input) {
                return end;
            }
        }
        let end = machine.run_slice();
        let output = machine.take_console_output();
        if !output.is_empty() {
            let _ = stdout.write_all(&output);
            let _ = stdout.flush();
        }
        let debug = machine.platform().take_debug_output();
        if !debug.is_empty() {
            let _ = std::io::stderr().write_all(&debug);
        }
        for line in machine.platform().take_log() {
            eprintln!("webx86: {line}");
        }
        match end {
            SliceEnd::Ran => {}
            SliceEnd::Idle { until } => {
                if until.is_none() && console.closed() {
                    return ConsoleEnd::StuckIdle;
                }
                // Realtime guest time is host time: wait until the next event or input.
                let timeout = until.map(|t| Duration::from_nanos(t.saturating_sub(machine.now())));
                if let Some(input) = console.wait(timeout) {
                    if let Some(end) = take_input(machine, input) {
                        return end;
                    }
                }
            }
            end => return ConsoleEnd::Guest(end),
        }
    }
}

fn take_input(machine: &mut Machine, input: ConsoleInput) -> Option<ConsoleEnd> {
    match input {
        ConsoleInput::Bytes(bytes) => {
            machine.send_console_input(&bytes);
            None
        }
        ConsoleInput::Quit => Some(ConsoleEnd::UserQuit),
        ConsoleInput::Closed => None,
    }
}
