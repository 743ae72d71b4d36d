//! The legacy PC chipset assembled: every device of this crate on one port bus, with the
//! wiring between them (PIT OUT0 → IRQ 0, i8042 → IRQ 1/12, COM1 → IRQ 4, RTC → IRQ 8, port 0x61
//! ↔ PIT channel 2) done here so the machine only moves time, port I/O and interrupts.

use serde::{Deserialize, Serialize};

use crate::bus::{PortBus, PortBusError, PortIo, PortWidth, UnknownPortNotice};
use crate::i8042::I8042;
use crate::pci::{PciBus, PciHost, PciHostState};
use crate::pic::DualPic;
use crate::pit::Pit;
use crate::rtc::Rtc;
use crate::system_ports::{DebugPort, FastA20Port, PostPort, SystemControlB};
use crate::uart::Uart16550;

/// How the machine sets the chipset up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChipsetConfig {
    /// Wall-clock time (Unix seconds) the RTC shows at machine time 0.
    pub rtc_unix_time: i64,
    /// Guest RAM size, for the CMOS memory-size bytes.
    pub ram_bytes: u64,
    /// Open the A20 gate (through port 0x92) as firmware does before a protected-mode kernel.
    pub a20_enabled: bool,
}

/// Which device a port window belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Port {
    PicMaster,
    PicSlave,
    Elcr,
    Pit,
    SystemControlB,
    KbdData,
    KbdCommand,
    Rtc,
    Com1,
    FastA20,
    Post,
    Debug,
    PciHost,
    Extra(usize),
}

/// The chipset's devices, public so the machine (and tests) can reach each one directly.
pub struct LegacyDevices {
    pub pic: DualPic,
    pub pit: Pit,
    pub rtc: Rtc,
    pub com1: Uart16550,
    pub i8042: I8042,
    pub port61: SystemControlB,
    pub port92: FastA20Port,
    pub post: PostPort,
    pub debug: DebugPort,
    pub pci: PciHost,
    /// Devices added with [`Chipset::add_port_device`].
    pub extra: Vec<Box<dyn PortIo>>,
}

impl LegacyDevices {
    fn read(&mut self, key: Port, off: u16, size: u8, now_ns: u64) -> u32 {
        match key {
            Port::PicMaster => self.pic.master().read(off, size),
            Port::PicSlave => self.pic.slave().read(off, size),
            Port::Elcr => self.pic.elcr().read(off, size),
            Port::Pit => self.pit.read(off, size),
            Port::SystemControlB => self.port61.read(self.pit.out(2), now_ns) as u32,
            Port::KbdData => self.i8042.read(0, size),
            Port::KbdCommand => self.i8042.read(4, size),
            Port::Rtc => self.rtc.read(off, size),
            Port::Com1 => self.com1.read(off, size),
            Port::FastA20 => self.port92.read(off, size),
            Port::Post => self.post.read(off, size),
            Port::Debug => self.debug.read(off, size),
            Port::PciHost => self.pci.read(off, size),
            Port::Extra(i) => self.extra[i].read(off, size),
        }
    }

    fn write(&mut self, key: Port, off: u16, size: u8, value: u32) {
        match key {
            Port::PicMaster => self.pic.master().write(off, size, value),
            Port::PicSlave => self.pic.slave().write(off, size, value),
            Port::Elcr => self.pic.elcr().write(off, size, value),
            Port::Pit => self.pit.write(off, size, value),
            Port::SystemControlB => {
                let gate = self.port61.write(value as u8);
                self.pit.set_gate(2, gate);
            }
            Port::KbdData => self.i8042.write(0, size, value),
            Port::KbdCommand => self.i8042.write(4, size, value),
            Port::Rtc => self.rtc.write(off, size, value),
            Port::Com1 => self.com1.write(off, size, value),
            Port::FastA20 => self.port92.write(off, size, value),
            Port::Post => self.post.write(off, size, value),
            Port::Debug => self.debug.write(off, size, value),
            Port::PciHost => self.pci.write(off, size, value),
            Port::Extra(i) => self.extra[i].write(off, size, value),
        }
    }

    /// Drives the PIC inputs from the devices' outputs.
    fn route_irqs(&mut self) {
        let out0 = self.pit.out(0);
        if self.pit.take_irq0_edge() {
            self.pic.pulse_irq(Pit::IRQ, out0);
        } else {
            self.pic.set_irq(Pit::IRQ, out0);
        }
        self.pic.set_irq(Uart16550::COM1_IRQ, self.com1.irq_level());
        self.pic.set_irq(Rtc::IRQ, self.rtc.irq_level());
        self.pic.set_irq(I8042::KBD_IRQ, self.i8042.kbd_irq());
        self.pic.set_irq(I8042::AUX_IRQ, self.i8042.aux_irq());
        // A byte read from the i8042 drops its IRQ above; the next queued byte enters the
        // output buffer only now, so it makes a new edge.
        self.i8042.advance();
        self.pic.set_irq(I8042::KBD_IRQ, self.i8042.kbd_irq());
        self.pic.set_irq(I8042::AUX_IRQ, self.i8042.aux_irq());
    }
}

/// Serialisable state of the chipset's fixed devices (added port devices and PCI functions
/// other than the host's registers keep their own state).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChipsetState {
    pub pic: DualPic,
    pub pit: Pit,
    pub rtc: Rtc,
    pub com1: Uart16550,
    pub i8042: I8042,
    pub port61: SystemControlB,
    pub port92: FastA20Port,
    pub post: PostPort,
    pub debug: DebugPort,
    pub pci_host: PciHostState,
    pub now_ns: u64,
}

/// The PC chipset: port bus, devices, interrupt wiring and time.
pub struct Chipset {
    pub devices: LegacyDevices,
    ports: PortBus<Port>,
    now_ns: u64,
}

impl Chipset {
    /// The chipset at machine time 0 with COM1, PIC, PIT, RTC, i8042, system ports and PCI bus 0
    /// (host bridge 00.0, ISA bridge 01.0) in place.
    pub fn new(config: &ChipsetConfig) -> Self {
        let mut rtc = Rtc::new(config.rtc_unix_time);
        rtc.set_memory_size(config.ram_bytes);
        let mut port92 = FastA20Port::default();
        port92.set_a20(config.a20_enabled);
        let devices = LegacyDevices {
            pic: DualPic::new(),
            pit: Pit::new(),
            rtc,
            com1: Uart16550::new(),
            i8042: I8042::new(),
            port61: SystemControlB::default(),
            port92,
            post: PostPort::default(),
            debug: DebugPort::default(),
            pci: PciHost::new(PciBus::with_chipset()),
            extra: Vec::new(),
        };
        let mut ports = PortBus::new();
        let byte = PortWidth::Byte;
        let windows = [
            (DualPic::MASTER_PORT, 2, Port::PicMaster, byte),
            (DualPic::SLAVE_PORT, 2, Port::PicSlave, byte),
            (DualPic::ELCR_PORT, 2, Port::Elcr, byte),
            (Pit::PORT, Pit::PORT_LEN, Port::Pit, byte),
            (SystemControlB::PORT, 1, Port::SystemControlB, byte),
            (I8042::DATA_PORT, 1, Port::KbdData, byte),
            (I8042::COMMAND_PORT, 1, Port::KbdCommand, byte),
            (Rtc::PORT, Rtc::PORT_LEN, Port::Rtc, byte),
            (Uart16550::COM1_PORT, Uart16550::PORT_LEN, Port::Com1, byte),
            (FastA20Port::PORT, 1, Port::FastA20, byte),
            (PostPort::PORT, 1, Port::Post, byte),
            (DebugPort::PORT, 1, Port::Debug, byte),
            (
                PciHost::PORT,
                PciHost::PORT_LEN,
                Port::PciHost,
                PortWidth::Any,
            ),
        ];
        for (base, len, key, width) in windows {
            // The windows above are fixed and disjoint.
            let _ = ports.insert(base, len, key, width);
        }
        Chipset {
            devices,
            ports,
            now_ns: 0,
        }
    }

    /// Adds a port device (e.g. a PCI function's I/O BAR, once the guest has placed it).
    pub fn add_port_device(
        &mut self,
        base: u16,
        len: u16,
        width: PortWidth,
        device: Box<dyn PortIo>,
    ) -> Result<(), PortBusError> {
        let index = self.devices.extra.len();
        self.ports.insert(base, len, Port::Extra(index), width)?;
        self.devices.extra.push(device);
        Ok(())
    }

    /// Machine time of the last `advance`.
    pub fn now_ns(&self) -> u64 {
        self.now_ns
    }

    /// Moves every device to machine time `now_ns` and updates the interrupt lines. Call it at
    /// slice boundaries and when [`Chipset::next_event_ns`] is due; port accesses call it too.
    pub fn advance(&mut self, now_ns: u64) {
        let now = now_ns.max(self.now_ns);
        self.now_ns = now;
        let d = &mut self.devices;
        d.pit.advance(now);
        d.rtc.advance(now);
        d.com1.advance(now);
        d.route_irqs();
    }

    /// The earliest machine time at which a device will change an interrupt line by itself.
    pub fn next_event_ns(&self) -> Option<u64> {
        let d = &self.devices;
        [
            d.pit.next_irq0_ns(),
            d.rtc.next_event_ns(),
            d.com1.next_event_ns(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// `IN` from `port` (size 1, 2 or 4) at machine time `now_ns`.
    pub fn io_read(&mut self, port: u16, size: u8, now_ns: u64) -> u32 {
        self.advance(now_ns);
        let now = self.now_ns;
        let devices = &mut self.devices;
        let value = self
            .ports
            .read_with(port, size, |key, off, sz| devices.read(key, off, sz, now));
        self.devices.route_irqs();
        value
    }

    /// `OUT` to `port` at machine time `now_ns`.
    pub fn io_write(&mut self, port: u16, size: u8, value: u32, now_ns: u64) {
        self.advance(now_ns);
        let devices = &mut self.devices;
        self.ports.write_with(port, size, value, |key, off, sz, v| {
            devices.write(key, off, sz, v)
        });
        self.devices.route_irqs();
    }

    /// The PIC's INTR output: sample it when EFLAGS.IF allows an interrupt.
    pub fn intr(&self) -> bool {
        self.devices.pic.intr()
    }

    /// Interrupt acknowledge: the vector to deliver.
    pub fn acknowledge(&mut self) -> u8 {
        self.devices.pic.acknowledge()
    }

    /// Whether the NMI is masked (port 0x70 bit 7).
    pub fn nmi_masked(&self) -> bool {
        self.devices.rtc.nmi_masked()
    }

    /// The A20 gate: open if either the i8042 output port or port 0x92 opens it.
    pub fn a20_enabled(&self) -> bool {
        self.devices.i8042.a20() || self.devices.port92.a20()
    }

    /// Returns and clears a CPU reset request (i8042, port 0x92 or 0xCF9).
    pub fn take_reset_request(&mut self) -> bool {
        let d = &mut self.devices;
        let kbd = d.i8042.take_reset_request();
        let fast = d.port92.take_reset_request();
        let pci = d.pci.take_reset_request();
        kbd || fast || pci
    }

    /// Offers serial input to COM1; returns how many bytes it took (the rest would overrun:
    /// offer them again later).
    pub fn serial_input(&mut self, bytes: &[u8], now_ns: u64) -> usize {
        self.advance(now_ns);
        let n = bytes.len().min(self.devices.com1.rx_space());
        for &b in &bytes[..n] {
            self.devices.com1.receive(b);
        }
        self.devices.route_irqs();
        n
    }

    /// Bytes COM1 transmitted since the last call.
    pub fn take_serial_output(&mut self) -> Vec<u8> {
        self.devices.com1.take_output()
    }

    /// Bytes written to port 0xE9 since the last call.
    pub fn take_debug_output(&mut self) -> Vec<u8> {
        self.devices.debug.take_output()
    }

    /// First accesses to unclaimed ports since the last call (one notice per port, ever).
    pub fn take_notices(&mut self) -> Vec<UnknownPortNotice> {
        self.ports.take_notices()
    }

    /// The fixed devices' state, for a snapshot.
    pub fn state(&self) -> ChipsetState {
        let d = &self.devices;
        ChipsetState {
            pic: d.pic.clone(),
            pit: d.pit.clone(),
            rtc: d.rtc.clone(),
            com1: d.com1.clone(),
            i8042: d.i8042.clone(),
            port61: d.port61.clone(),
            port92: d.port92.clone(),
            post: d.post.clone(),
            debug: d.debug.clone(),
            pci_host: d.pci.state.clone(),
            now_ns: self.now_ns,
        }
    }

    /// Puts a snapshot's state back.
    pub fn restore(&mut self, s: ChipsetState) {
        let d = &mut self.devices;
        d.pic = s.pic;
        d.pit = s.pit;
        d.rtc = s.rtc;
        d.com1 = s.com1;
        d.i8042 = s.i8042;
        d.port61 = s.port61;
        d.port92 = s.port92;
        d.post = s.post;
        d.debug = s.debug;
        d.pci.state = s.pci_host;
        self.now_ns = s.now_ns;
    }
}

#[cfg(test)]
#[path = "chipset_tests.rs"]
mod tests;
