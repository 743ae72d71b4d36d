//! virtio-console driven by the mock driver: output, input, resize, emergency write.

use super::*;
use crate::virtio::status;
use crate::virtio::test_utils::{ro, wo, MockDriver};
use crate::virtio::transport::layout::DEVICE_OFFSET;
use crate::virtio::transport::{ISR_CONFIG, ISR_QUEUE};

/// A console whose driver is ready and has taken the size announcement that follows.
fn console() -> MockDriver<VirtioConsole> {
    let mut d = MockDriver::new(VirtioConsole::new(80, 25));
    d.init_all();
    d.poll();
    assert_eq!(d.read_isr(), ISR_CONFIG, "the size is announced when ready");
    d
}

/// Offers `n` receive buffers of `len` bytes, as the hvc driver keeps its receiveq filled.
fn offer_rx(d: &mut MockDriver<VirtioConsole>, n: usize, len: u32) -> Vec<(u16, u64)> {
    (0..n)
        .map(|_| {
            let buf = d.alloc(u64::from(len));
            let head = d.add_chain(RECEIVEQ, &[wo(buf, len)]);
            d.publish(RECEIVEQ, head);
            (head, buf)
        })
        .collect()
}

#[test]
fn transmit_reaches_the_host() {
    let mut d = console();
    let a = d.alloc(6);
    d.ram.put(a, b"hello ");
    let b = d.alloc(6);
    d.ram.put(b, b"world\n");
    let h1 = d.add_chain(TRANSMITQ, &[ro(a, 6)]);
    d.publish(TRANSMITQ, h1);
    let h2 = d.add_chain(TRANSMITQ, &[ro(a, 3), ro(b, 6)]);
    d.submit(TRANSMITQ, h2);
    assert_eq!(d.dev.device_mut().take_output(), b"hello helworld\n");
    assert_eq!(
        d.take_used(TRANSMITQ),
        vec![(u32::from(h1), 0), (u32::from(h2), 0)]
    );
    assert_eq!(d.read_isr(), ISR_QUEUE);
    assert!(d.dev.device_mut().take_output().is_empty());
}

#[test]
fn input_fills_receive_buffers() {
    let mut d = console();
    let bufs = offer_rx(&mut d, 2, 4);
    d.notify(RECEIVEQ);
    d.poll();
    assert!(d.take_used(RECEIVEQ).is_empty(), "no input yet");
    assert_eq!(d.dev.device_mut().push_input(b"ls -l\n"), 6);
    assert!(d.dev.wants_poll());
    d.poll();
    assert_eq!(
        d.take_used(RECEIVEQ),
        vec![(u32::from(bufs[0].0), 4), (u32::from(bufs[1].0), 2)]
    );
    assert_eq!(d.ram.read_vec(bufs[0].1, 4), b"ls -");
    assert_eq!(d.ram.read_vec(bufs[1].1, 2), b"l\n");
    assert!(d.dev.irq_level());
    // More input than buffers: the rest waits for the next buffer.
    d.dev.device_mut().push_input(b"abcdef");
    d.poll();
    let more = offer_rx(&mut d, 1, 16);
    d.notify(RECEIVEQ);
    d.poll();
    assert_eq!(d.take_used(RECEIVEQ), vec![(u32::from(more[0].0), 6)]);
    assert_eq!(d.ram.read_vec(more[0].1, 6), b"abcdef");
    assert_eq!(d.dev.device().pending_input(), 0);
}

#[test]
fn input_is_bounded() {
    let mut c = VirtioConsole::new(80, 25);
    let big = vec![b'x'; MAX_PENDING_INPUT + 10];
    assert_eq!(c.push_input(&big), MAX_PENDING_INPUT);
    assert_eq!(c.push_input(b"y"), 0);
}

#[test]
fn size_in_config_and_resize_interrupt() {
    let mut d = console();
    assert_ne!(d.device_features() & console_feature::SIZE, 0);
    assert_eq!(d.dev.bar_read(DEVICE_OFFSET, 2), 80);
    assert_eq!(d.dev.bar_read(DEVICE_OFFSET + 2, 2), 25);
    assert_eq!(d.dev.bar_read(DEVICE_OFFSET, 4), 25 << 16 | 80);
    let generation = d.read_common(0x15, 1);
    d.dev.device_mut().set_size(132, 43);
    d.poll();
    assert_eq!(d.read_isr(), ISR_CONFIG);
    assert_eq!(d.dev.bar_read(DEVICE_OFFSET, 4), 43 << 16 | 132);
    assert_ne!(d.read_common(0x15, 1), generation, "new config generation");
    d.dev.device_mut().set_size(132, 43);
    d.poll();
    assert_eq!(d.read_isr(), 0, "same size: no interrupt");
}

#[test]
fn size_announced_when_the_driver_is_ready() {
    let mut d = MockDriver::new(VirtioConsole::new(80, 25));
    // Set before the driver is ready (the front end knows its terminal's size at once).
    d.dev.device_mut().set_size(100, 30);
    d.poll();
    assert_eq!(d.read_isr(), 0, "no interrupt before the driver is ready");
    d.init_all();
    d.poll();
    assert_eq!(
        d.read_isr(),
        ISR_CONFIG,
        "the driver is told the size once ready"
    );
    assert_eq!(d.dev.bar_read(DEVICE_OFFSET, 4), 30 << 16 | 100);
    d.poll();
    assert_eq!(d.read_isr(), 0, "told once");
}

#[test]
fn emergency_write() {
    let mut d = MockDriver::new(VirtioConsole::new(80, 25));
    d.dev.bar_write(DEVICE_OFFSET + 8, 4, u32::from(b'!'));
    assert_eq!(d.dev.device_mut().take_output(), b"!");
}

#[test]
fn wrong_direction_needs_reset() {
    let mut d = console();
    let buf = d.alloc(8);
    let head = d.add_chain(TRANSMITQ, &[wo(buf, 8)]);
    d.submit(TRANSMITQ, head);
    assert_ne!(
        d.status() & status::DEVICE_NEEDS_RESET,
        0,
        "writable transmit"
    );
    let mut d = console();
    let buf = d.alloc(8);
    d.dev.device_mut().push_input(b"x");
    let head = d.add_chain(RECEIVEQ, &[ro(buf, 8)]);
    d.submit(RECEIVEQ, head);
    assert_ne!(
        d.status() & status::DEVICE_NEEDS_RESET,
        0,
        "readable receive"
    );
}
