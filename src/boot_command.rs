//! `webx86 boot`: boots a Linux kernel with the serial console on stdin/stdout.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use webx86::machine::clock::StdHostClock;
use webx86::machine::{Clock, Machine, MachineConfig, SliceEnd, DEFAULT_RTC_UNIX_TIME};
use webx86_bios::{BootError, Image};

use crate::host_console::{ConsoleInput, HostConsole};

/// The options of `webx86 boot`.
pub struct BootOptions {
    pub kernel: String,
    pub initrd: Option<String>,
    pub append: String,
    pub mem_mib: u32,
    pub deterministic: bool,
    pub stats: bool,
    pub guest_decompress: bool,
}

fn read_file(path: &str) -> Result<Vec<u8>, BootError> {
    std::fs::read(path).map_err(|source| BootError::Read {
        name: path.to_string(),
        source,
    })
}

/// Boots and runs the guest until it powers off, reboots or dies; returns the exit status.
pub fn run(options: BootOptions) -> ExitCode {
    let kernel = match read_file(&options.kernel) {
        Ok(bytes) => bytes,
        Err(e) => return fail(&e.to_string()),
    };
    let initrd = match options.initrd.as_deref().map(read_file).transpose() {
        Ok(bytes) => bytes,
        Err(e) => return fail(&e.to_string()),
    };
    let clock = if options.deterministic {
        Clock::deterministic()
    } else {
        Clock::realtime(Box::new(StdHostClock::default()))
    };
    let mut machine = Machine::new(
        MachineConfig {
            mem_mib: options.mem_mib,
            rtc_unix_time: if options.deterministic {
                DEFAULT_RTC_UNIX_TIME
            } else {
                host_unix_time()
            },
        },
        clock,
    );
    let cmdline = options.append.as_str();
    let initrd_image = match (&options.initrd, &initrd) {
        (Some(name), Some(bytes)) => Some(Image::new(name, bytes)),
        _ => None,
    };
    let kernel_image = Image::new(&options.kernel, &kernel);
    if let Err(e) = machine.boot_linux_with(
        kernel_image,
        initrd_image,
        cmdline,
        !options.guest_decompress,
    ) {
        return fail(&e.to_string());
    }

    let started = Instant::now();
    let mut console = HostConsole::open();
    let end = run_console(&mut machine, &mut console);
    let raw = console.raw_mode();
    drop(console);
    if raw {
        // The guest's last line may not end in a newline; start ours on a fresh line.
        eprintln!();
    }
    if options.stats {
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
        let output = machine.platform().take_console_output();
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
            machine.platform().send_console_input(&bytes);
            None
        }
        ConsoleInput::Quit => Some(ConsoleEnd::UserQuit),
        ConsoleInput::Closed => None,
    }
}
