//! The PC platform as the CPU sees it: the legacy chipset (`webx86_devices::Chipset`: PIC, PIT,
//! RTC, COM1, i8042, system ports, PCI host bridge, with their IRQ wiring), the virtio
//! functions on PCI, the clock every device reads, the consoles' queues, and the chipset's A20
//! and reset outputs turned into requests for the CPU. This and `virtio.rs` are the files that
//! know the devices.

use std::collections::VecDeque;

use webx86_cpu::mmu::{Mmio, PhysMemory};
use webx86_cpu::{Platform, PlatformRequest};
use webx86_devices::virtio::{EntropySource, VirtioSetError};
use webx86_devices::{Chipset, ChipsetConfig};
use webx86_disk::BlockBackend;

use super::clock::{Clock, Nanos};
use super::virtio::VirtioDevices;

/// The platform the CPU sees.
pub struct PcPlatform {
    chipset: Chipset,
    virtio: VirtioDevices,
    pub(super) clock: Clock,
    /// Guest time of the last sync: port accesses happen at this time.
    pub(super) now: Nanos,
    /// The A20 gate as last handed to the CPU.
    a20: bool,
    /// Requests for the CPU (A20, reset) from the last port write.
    requests: VecDeque<PlatformRequest>,
    /// Bytes typed on the console that COM1's receive FIFO or hvc0 had no room for yet.
    console_in: VecDeque<u8>,
    /// Diagnostics for the front end (unknown ports, once each).
    log: Vec<String>,
}

impl PcPlatform {
    /// The chipset at time 0 with `ram_bytes` of RAM (for the CMOS), the RTC showing
    /// `rtc_unix_time` then, and the A20 gate open as firmware leaves it.
    pub fn new(clock: Clock, ram_bytes: u32, rtc_unix_time: i64) -> Self {
        let mut chipset = Chipset::new(&ChipsetConfig {
            rtc_unix_time,
            ram_bytes: u64::from(ram_bytes),
            a20_enabled: true,
        });
        let devices = &mut chipset.devices;
        // Two functions on an empty bus with free slots and IRQs: this cannot fail.
        let virtio = VirtioDevices::new(&mut devices.pci.bus, &mut devices.pic)
            .expect("the virtio console and rng fit on a fresh PCI bus");
        Self {
            a20: chipset.a20_enabled(),
            chipset,
            virtio,
            clock,
            now: 0,
            requests: VecDeque::new(),
            console_in: VecDeque::new(),
            log: Vec::new(),
        }
    }

    /// The virtio functions' MMIO window, to map over the PCI hole.
    pub fn virtio_mmio_window(&self) -> Box<dyn Mmio> {
        self.virtio.mmio_window()
    }

    /// Plugs in the virtio disk (`/dev/vda`).
    pub fn attach_disk(&mut self, backend: Box<dyn BlockBackend>) -> Result<(), VirtioSetError> {
        let devices = &mut self.chipset.devices;
        self.virtio
            .attach_disk(&mut devices.pci.bus, &mut devices.pic, backend)
    }

    /// Whether a virtio disk is attached.
    pub fn has_disk(&self) -> bool {
        self.virtio.has_disk()
    }

    /// Replaces virtio-rng's entropy source (a fixed-seed generator until then).
    pub fn set_entropy(&mut self, source: Box<dyn EntropySource>) {
        self.virtio.set_entropy(source);
    }

    /// Brings the devices up to guest time for `retired` instructions and hands the console
    /// what it can take of the typed input; returns the time.
    pub fn sync(&mut self, retired: u64) -> Nanos {
        self.now = self.clock.now(retired);
        self.chipset.advance(self.now);
        if !self.console_in.is_empty() {
            let (front, _) = self.console_in.as_slices();
            let taken = if self.virtio.hvc_active() {
                self.virtio.push_console_input(front)
            } else {
                self.chipset.serial_input(front, self.now)
            };
            self.console_in.drain(..taken);
        }
        self.now
    }

    /// Lets the virtio functions move data to and from guest RAM (requests, completions,
    /// console bytes) and drives their interrupt lines.
    pub fn poll_virtio(&mut self, mem: &mut PhysMemory) {
        self.virtio.poll(mem, &mut self.chipset.devices.pic);
    }

    /// Whether a virtio function has work for [`Self::poll_virtio`] (a disk request in flight,
    /// console input waiting).
    pub fn virtio_busy(&self) -> bool {
        self.virtio.needs_poll()
    }

    /// When a device next changes an interrupt line by itself.
    pub fn next_event(&self) -> Option<Nanos> {
        self.chipset.next_event_ns()
    }

    /// Whether an interrupt is waiting for the CPU.
    pub fn interrupt_requested(&mut self) -> bool {
        self.virtio.update_irqs(&mut self.chipset.devices.pic);
        self.chipset.intr()
    }

    /// Queues bytes typed on the console; the console (COM1 until the guest opens hvc0, then
    /// hvc0) takes them as it has room.
    pub fn send_console_input(&mut self, bytes: &[u8]) {
        self.console_in.extend(bytes);
    }

    /// Typed bytes the console has not taken yet.
    pub fn console_input_pending(&self) -> usize {
        self.console_in.len()
    }

    /// What the guest wrote on the console since the last call: the serial console (COM1,
    /// ttyS0) until the guest first writes to the virtio console (hvc0), then hvc0 only. Linux
    /// prints its messages on both when both are given with `console=`, so nothing is lost by
    /// switching, and a guest with only one of them still shows everything.
    pub fn take_console_output(&mut self) -> Vec<u8> {
        let serial = self.chipset.take_serial_output();
        let was_active = self.virtio.hvc_active();
        let hvc = self.virtio.take_console_output();
        if was_active {
            hvc
        } else if hvc.is_empty() {
            serial
        } else {
            // The switch: what the serial port said before hvc0 took over, then hvc0.
            let mut out = serial;
            out.extend_from_slice(&hvc);
            out
        }
    }

    /// Only what the guest wrote on the serial console (COM1) since the last call, whichever
    /// console is shown; for tests and logs. Do not mix with [`Self::take_console_output`].
    pub fn take_serial_output(&mut self) -> Vec<u8> {
        self.chipset.take_serial_output()
    }

    /// Changes the virtio console's window size.
    pub fn set_console_size(&mut self, cols: u16, rows: u16) {
        self.virtio.set_console_size(cols, rows);
    }

    /// What the guest wrote to the 0xE9 debug port since the last call.
    pub fn take_debug_output(&mut self) -> Vec<u8> {
        self.chipset.take_debug_output()
    }

    /// Diagnostics for the front end to show (the first access to each unknown port).
    pub fn take_log(&mut self) -> Vec<String> {
        for notice in self.chipset.take_notices() {
            self.log.push(notice.to_string());
        }
        self.log.extend(self.virtio.take_notices());
        std::mem::take(&mut self.log)
    }

    /// The chipset, for tests and snapshots.
    pub fn chipset(&mut self) -> &mut Chipset {
        &mut self.chipset
    }
}

impl Platform for PcPlatform {
    fn io_read(&mut self, port: u16, size: u8) -> u32 {
        self.chipset.io_read(port, size, self.now)
    }

    fn io_write(&mut self, port: u16, size: u8, value: u32) {
        self.chipset.io_write(port, size, value, self.now);
        let a20 = self.chipset.a20_enabled();
        if a20 != self.a20 {
            self.a20 = a20;
            self.requests.push_back(PlatformRequest::SetA20(a20));
        }
        if self.chipset.take_reset_request() {
            self.requests.push_back(PlatformRequest::Reset);
        }
    }

    fn interrupt_pending(&mut self) -> bool {
        self.interrupt_requested()
    }

    fn acknowledge_interrupt(&mut self) -> Option<u8> {
        Some(self.chipset.acknowledge())
    }

    fn timestamp(&mut self, retired: u64) -> u64 {
        Clock::tsc(self.clock.now(retired))
    }

    fn sync_time(&mut self, retired: u64) {
        self.sync(retired);
    }

    fn take_request(&mut self) -> Option<PlatformRequest> {
        self.requests.pop_front()
    }

    /// FERR# with CR0.NE clear: the PC routes it to IRQ 13 (an edge here; the port 0xF0 latch
    /// that DOS-era handlers clear is not modelled, and Linux runs with CR0.NE set).
    fn fpu_error(&mut self) {
        self.chipset.devices.pic.pulse_irq(FPU_ERROR_IRQ, false);
    }

    /// A queue notification (or another register write) reached a virtio function: act on
    /// it now. Linux's hvc driver spins after each notification until its buffer is used, so
    /// waiting for the slice end would burn guest time.
    fn mmio_written(&mut self, mem: &mut PhysMemory) {
        self.poll_virtio(mem);
    }
}

/// The IRQ of the x87's FERR# output on a PC.
const FPU_ERROR_IRQ: u8 = 13;
