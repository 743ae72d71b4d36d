//! 8259A tests against the datasheet, driven through the ports as the Linux i8259 driver does.

use super::*;
use crate::PortIo;

const MASTER_BASE: u8 = 0x30;
const SLAVE_BASE: u8 = 0x38;

/// Linux's `init_8259A`: ICW1 0x11, ICW2 vector base, ICW3 cascade, ICW4 8086 (+AEOI).
fn init(auto_eoi: bool) -> DualPic {
    let mut pic = DualPic::new();
    let icw4 = if auto_eoi { 0x03 } else { 0x01 };
    pic.master().write(1, 1, 0xFF);
    pic.slave().write(1, 1, 0xFF);
    pic.master().write(0, 1, 0x11);
    pic.master().write(1, 1, MASTER_BASE as u32);
    pic.master().write(1, 1, 0x04);
    pic.master().write(1, 1, icw4);
    pic.slave().write(0, 1, 0x11);
    pic.slave().write(1, 1, SLAVE_BASE as u32);
    pic.slave().write(1, 1, 0x02);
    pic.slave().write(1, 1, icw4);
    pic.master().write(1, 1, 0x00);
    pic.slave().write(1, 1, 0x00);
    pic
}

fn eoi_master(pic: &mut DualPic) {
    pic.master().write(0, 1, 0x20);
}

fn read_isr(pic: &mut DualPic, slave: bool) -> u8 {
    let mut ports = if slave { pic.slave() } else { pic.master() };
    ports.write(0, 1, 0x0B);
    let v = ports.read(0, 1) as u8;
    ports.write(0, 1, 0x0A);
    v
}

#[test]
fn initialisation_sets_vectors_and_clears_mask() {
    let mut pic = init(false);
    assert_eq!(pic.chips[0].vector_base, MASTER_BASE);
    assert_eq!(pic.chips[1].vector_base, SLAVE_BASE);
    assert_eq!(pic.master().read(1, 1), 0);
    pic.master().write(1, 1, 0xFB);
    assert_eq!(
        pic.master().read(1, 1),
        0xFB,
        "OCW1 reads back from the data port"
    );
    assert!(!pic.intr());
}

#[test]
fn edge_request_acknowledge_and_eoi() {
    let mut pic = init(false);
    pic.set_irq(0, true);
    assert!(pic.intr());
    assert_eq!(pic.acknowledge(), MASTER_BASE);
    assert!(!pic.intr(), "request cleared from IRR at INTA");
    assert_eq!(read_isr(&mut pic, false), 0x01);
    // Line still high: no new edge, no new request after EOI.
    eoi_master(&mut pic);
    assert_eq!(read_isr(&mut pic, false), 0);
    assert!(!pic.intr());
    pic.set_irq(0, false);
    pic.set_irq(0, true);
    assert!(pic.intr(), "a new rising edge requests again");
}

#[test]
fn fixed_priority_and_nesting() {
    let mut pic = init(false);
    pic.set_irq(3, true);
    pic.set_irq(1, true);
    assert_eq!(pic.acknowledge(), MASTER_BASE + 1, "IR1 beats IR3");
    assert!(!pic.intr(), "IR3 is lower than IR1 in service");
    pic.set_irq(0, true);
    assert!(pic.intr(), "IR0 preempts IR1 in service");
    assert_eq!(pic.acknowledge(), MASTER_BASE);
    assert_eq!(read_isr(&mut pic, false), 0x03);
    // Non-specific EOI clears the highest in service (IR0).
    eoi_master(&mut pic);
    assert_eq!(read_isr(&mut pic, false), 0x02);
    assert!(!pic.intr());
    eoi_master(&mut pic);
    assert_eq!(pic.acknowledge(), MASTER_BASE + 3);
}

#[test]
fn specific_eoi_and_rotation() {
    let mut pic = init(false);
    pic.set_irq(4, true);
    pic.set_irq(6, true);
    assert_eq!(pic.acknowledge(), MASTER_BASE + 4);
    // Specific EOI for a level not the highest still clears exactly that bit.
    pic.master().write(0, 1, 0x60 | 4);
    assert_eq!(read_isr(&mut pic, false), 0);
    assert_eq!(pic.acknowledge(), MASTER_BASE + 6);
    // Rotate on non-specific EOI: IR6 becomes lowest, IR7 highest.
    pic.master().write(0, 1, 0xA0);
    assert_eq!(pic.chips[0].lowest_priority, 6);
    pic.set_irq(0, true);
    pic.set_irq(7, true);
    assert_eq!(
        pic.acknowledge(),
        MASTER_BASE + 7,
        "after rotation IR7 has top priority"
    );
    // Set priority command: make IR1 lowest, so IR2 is highest and IR0 lowest but one.
    pic.master().write(0, 1, 0x20);
    pic.master().write(0, 1, 0xC0 | 1);
    pic.set_irq(5, true);
    assert_eq!(
        pic.acknowledge(),
        MASTER_BASE + 5,
        "IR5 ranks above IR0 when IR1 is lowest"
    );
    // Rotate on specific EOI.
    pic.master().write(0, 1, 0xE0 | 5);
    assert_eq!(pic.chips[0].lowest_priority, 5);
    assert_eq!(pic.acknowledge(), MASTER_BASE);
}

#[test]
fn automatic_eoi_leaves_isr_clear() {
    let mut pic = init(true);
    pic.set_irq(1, true);
    assert_eq!(pic.acknowledge(), MASTER_BASE + 1);
    assert_eq!(read_isr(&mut pic, false), 0);
    pic.set_irq(3, true);
    assert!(pic.intr(), "nothing in service blocks IR3");
    // Rotate in AEOI mode.
    pic.master().write(0, 1, 0x80);
    assert_eq!(pic.acknowledge(), MASTER_BASE + 3);
    assert_eq!(pic.chips[0].lowest_priority, 3);
}

#[test]
fn poll_command() {
    let mut pic = init(false);
    pic.master().write(0, 1, 0x0C);
    assert_eq!(pic.master().read(0, 1), 0x00, "no request: bit 7 clear");
    pic.master().write(1, 1, 0xFF);
    pic.set_irq(5, true);
    assert!(!pic.intr());
    pic.master().write(1, 1, 0x00);
    pic.master().write(0, 1, 0x0C);
    assert_eq!(pic.master().read(0, 1), 0x85);
    assert_eq!(read_isr(&mut pic, false), 0x20, "poll acts as INTA");
    assert_eq!(
        pic.master().read(0, 1),
        0,
        "poll is one-shot: next read is IRR"
    );
}

#[test]
fn special_mask_mode() {
    let mut pic = init(false);
    pic.set_irq(3, true);
    assert_eq!(pic.acknowledge(), MASTER_BASE + 3);
    pic.set_irq(5, true);
    assert!(!pic.intr(), "IR5 blocked by IR3 in service");
    // Mask IR3 and enter special mask mode: lower levels are enabled.
    pic.master().write(1, 1, 0x08);
    pic.master().write(0, 1, 0x68);
    assert!(pic.intr());
    assert_eq!(pic.acknowledge(), MASTER_BASE + 5);
    // Leave special mask mode.
    pic.master().write(0, 1, 0x48);
    assert!(!pic.chips[0].special_mask);
}

#[test]
fn cascade_through_ir2() {
    let mut pic = init(false);
    pic.set_irq(10, true);
    assert!(pic.intr());
    assert_eq!(pic.acknowledge(), SLAVE_BASE + 2);
    assert_eq!(read_isr(&mut pic, false), 0x04);
    assert_eq!(read_isr(&mut pic, true), 0x04);
    pic.set_irq(9, true);
    assert!(
        !pic.intr(),
        "master IR2 in service blocks the slave (fully nested)"
    );
    pic.slave().write(0, 1, 0x20);
    eoi_master(&mut pic);
    assert_eq!(pic.acknowledge(), SLAVE_BASE + 1);
}

#[test]
fn special_fully_nested_lets_higher_slave_request_through() {
    let mut pic = init(false);
    pic.master().write(0, 1, 0x11);
    pic.master().write(1, 1, MASTER_BASE as u32);
    pic.master().write(1, 1, 0x04);
    pic.master().write(1, 1, 0x11);
    pic.set_irq(12, true);
    assert_eq!(pic.acknowledge(), SLAVE_BASE + 4);
    pic.set_irq(9, true);
    assert!(pic.intr());
    assert_eq!(pic.acknowledge(), SLAVE_BASE + 1);
}

#[test]
fn spurious_irq7_and_irq15() {
    let mut pic = init(false);
    pic.elcr().write(0, 1, 0x20);
    pic.set_irq(5, true);
    assert!(pic.intr());
    pic.set_irq(5, false);
    assert_eq!(pic.acknowledge(), MASTER_BASE + 7);
    assert_eq!(
        read_isr(&mut pic, false),
        0,
        "spurious IRQ7 is not in service"
    );

    pic.elcr().write(1, 1, 0x08);
    pic.set_irq(11, true);
    assert!(pic.intr());
    // The slave's request vanishes; the master already latched its IR2 edge.
    pic.set_irq(11, false);
    assert_eq!(pic.acknowledge(), SLAVE_BASE + 7);
    assert_eq!(read_isr(&mut pic, true), 0);
    assert_eq!(read_isr(&mut pic, false), 0x04, "master IR2 is in service");
}

#[test]
fn level_triggered_via_elcr() {
    let mut pic = init(false);
    pic.elcr().write(0, 1, 0xFF);
    assert_eq!(
        pic.elcr().read(0, 1),
        0xF8,
        "IRQ 0-2 cannot be level triggered"
    );
    pic.elcr().write(1, 1, 0xFF);
    assert_eq!(
        pic.elcr().read(1, 1),
        0xDE,
        "IRQ 8 and 13 cannot be level triggered"
    );
    pic.set_irq(4, true);
    assert_eq!(pic.acknowledge(), MASTER_BASE + 4);
    eoi_master(&mut pic);
    assert!(pic.intr(), "a level still high requests again after EOI");
    pic.set_irq(4, false);
    assert!(!pic.intr(), "request follows the level");
    assert_eq!(pic.master().read(0, 1), 0, "IRR read after OCW3 0x0A");
}

#[test]
fn icw1_resets_edge_sense_and_state() {
    let mut pic = init(false);
    pic.set_irq(1, true);
    pic.set_irq(6, true);
    pic.acknowledge();
    let pic_state = pic.clone();
    let mut pic = pic_state;
    pic.master().write(0, 1, 0x11);
    pic.master().write(1, 1, MASTER_BASE as u32);
    pic.master().write(1, 1, 0x04);
    pic.master().write(1, 1, 0x01);
    assert!(
        !pic.intr(),
        "ICW1 clears IRR/ISR; a held-high input must edge again"
    );
    assert_eq!(read_isr(&mut pic, false), 0);
    pic.set_irq(1, false);
    pic.set_irq(1, true);
    assert_eq!(pic.acknowledge(), MASTER_BASE + 1);
}

#[test]
fn state_round_trips_through_serde() {
    let mut pic = init(false);
    pic.set_irq(3, true);
    pic.master().write(0, 1, 0x0B);
    let json = serde_json::to_string(&pic).unwrap();
    let back: DualPic = serde_json::from_str(&json).unwrap();
    assert_eq!(back, pic);
}
