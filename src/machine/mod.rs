//! The PC: one CPU with its memory, the platform devices and the clock, run in time slices.
//!
//! The front end (the native `webx86 boot` command, the browser worker, tests) calls
//! [`Machine::run_slice`] in a loop, moving console bytes in and out between slices. A slice
//! ends at the next device event (a timer interrupt) or after [`SLICE_NS`] of guest time,
//! whichever is first, so device interrupts arrive on time without checking the clock on every
//! instruction. When the guest idles in HLT, a deterministic machine jumps its clock to the next
//! event; a realtime one reports [`SliceEnd::Idle`] and lets the host wait.

pub mod clock;
mod platform;
mod virtio;

use webx86_bios::{enter_linux, load_linux, BootError, Image, LinuxBoot};
use webx86_cpu::mmu::{Mmu, PhysAddr, PhysMemory};
use webx86_cpu::{Cpu, RunExit};
use webx86_devices::virtio::{EntropySource, VirtioSetError, PCI_HOLE_BASE, PCI_HOLE_LEN};
use webx86_disk::BlockBackend;

pub use clock::{Clock, HostClock, Nanos};
pub use platform::PcPlatform;
pub use virtio::HashDrbg;

/// Guest time one slice runs at most.
pub const SLICE_NS: Nanos = 2_000_000;
/// How long an idle guest with device work in flight waits before the next poll.
const IDLE_POLL_NS: Nanos = 200_000;
/// Largest memory size: 3.5 GiB, below the PCI hole at 0xE0000000.
pub const MAX_MEM_MIB: u32 = 3584;
/// Smallest memory size the PC model accepts (the legacy first MiB plus some).
pub const MIN_MEM_MIB: u32 = 2;

/// The default kernel command line: the serial console, and the bare PC webx86 models (8259
/// PIC and 8254 PIT, no ACPI or local APIC, PCI without MSI). Measured on Debian's 686 kernel
/// with the busybox initramfs, deterministic mode, instructions to the shell prompt: 4.40 G
/// with only those; `cryptomgr.notests` (no crypto self-tests) 0.72 G; `noisapnp` (no ISA PnP
/// probe, which busy-waits) 0.37 G. `tsc=reliable` changed nothing (the TSC calibrates against
/// the PIT cleanly on one clock).
pub const DEFAULT_CMDLINE: &str =
    "console=ttyS0 acpi=off nolapic pci=nomsi cryptomgr.notests noisapnp";

/// How a slice ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SliceEnd {
    /// The guest ran; call again.
    Ran,
    /// The CPU halted waiting for an interrupt and no device has one due before `until`
    /// (`None`: none is scheduled at all, only input can wake it). The host may wait until
    /// then or until input arrives; calling again at once is also correct.
    Idle { until: Option<Nanos> },
    /// HLT with interrupts disabled: nothing can wake the CPU. This is how Linux ends a
    /// power-off on a PC without ACPI power management ("System halted").
    PoweredOff,
    /// The guest asked for a reset (reboot).
    ResetRequested,
    /// Triple fault: the CPU shut down.
    TripleFault,
}

/// What the RTC shows at power-on unless told otherwise: 2024-01-01 00:00:00 UTC (a fixed
/// time keeps deterministic runs identical; front ends in realtime mode pass the host's time).
pub const DEFAULT_RTC_UNIX_TIME: i64 = 1_704_067_200;

/// Machine options chosen at creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MachineConfig {
    /// RAM in MiB ([`MIN_MEM_MIB`]..=[`MAX_MEM_MIB`]).
    pub mem_mib: u32,
    /// The RTC's date and time at power-on, in Unix seconds.
    pub rtc_unix_time: i64,
}

impl Default for MachineConfig {
    fn default() -> Self {
        Self {
            mem_mib: 128,
            rtc_unix_time: DEFAULT_RTC_UNIX_TIME,
        }
    }
}

/// A PC: CPU, memory, devices and clock.
pub struct Machine {
    /// Boxed so its state never moves (the JIT bakes its address into code).
    cpu: Box<Cpu>,
}

impl Machine {
    /// A powered-on PC with `config.mem_mib` of RAM (clamped to the supported range), time
    /// from `clock`. The CPU is at its reset vector with no firmware: load something next.
    pub fn new(config: MachineConfig, clock: Clock) -> Self {
        let mem = config.mem_mib.clamp(MIN_MEM_MIB, MAX_MEM_MIB) << 20;
        let platform = PcPlatform::new(clock, mem, config.rtc_unix_time);
        let mut phys = PhysMemory::new(mem);
        // The virtio functions' BARs live in the PCI hole above the largest RAM size.
        phys.map_mmio(
            PhysAddr(PCI_HOLE_BASE),
            PCI_HOLE_LEN,
            platform.virtio_mmio_window(),
        );
        let mmu = Mmu::new(phys);
        let mut cpu = Box::new(Cpu::new(mmu, Box::new(platform)));
        cpu.reset();
        Self { cpu }
    }

    /// Loads a Linux kernel (bzImage), an optional initrd and a command line, and points the
    /// CPU at the kernel. The kernel is decompressed on the host when it can be (that saves
    /// about 2.3 G guest instructions on Debian's 686 kernel); see [`Machine::boot_linux_with`].
    pub fn boot_linux(
        &mut self,
        kernel: Image,
        initrd: Option<Image>,
        cmdline: &str,
    ) -> Result<LinuxBoot, BootError> {
        self.boot_linux_with(kernel, initrd, cmdline, true)
    }

    /// [`Machine::boot_linux`], choosing whether the host decompresses the kernel
    /// (`host_decompress`) or the bzImage's own decompressor runs in the guest.
    pub fn boot_linux_with(
        &mut self,
        kernel: Image,
        initrd: Option<Image>,
        cmdline: &str,
        host_decompress: bool,
    ) -> Result<LinuxBoot, BootError> {
        let boot = load_linux(
            &mut self.cpu.mmu.phys,
            kernel,
            initrd,
            cmdline,
            host_decompress,
        )?;
        enter_linux(&mut self.cpu, &boot);
        Ok(boot)
    }

    /// Plugs a disk in as virtio-blk (`/dev/vda` to Linux). Call before booting.
    pub fn attach_disk(&mut self, backend: Box<dyn BlockBackend>) -> Result<(), VirtioSetError> {
        self.platform().attach_disk(backend)
    }

    /// Gives virtio-rng the host's entropy (by default it hands out a fixed-seed stream,
    /// which keeps deterministic runs identical).
    pub fn set_entropy(&mut self, source: Box<dyn EntropySource>) {
        self.platform().set_entropy(source);
    }

    /// Queues bytes typed on the console (see [`PcPlatform::send_console_input`]).
    pub fn send_console_input(&mut self, bytes: &[u8]) {
        self.platform().send_console_input(bytes);
    }

    /// What the guest wrote on the console since the last call: the serial port until the
    /// guest opens the virtio console, then that (see [`PcPlatform::take_console_output`]).
    pub fn take_console_output(&mut self) -> Vec<u8> {
        self.platform().take_console_output()
    }

    /// Tells the virtio console the terminal's size.
    pub fn set_console_size(&mut self, cols: u16, rows: u16) {
        self.platform().set_console_size(cols, rows);
    }

    /// The platform (devices, clock, console queues).
    pub fn platform(&mut self) -> &mut PcPlatform {
        // The CPU was built with a PcPlatform in `new` and it is never replaced.
        self.cpu
            .platform_mut::<PcPlatform>()
            .expect("the machine's CPU runs on its PcPlatform")
    }

    pub fn cpu(&self) -> &Cpu {
        &self.cpu
    }

    /// The CPU, for debuggers and tests.
    pub fn cpu_mut(&mut self) -> &mut Cpu {
        &mut self.cpu
    }

    /// Instructions retired since power-on.
    pub fn retired(&self) -> u64 {
        self.cpu.state.retired
    }

    /// Guest time now.
    pub fn now(&mut self) -> Nanos {
        let retired = self.cpu.state.retired;
        self.platform().clock.now(retired)
    }

    /// The platform and guest memory together, for device DMA.
    fn platform_and_memory(&mut self) -> (&mut PcPlatform, &mut PhysMemory) {
        let cpu = &mut *self.cpu;
        let platform: &mut dyn core::any::Any = cpu.platform.as_mut();
        let platform = platform
            .downcast_mut::<PcPlatform>()
            .expect("the machine's CPU runs on its PcPlatform");
        (platform, &mut cpu.mmu.phys)
    }

    /// Lets the virtio functions complete disk requests and move console bytes.
    fn poll_devices(&mut self) {
        let (platform, mem) = self.platform_and_memory();
        platform.poll_virtio(mem);
    }

    /// Runs the guest until the next device event, for at most [`SLICE_NS`].
    pub fn run_slice(&mut self) -> SliceEnd {
        self.poll_devices();
        let retired = self.cpu.state.retired;
        let platform = self.platform();
        let now = platform.sync(retired);
        let length = platform
            .next_event()
            .map_or(SLICE_NS, |event| event.saturating_sub(now).min(SLICE_NS));
        let budget = platform.clock.begin_slice(retired, length);
        match self.cpu.run(budget) {
            RunExit::Budget => {
                let ran = self.cpu.state.retired - retired;
                self.platform().clock.end_busy_slice(ran);
                SliceEnd::Ran
            }
            RunExit::Idle => self.idle(),
            RunExit::HaltedForever => SliceEnd::PoweredOff,
            RunExit::Reset => SliceEnd::ResetRequested,
            RunExit::Shutdown => SliceEnd::TripleFault,
        }
    }

    /// The CPU halted with interrupts enabled and none pending: move time on to the next
    /// device event (deterministic mode), or as far as the host's clock allows (realtime).
    fn idle(&mut self) -> SliceEnd {
        self.poll_devices();
        let retired = self.cpu.state.retired;
        let platform = self.platform();
        platform.sync(retired);
        if platform.interrupt_requested() {
            return SliceEnd::Ran;
        }
        if platform.virtio_busy() {
            // A disk request in flight (a chunk being fetched) or console input: poll again
            // soon rather than sleeping to the next timer tick.
            let until = platform.now.saturating_add(IDLE_POLL_NS);
            let next = platform
                .next_event()
                .map_or(until, |event| event.min(until));
            return SliceEnd::Idle { until: Some(next) };
        }
        let next = platform.next_event();
        let reached = match next {
            Some(until) => platform.clock.idle_until(retired, until),
            None => {
                platform.clock.idle_with_host(retired);
                false
            }
        };
        platform.sync(retired);
        if reached || platform.interrupt_requested() {
            SliceEnd::Ran
        } else {
            SliceEnd::Idle { until: next }
        }
    }
}

#[cfg(test)]
mod tests;
