//! i8042 tests, following the Linux i8042, atkbd and psmouse probes.

use super::*;
use crate::PortIo;

fn cmd(k: &mut I8042, c: u8) {
    k.write(4, 1, c as u32);
}

fn data(k: &mut I8042, b: u8) {
    k.write(0, 1, b as u32);
}

fn status(k: &mut I8042) -> u8 {
    k.read(4, 1) as u8
}

/// Waits for OBF as `i8042_wait_read` does, then reads the byte and its source.
fn read_byte(k: &mut I8042) -> Option<(u8, bool)> {
    let s = status(k);
    if s & status::OBF == 0 {
        return None;
    }
    let aux = s & status::AUX_DATA != 0;
    Some((k.read(0, 1) as u8, aux))
}

fn read_all(k: &mut I8042) -> Vec<u8> {
    std::iter::from_fn(|| read_byte(k).map(|(b, _)| b)).collect()
}

#[test]
fn controller_self_test_and_interface_test() {
    let mut k = I8042::new();
    assert_eq!(status(&mut k) & status::OBF, 0);
    cmd(&mut k, 0xAA);
    assert_eq!(
        status(&mut k),
        status::OBF | status::SYSTEM | status::COMMAND | status::UNLOCKED
    );
    assert_eq!(read_all(&mut k), [0x55]);
    cmd(&mut k, 0xAB);
    assert_eq!(read_all(&mut k), [0x00]);
    cmd(&mut k, 0xA9);
    assert_eq!(read_all(&mut k), [0x00]);
}

#[test]
fn command_byte_read_write() {
    let mut k = I8042::new();
    cmd(&mut k, 0x20);
    assert_eq!(read_all(&mut k), [0x45]);
    cmd(&mut k, 0x60);
    data(&mut k, 0x47);
    cmd(&mut k, 0x20);
    assert_eq!(read_all(&mut k), [0x47]);
    cmd(&mut k, 0xA7);
    cmd(&mut k, 0xAD);
    cmd(&mut k, 0x20);
    assert_eq!(
        read_all(&mut k),
        [0x47 | ctr::AUX_DISABLE | ctr::KBD_DISABLE]
    );
    cmd(&mut k, 0xA8);
    cmd(&mut k, 0xAE);
    cmd(&mut k, 0x20);
    assert_eq!(read_all(&mut k), [0x47]);
}

#[test]
fn keyboard_reset_identify_leds_and_scancode_set() {
    let mut k = I8042::new();
    data(&mut k, 0xFF);
    assert_eq!(read_all(&mut k), [0xFA, 0xAA]);
    data(&mut k, 0xF2);
    assert_eq!(read_all(&mut k), [0xFA, 0xAB, 0x83]);
    data(&mut k, 0xED);
    assert_eq!(read_all(&mut k), [0xFA]);
    data(&mut k, 0x07);
    assert_eq!(read_all(&mut k), [0xFA]);
    assert_eq!(k.keyboard.leds, 7);
    data(&mut k, 0xF0);
    data(&mut k, 0x00);
    assert_eq!(read_all(&mut k), [0xFA, 0xFA, 0x02]);
    data(&mut k, 0xF5);
    assert_eq!(read_all(&mut k), [0xFA]);
    k.push_keyboard_bytes(&[0x1E]);
    assert!(read_all(&mut k).is_empty(), "no scanning after 0xF5");
    data(&mut k, 0xF4);
    k.push_keyboard_bytes(&[0x1E, 0x9E]);
    assert_eq!(read_all(&mut k), [0xFA, 0x1E, 0x9E]);
    data(&mut k, 0xEE);
    assert_eq!(read_all(&mut k), [0xEE]);
    data(&mut k, 0x12);
    assert_eq!(
        read_all(&mut k),
        [0xFE],
        "unknown command asks for a resend"
    );
}

#[test]
fn each_byte_is_a_new_irq1_edge() {
    let mut k = I8042::new();
    data(&mut k, 0xFF);
    assert!(k.kbd_irq());
    assert_eq!(k.read(0, 1), 0xFA);
    assert!(!k.kbd_irq(), "the line drops when the buffer is read");
    k.advance();
    assert!(k.kbd_irq(), "and rises again with the next byte");
    assert_eq!(k.read(0, 1), 0xAA);
    k.advance();
    assert!(!k.kbd_irq());
    // Interrupts off in the command byte: OBF without IRQ.
    cmd(&mut k, 0x60);
    data(&mut k, 0x44);
    data(&mut k, 0xEE);
    assert!(!k.kbd_irq());
    assert_eq!(status(&mut k) & status::OBF, status::OBF);
}

#[test]
fn aux_loopback_and_mouse() {
    let mut k = I8042::new();
    cmd(&mut k, 0x60);
    data(&mut k, 0x47);
    // i8042_check_aux: AUX_LOOP returns the byte through the aux port with IRQ 12.
    cmd(&mut k, 0xD3);
    data(&mut k, 0x5A);
    assert!(k.aux_irq());
    assert!(!k.kbd_irq());
    assert_eq!(read_byte(&mut k), Some((0x5A, true)));
    // psmouse: reset, get ID, status request, sample rate.
    cmd(&mut k, 0xD4);
    data(&mut k, 0xFF);
    let mut got = Vec::new();
    while let Some(b) = read_byte(&mut k) {
        got.push(b);
    }
    assert_eq!(got, [(0xFA, true), (0xAA, true), (0x00, true)]);
    for b in [0xF3, 200] {
        cmd(&mut k, 0xD4);
        data(&mut k, b);
    }
    cmd(&mut k, 0xD4);
    data(&mut k, 0xF2);
    cmd(&mut k, 0xD4);
    data(&mut k, 0xE9);
    assert_eq!(
        read_all(&mut k),
        [0xFA, 0xFA, 0xFA, 0x00, 0xFA, 0x00, 2, 200]
    );
}

#[test]
fn output_port_a20_and_reset() {
    let mut k = I8042::new();
    assert!(!k.a20());
    cmd(&mut k, 0xD1);
    data(&mut k, 0x03);
    assert!(k.a20());
    assert!(!k.take_reset_request());
    cmd(&mut k, 0xD0);
    assert_eq!(read_all(&mut k), [0x03]);
    cmd(&mut k, 0xD1);
    data(&mut k, 0x02);
    assert!(
        k.take_reset_request(),
        "output port bit 0 low resets the CPU"
    );
    assert!(!k.take_reset_request(), "taken once");
    cmd(&mut k, 0xFF);
    assert!(!k.take_reset_request(), "0xFF pulses no line");
    cmd(&mut k, 0xFE);
    assert!(k.take_reset_request());
}

#[test]
fn state_round_trips_through_serde() {
    let mut k = I8042::new();
    data(&mut k, 0xFF);
    let back: I8042 = serde_json::from_str(&serde_json::to_string(&k).unwrap()).unwrap();
    assert_eq!(back, k);
}
