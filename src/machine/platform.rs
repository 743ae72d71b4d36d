//! The PC's wiring: which device answers which port, which IRQ line each drives, and how they
//! all get time. This is the one file that knows the devices; the rest of the machine sees a
//! [`PcPlatform`] through the CPU's `Platform` trait and a few methods for the front end.

use std::collections::VecDeque;

use webx86_cpu::{Platform, PlatformRequest};
use webx86_devices::pic::DualPic;
use webx86_devices::{PortBus, PortIo, PortWidth};

use super::clock::{Clock, Nanos};

/// The devices behind the port bus, named by what they are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PortDevice {
    PicMaster,
    PicSlave,
    Elcr,
}

/// The port-mapped devices of the PC.
struct Devices {
    pic: DualPic,
}

impl Devices {
    fn read(&mut self, device: PortDevice, offset: u16, size: u8) -> u32 {
        match device {
            PortDevice::PicMaster => self.pic.master().read(offset, size),
            PortDevice::PicSlave => self.pic.slave().read(offset, size),
            PortDevice::Elcr => self.pic.elcr().read(offset, size),
        }
    }

    fn write(&mut self, device: PortDevice, offset: u16, size: u8, value: u32) {
        match device {
            PortDevice::PicMaster => self.pic.master().write(offset, size, value),
            PortDevice::PicSlave => self.pic.slave().write(offset, size, value),
            PortDevice::Elcr => self.pic.elcr().write(offset, size, value),
        }
    }

    /// Brings the timers up to `now` and raises the interrupts that came due.
    fn advance(&mut self, _now: Nanos) {}

    /// The next time a device will raise an interrupt by itself, if any is scheduled.
    fn next_event(&self) -> Option<Nanos> {
        None
    }
}

/// The platform the CPU sees: the port bus and devices, the interrupt controller, the clock,
/// and the console's byte queues.
pub struct PcPlatform {
    bus: PortBus<PortDevice>,
    devices: Devices,
    pub(super) clock: Clock,
    /// Requests for the CPU (A20, reset) from the last port write.
    requests: VecDeque<PlatformRequest>,
    /// Bytes the guest sent on the serial console, not yet taken by the front end.
    console_out: Vec<u8>,
    /// Bytes typed on the console, not yet accepted by the UART.
    console_in: VecDeque<u8>,
    /// Diagnostics for the front end (unknown ports, once each).
    log: Vec<String>,
}

impl PcPlatform {
    pub fn new(clock: Clock) -> Self {
        let mut bus = PortBus::new();
        let windows = [
            (DualPic::MASTER_PORT, 2, PortDevice::PicMaster),
            (DualPic::SLAVE_PORT, 2, PortDevice::PicSlave),
            (DualPic::ELCR_PORT, 2, PortDevice::Elcr),
        ];
        for (base, len, device) in windows {
            // The windows above are fixed and disjoint; a failure is a wiring bug.
            bus.insert(base, len, device, PortWidth::Byte)
                .unwrap_or_else(|e| panic!("PC port wiring: {e}"));
        }
        Self {
            bus,
            devices: Devices {
                pic: DualPic::new(),
            },
            clock,
            requests: VecDeque::new(),
            console_out: Vec::new(),
            console_in: VecDeque::new(),
            log: Vec::new(),
        }
    }

    /// Brings the devices up to guest time for `retired` instructions; returns that time.
    pub fn sync(&mut self, retired: u64) -> Nanos {
        let now = self.clock.now(retired);
        self.devices.advance(now);
        now
    }

    /// When a device next raises an interrupt by itself.
    pub fn next_event(&self) -> Option<Nanos> {
        self.devices.next_event()
    }

    /// Whether an interrupt is waiting for the CPU.
    pub fn interrupt_requested(&self) -> bool {
        self.devices.pic.intr()
    }

    /// Queues bytes typed on the serial console.
    pub fn send_console_input(&mut self, bytes: &[u8]) {
        self.console_in.extend(bytes);
    }

    /// Takes what the guest wrote to the serial console since the last call.
    pub fn take_console_output(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.console_out)
    }

    /// Takes diagnostics (unknown ports, ...) for the front end to show.
    pub fn take_log(&mut self) -> Vec<String> {
        for notice in self.bus.take_notices() {
            self.log.push(notice.to_string());
        }
        std::mem::take(&mut self.log)
    }
}

impl Platform for PcPlatform {
    fn io_read(&mut self, port: u16, size: u8) -> u32 {
        let Self { bus, devices, .. } = self;
        bus.read_with(port, size, |device, offset, size| {
            devices.read(device, offset, size)
        })
    }

    fn io_write(&mut self, port: u16, size: u8, value: u32) {
        let Self { bus, devices, .. } = self;
        bus.write_with(port, size, value, |device, offset, size, value| {
            devices.write(device, offset, size, value)
        });
    }

    fn interrupt_pending(&mut self) -> bool {
        self.devices.pic.intr()
    }

    fn acknowledge_interrupt(&mut self) -> Option<u8> {
        Some(self.devices.pic.acknowledge())
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
}
