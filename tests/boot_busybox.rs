//! Boots Debian's stock 686 kernel with the busybox initramfs that
//! `images/busybox-initramfs.sh` builds (in `target/guest/`, or `$WEBX86_GUEST_DIR`), in
//! deterministic mode, and drives its serial console as a person or a script would.
//!
//! A Linux boot is billions of guest instructions: a debug build only lists these tests as
//! ignored. Run them with `cargo test --release --test boot_busybox` after building the guest.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use webx86::machine::{Clock, Machine, MachineConfig, SliceEnd, DEFAULT_CMDLINE};
use webx86_bios::Image;

/// The prompt the initramfs's /init sets (PS1='webx86:\w# ').
const PROMPT: &str = "webx86:/# ";
/// Wall-clock limits: booting to the shell, and one command.
const BOOT_TIMEOUT: Duration = Duration::from_secs(300);
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

fn guest_files() -> Option<(PathBuf, PathBuf)> {
    let dir = std::env::var_os("WEBX86_GUEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/guest"));
    let kernel = dir.join("vmlinuz");
    let initrd = dir.join("busybox-initramfs.cpio.gz");
    if kernel.is_file() && initrd.is_file() {
        Some((kernel, initrd))
    } else {
        eprintln!(
            "skipped: {} or {} is missing; build them with images/busybox-initramfs.sh",
            kernel.display(),
            initrd.display()
        );
        None
    }
}

/// `webx86 boot` as a child process, its console read on a thread.
struct Console {
    child: Child,
    stdin: ChildStdin,
    chunks: Receiver<Vec<u8>>,
    /// Everything the guest printed so far.
    text: String,
    /// How much of `text` earlier waits consumed.
    seen: usize,
}

impl Console {
    fn boot(kernel: &PathBuf, initrd: &PathBuf) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_webx86"))
            .args(["boot", "--deterministic", "--kernel"])
            .arg(kernel)
            .arg("--initrd")
            .arg(initrd)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start webx86");
        let stdin = child.stdin.take().expect("piped stdin");
        let mut stdout = child.stdout.take().expect("piped stdout");
        let (send, chunks) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdout.read(&mut buf) {
                if n == 0 || send.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin,
            chunks,
            text: String::new(),
            seen: 0,
        }
    }

    /// Waits until the console shows `needle` after what earlier waits consumed; returns the
    /// text up to and including it.
    fn wait_for(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(at) = self.text[self.seen..].find(needle) {
                let end = self.seen + at + needle.len();
                let found = self.text[self.seen..end].to_string();
                self.seen = end;
                return found;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.text.push_str(&String::from_utf8_lossy(&chunk)),
                Err(RecvTimeoutError::Timeout) => {
                    let _ = self.child.kill();
                    panic!("no {needle:?} within {timeout:?}; console:\n{}", self.text)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait();
                    panic!(
                        "webx86 ended ({status:?}) before {needle:?}; console:\n{}",
                        self.text
                    )
                }
            }
        }
    }

    /// Types `command` and returns its output (up to the next prompt).
    fn run(&mut self, command: &str) -> String {
        self.stdin
            .write_all(format!("{command}\n").as_bytes())
            .expect("write to the console");
        self.stdin.flush().expect("flush the console");
        self.wait_for(PROMPT, COMMAND_TIMEOUT)
    }
}

/// IRQ 0's count in a `/proc/interrupts` listing.
fn timer_interrupts(listing: &str) -> u64 {
    let line = listing
        .lines()
        .find(|l| l.trim_start().starts_with("0:"))
        .unwrap_or_else(|| panic!("no IRQ 0 line in:\n{listing}"));
    assert!(line.contains("timer"), "IRQ 0 is not the timer: {line}");
    line.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {line}"))
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "billions of guest instructions: run with `cargo test --release --test boot_busybox`"
)]
fn busybox_shell_on_the_serial_console() {
    let Some((kernel, initrd)) = guest_files() else {
        return;
    };
    let mut console = Console::boot(&kernel, &initrd);
    let boot_log = console.wait_for(PROMPT, BOOT_TIMEOUT);
    assert!(boot_log.contains("Linux version 6."), "{boot_log}");
    assert!(boot_log.contains("webx86 busybox initramfs"), "{boot_log}");

    let uname = console.run("uname -a");
    assert!(uname.contains("i686"), "{uname}");

    let cpuinfo = console.run("cat /proc/cpuinfo");
    let flags = cpuinfo
        .lines()
        .find(|l| l.starts_with("flags"))
        .unwrap_or_else(|| panic!("no flags line in:\n{cpuinfo}"));
    for flag in ["fpu", "cmov", "sse", "sse2"] {
        assert!(
            flags.split_whitespace().any(|f| f == flag),
            "no {flag} in {flags}"
        );
    }

    let first = timer_interrupts(&console.run("cat /proc/interrupts"));
    console.run("sleep 1");
    let second = timer_interrupts(&console.run("cat /proc/interrupts"));
    assert!(
        second > first,
        "the timer is not ticking: {first} then {second}"
    );

    console
        .stdin
        .write_all(b"poweroff -f\n")
        .expect("write to the console");
    drop(console.stdin);
    let status = console.child.wait().expect("wait for webx86");
    assert!(status.success(), "poweroff ended webx86 with {status}");
}

/// Runs a machine in process until its console shows `needle`; returns all console output.
fn boot_in_process(kernel: &PathBuf, initrd: &PathBuf, needle: &str) -> Vec<u8> {
    let kernel_bytes = std::fs::read(kernel).expect("read the kernel");
    let initrd_bytes = std::fs::read(initrd).expect("read the initrd");
    let mut machine = Machine::new(MachineConfig::default(), Clock::deterministic());
    let (kernel_name, initrd_name) = (kernel.display().to_string(), initrd.display().to_string());
    machine
        .boot_linux(
            Image::new(&kernel_name, &kernel_bytes),
            Some(Image::new(&initrd_name, &initrd_bytes)),
            DEFAULT_CMDLINE,
        )
        .expect("load the kernel");
    let started = Instant::now();
    let mut output = Vec::new();
    loop {
        let end = machine.run_slice();
        output.extend(machine.platform().take_console_output());
        if String::from_utf8_lossy(&output).contains(needle) {
            return output;
        }
        assert!(
            matches!(end, SliceEnd::Ran) && started.elapsed() < BOOT_TIMEOUT,
            "{end:?} after {:?} before {needle:?}; console:\n{}",
            started.elapsed(),
            String::from_utf8_lossy(&output)
        );
    }
}

#[test]
#[cfg_attr(
    debug_assertions,
    ignore = "billions of guest instructions: run with `cargo test --release --test boot_busybox`"
)]
fn deterministic_boots_print_the_same_bytes() {
    let Some((kernel, initrd)) = guest_files() else {
        return;
    };
    let first = boot_in_process(&kernel, &initrd, PROMPT);
    let second = boot_in_process(&kernel, &initrd, PROMPT);
    assert!(
        first == second,
        "two deterministic boots differ:\n{}\n---\n{}",
        String::from_utf8_lossy(&first),
        String::from_utf8_lossy(&second)
    );
}
