//! Intel 8259A programmable interrupt controller: the PC's master/slave pair plus the PIIX/ICH
//! edge/level control registers (ELCR).
//!
//! Ports: master 0x20–0x21, slave 0xA0–0xA1, ELCR 0x4D0–0x4D1 (see [`DualPic::master`],
//! [`DualPic::slave`], [`DualPic::elcr`]). Devices drive inputs with [`DualPic::set_irq`]
//! (IRQ 0–15, a level); the CPU samples [`DualPic::intr`] and, when it takes the interrupt,
//! calls [`DualPic::acknowledge`] (the two INTA cycles) for the vector.
//!
//! Behaviour follows the Intel 8259A datasheet (231468): ICW1–ICW4 initialisation, OCW1–OCW3,
//! fully nested mode with rotation, specific/non-specific EOI, automatic EOI, special mask mode,
//! poll command, special fully nested mode, cascade through IR2, and spurious IRQ 7/15 when a
//! request vanishes before INTA.

use serde::{Deserialize, Serialize};

/// One 8259A.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pic8259 {
    /// Interrupt request register.
    pub irr: u8,
    /// In-service register.
    pub isr: u8,
    /// Interrupt mask register (OCW1).
    pub imr: u8,
    /// Current input levels (for edge detection and level mode).
    pub lines: u8,
    /// Edge/level control (ELCR bit per input; 1 = level).
    pub elcr: u8,
    /// Bits of `elcr` the guest may change.
    pub elcr_mask: u8,
    /// This chip is the master (its ICW3 lists slaves rather than naming its ID).
    pub is_master: bool,
    /// The IR with the lowest priority; the highest is the next one (rotation state).
    pub lowest_priority: u8,
    /// Vector base from ICW2 (bits 7:3).
    pub vector_base: u8,
    /// ICW3: for the master, the IRs with slaves; for a slave, its cascade ID.
    pub icw3: u8,
    /// Initialisation step: 0 = ready, 2..=4 = expecting that ICW.
    pub init_step: u8,
    /// ICW1 bit 0: an ICW4 follows.
    pub needs_icw4: bool,
    /// ICW1 bit 1: single PIC, no ICW3.
    pub single: bool,
    /// ICW1 bit 3 (LTIM): all inputs level triggered.
    pub ltim: bool,
    /// ICW4 bit 1: automatic EOI.
    pub auto_eoi: bool,
    /// ICW4 bit 4: special fully nested mode.
    pub special_fully_nested: bool,
    /// OCW2 "set rotate in automatic EOI mode".
    pub rotate_on_auto_eoi: bool,
    /// OCW3 special mask mode.
    pub special_mask: bool,
    /// OCW3 RIS: reads of the command port return ISR (else IRR).
    pub read_isr: bool,
    /// OCW3 P: the next command-port read is a poll.
    pub poll: bool,
}

impl Pic8259 {
    fn new(is_master: bool, elcr_mask: u8) -> Self {
        Pic8259 {
            is_master,
            elcr_mask,
            lowest_priority: 7,
            ..Default::default()
        }
    }

    fn level_triggered(&self, mask: u8) -> bool {
        self.ltim || self.elcr & mask != 0
    }

    /// Drives input `irq` (0–7) to `level`.
    fn set_line(&mut self, irq: u8, level: bool) {
        let mask = 1u8 << (irq & 7);
        let was = self.lines & mask != 0;
        if level {
            self.lines |= mask;
            if self.level_triggered(mask) || !was {
                self.irr |= mask;
            }
        } else {
            self.lines &= !mask;
            if self.level_triggered(mask) {
                self.irr &= !mask;
            }
        }
    }

    /// The highest-priority bit set in `bits`, as an IR number.
    fn highest(&self, bits: u8) -> Option<u8> {
        (1..=8u8)
            .map(|i| (self.lowest_priority + i) & 7)
            .find(|&ir| bits & (1 << ir) != 0)
    }

    /// Priority rank of `ir`: 0 is highest.
    fn rank(&self, ir: u8) -> u8 {
        (ir.wrapping_sub(self.lowest_priority).wrapping_sub(1)) & 7
    }

    /// The IR this chip would present to INTA now, if any (datasheet "priority resolver").
    ///
    /// A master in special fully nested mode ignores its cascade IRs in service, so that a slave
    /// already in service may still interrupt with a higher request of its own.
    fn pending(&self) -> Option<u8> {
        let req = self.highest(self.irr & !self.imr)?;
        let mut in_service = self.isr;
        if self.special_mask {
            // Special mask mode: masked levels do not block lower priorities.
            in_service &= !self.imr;
        }
        if self.special_fully_nested && self.is_master && !self.single {
            in_service &= !self.icw3;
        }
        match self.highest(in_service) {
            Some(svc) if self.rank(svc) <= self.rank(req) => None,
            _ => Some(req),
        }
    }

    /// INTA for `ir`: the request moves from IRR to ISR (or is done at once in AEOI mode).
    fn accept(&mut self, ir: u8) {
        let mask = 1u8 << ir;
        if !self.level_triggered(mask) {
            self.irr &= !mask;
        }
        if self.auto_eoi {
            if self.rotate_on_auto_eoi {
                self.lowest_priority = ir;
            }
        } else {
            self.isr |= mask;
        }
    }

    fn non_specific_eoi(&mut self, rotate: bool) {
        let mut in_service = self.isr;
        if self.special_mask {
            in_service &= !self.imr;
        }
        if let Some(ir) = self.highest(in_service) {
            self.isr &= !(1 << ir);
            if rotate {
                self.lowest_priority = ir;
            }
        }
    }

    fn write_command(&mut self, value: u8) {
        if value & 0x10 != 0 {
            // ICW1: restart initialisation. Edge detection restarts: an input already high
            // must go low and high again before it requests.
            self.init_step = 2;
            self.needs_icw4 = value & 0x01 != 0;
            self.single = value & 0x02 != 0;
            self.ltim = value & 0x08 != 0;
            self.imr = 0;
            self.isr = 0;
            self.irr = if self.ltim { self.lines } else { 0 };
            self.irr |= self.lines & self.elcr;
            self.lowest_priority = 7;
            self.special_mask = false;
            self.read_isr = false;
            self.poll = false;
            self.auto_eoi = false;
            self.rotate_on_auto_eoi = false;
            self.special_fully_nested = false;
            if !self.single {
                self.icw3 = 0;
            }
        } else if value & 0x08 != 0 {
            // OCW3.
            if value & 0x04 != 0 {
                self.poll = true;
            }
            if value & 0x02 != 0 {
                self.read_isr = value & 0x01 != 0;
            }
            if value & 0x40 != 0 {
                self.special_mask = value & 0x20 != 0;
            }
        } else {
            // OCW2: R SL EOI.
            let level = value & 7;
            match value >> 5 {
                0b001 => self.non_specific_eoi(false),
                0b101 => self.non_specific_eoi(true),
                0b011 => self.isr &= !(1 << level),
                0b111 => {
                    self.isr &= !(1 << level);
                    self.lowest_priority = level;
                }
                0b110 => self.lowest_priority = level,
                0b100 => self.rotate_on_auto_eoi = true,
                0b000 => self.rotate_on_auto_eoi = false,
                _ => {} // 0b010: no operation.
            }
        }
    }

    fn write_data(&mut self, value: u8) {
        match self.init_step {
            2 => {
                self.vector_base = value & 0xF8;
                self.init_step = if !self.single {
                    3
                } else if self.needs_icw4 {
                    4
                } else {
                    0
                };
            }
            3 => {
                self.icw3 = value;
                self.init_step = if self.needs_icw4 { 4 } else { 0 };
            }
            4 => {
                self.auto_eoi = value & 0x02 != 0;
                self.special_fully_nested = value & 0x10 != 0;
                self.init_step = 0;
            }
            _ => self.imr = value,
        }
    }
}

/// Which 8259A of the pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chip {
    Master = 0,
    Slave = 1,
}

/// The PC/AT master/slave pair: slave INT on master IR2, IRQ 8–15 on the slave.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DualPic {
    /// `[master, slave]`.
    pub chips: [Pic8259; 2],
}

impl Default for DualPic {
    fn default() -> Self {
        Self::new()
    }
}

/// The IR on the master the slave's INT output is wired to.
pub const CASCADE_IR: u8 = 2;

impl DualPic {
    /// Ports of the master's window (2 ports).
    pub const MASTER_PORT: u16 = 0x20;
    /// Ports of the slave's window (2 ports).
    pub const SLAVE_PORT: u16 = 0xA0;
    /// The ELCR window (2 ports: master's IRQ 0–7, slave's IRQ 8–15).
    pub const ELCR_PORT: u16 = 0x4D0;

    /// Both chips in their power-on state (uninitialised, all inputs edge triggered).
    pub fn new() -> Self {
        // PIIX: IRQ 0, 1, 2, 8 and 13 are always edge triggered.
        DualPic {
            chips: [Pic8259::new(true, 0xF8), Pic8259::new(false, 0xDE)],
        }
    }

    /// Drives IRQ `irq` (0–15) to `level`. For edge-triggered inputs a rising edge latches a
    /// request; for level-triggered ones the request follows the level.
    pub fn set_irq(&mut self, irq: u8, level: bool) {
        let chip = if irq & 8 != 0 { 1 } else { 0 };
        self.chips[chip].set_line(irq & 7, level);
        self.update_cascade();
    }

    /// A rising and falling edge on an edge-triggered IRQ (e.g. a timer tick that was missed
    /// between two samples); for a level-triggered IRQ the line ends at `level_after`.
    pub fn pulse_irq(&mut self, irq: u8, level_after: bool) {
        self.set_irq(irq, false);
        self.set_irq(irq, true);
        if !level_after {
            self.set_irq(irq, false);
        }
    }

    /// Slave INT output → master IR2.
    fn update_cascade(&mut self) {
        let slave_int = self.chips[1].pending().is_some();
        self.chips[0].set_line(CASCADE_IR, slave_int);
    }

    /// The INTR line to the CPU.
    pub fn intr(&self) -> bool {
        self.chips[0].pending().is_some()
    }

    /// The two INTA cycles: returns the vector and moves the request in service.
    ///
    /// If the request went away since INTR was sampled, the 8259A answers with IR7 of the chip
    /// (vector base + 7) without setting ISR: the spurious IRQ 7, or IRQ 15 for the slave (then
    /// the master still has IR2 in service, which is why Linux sends the master an EOI for a
    /// spurious IRQ 15).
    pub fn acknowledge(&mut self) -> u8 {
        let master = &mut self.chips[0];
        let Some(ir) = master.pending() else {
            return master.vector_base | 7;
        };
        master.accept(ir);
        let cascade = !master.single && master.icw3 & (1 << ir) != 0 && ir == CASCADE_IR;
        let vector = if cascade {
            let slave = &mut self.chips[1];
            match slave.pending() {
                Some(sir) => {
                    slave.accept(sir);
                    slave.vector_base | sir
                }
                None => slave.vector_base | 7,
            }
        } else {
            master.vector_base | ir
        };
        self.update_cascade();
        vector
    }

    fn chip_read(&mut self, chip: Chip, offset: u16) -> u8 {
        let c = chip as usize;
        if offset & 1 == 1 {
            return self.chips[c].imr;
        }
        if self.chips[c].poll {
            // Poll: the read is an INTA for this chip; bit 7 says whether there was a request.
            self.chips[c].poll = false;
            let result = match self.chips[c].pending() {
                Some(ir) => {
                    self.chips[c].accept(ir);
                    0x80 | ir
                }
                None => 0,
            };
            self.update_cascade();
            return result;
        }
        if self.chips[c].read_isr {
            self.chips[c].isr
        } else {
            self.chips[c].irr
        }
    }

    fn chip_write(&mut self, chip: Chip, offset: u16, value: u8) {
        let c = chip as usize;
        if offset & 1 == 0 {
            self.chips[c].write_command(value);
        } else {
            self.chips[c].write_data(value);
        }
        self.update_cascade();
    }

    /// Master window access (`offset` 0 = command, 1 = data).
    pub fn master(&mut self) -> PicPorts<'_> {
        PicPorts {
            pic: self,
            window: Window::Chip(Chip::Master),
        }
    }

    /// Slave window access.
    pub fn slave(&mut self) -> PicPorts<'_> {
        PicPorts {
            pic: self,
            window: Window::Chip(Chip::Slave),
        }
    }

    /// ELCR window access (`offset` 0 = IRQ 0–7, 1 = IRQ 8–15).
    pub fn elcr(&mut self) -> PicPorts<'_> {
        PicPorts {
            pic: self,
            window: Window::Elcr,
        }
    }

    /// Sets the ELCR bits as firmware would (e.g. PCI interrupts level-triggered).
    pub fn set_elcr(&mut self, irqs: u16) {
        for c in 0..2 {
            let chip = &mut self.chips[c];
            chip.elcr = (irqs >> (8 * c)) as u8 & chip.elcr_mask;
            chip.irr = (chip.irr & !chip.elcr) | (chip.lines & chip.elcr);
        }
        self.update_cascade();
    }
}

#[derive(Clone, Copy)]
enum Window {
    Chip(Chip),
    Elcr,
}

/// One of the pair's three port windows, borrowed for a [`crate::PortIo`] access.
pub struct PicPorts<'a> {
    pic: &'a mut DualPic,
    window: Window,
}

impl crate::PortIo for PicPorts<'_> {
    fn read(&mut self, offset: u16, _size: u8) -> u32 {
        match self.window {
            Window::Chip(chip) => self.pic.chip_read(chip, offset) as u32,
            Window::Elcr => self.pic.chips[(offset & 1) as usize].elcr as u32,
        }
    }

    fn write(&mut self, offset: u16, _size: u8, value: u32) {
        match self.window {
            Window::Chip(chip) => self.pic.chip_write(chip, offset, value as u8),
            Window::Elcr => {
                let mut all = self.pic.chips[0].elcr as u16 | (self.pic.chips[1].elcr as u16) << 8;
                let shift = 8 * (offset & 1);
                all = (all & !(0xFF << shift)) | ((value as u16 & 0xFF) << shift);
                self.pic.set_elcr(all);
            }
        }
    }
}

#[cfg(test)]
#[path = "pic_tests.rs"]
mod tests;
