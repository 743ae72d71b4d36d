//! The PC platform as the CPU sees it: the legacy chipset (`webx86_devices::Chipset`: PIC, PIT,
//! RTC, COM1, i8042, system ports, PCI host bridge, with their IRQ wiring), the clock every
//! device reads, the serial console's queues, and the chipset's A20 and reset outputs turned
//! into requests for the CPU. This is the one file that knows the devices.

use std::collections::VecDeque;

use webx86_cpu::{Platform, PlatformRequest};
use webx86_devices::{Chipset, ChipsetConfig};

use super::clock::{Clock, Nanos};

/// The platform the CPU sees.
pub struct PcPlatform {
    chipset: Chipset,
    pub(super) clock: Clock,
    /// Guest time of the last sync: port accesses happen at this time.
    now: Nanos,
    /// The A20 gate as last handed to the CPU.
    a20: bool,
    /// Requests for the CPU (A20, reset) from the last port write.
    requests: VecDeque<PlatformRequest>,
    /// Bytes typed on the console that COM1's receive FIFO had no room for yet.
    console_in: VecDeque<u8>,
    /// Diagnostics for the front end (unknown ports, once each).
    log: Vec<String>,
}

impl PcPlatform {
    /// The chipset at time 0 with `ram_bytes` of RAM (for the CMOS), the RTC showing
    /// `rtc_unix_time` then, and the A20 gate open as firmware leaves it.
    pub fn new(clock: Clock, ram_bytes: u32, rtc_unix_time: i64) -> Self {
        let chipset = Chipset::new(&ChipsetConfig {
            rtc_unix_time,
            ram_bytes: u64::from(ram_bytes),
            a20_enabled: true,
        });
        Self {
            a20: chipset.a20_enabled(),
            chipset,
            clock,
            now: 0,
            requests: VecDeque::new(),
            console_in: VecDeque::new(),
            log: Vec::new(),
        }
    }

    /// Brings the devices up to guest time for `retired` instructions and hands COM1 what it
    /// can take of the typed input; returns the time.
    pub fn sync(&mut self, retired: u64) -> Nanos {
        self.now = self.clock.now(retired);
        self.chipset.advance(self.now);
        if !self.console_in.is_empty() {
            let (front, _) = self.console_in.as_slices();
            let taken = self.chipset.serial_input(front, self.now);
            self.console_in.drain(..taken);
        }
        self.now
    }

    /// When a device next changes an interrupt line by itself.
    pub fn next_event(&self) -> Option<Nanos> {
        self.chipset.next_event_ns()
    }

    /// Whether an interrupt is waiting for the CPU.
    pub fn interrupt_requested(&self) -> bool {
        self.chipset.intr()
    }

    /// Queues bytes typed on the serial console; COM1 gets them as its FIFO has room.
    pub fn send_console_input(&mut self, bytes: &[u8]) {
        self.console_in.extend(bytes);
    }

    /// Typed bytes COM1 has not taken yet.
    pub fn console_input_pending(&self) -> usize {
        self.console_in.len()
    }

    /// What the guest sent on the serial console (COM1, ttyS0) since the last call.
    pub fn take_console_output(&mut self) -> Vec<u8> {
        self.chipset.take_serial_output()
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
        self.chipset.intr()
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
}

/// The IRQ of the x87's FERR# output on a PC.
const FPU_ERROR_IRQ: u8 = 13;
