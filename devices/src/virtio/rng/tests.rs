//! virtio-rng driven by the mock driver.

use super::*;
use crate::virtio::status;
use crate::virtio::test_utils::{ro, wo, MockDriver};

/// A deterministic source: 1, 2, 3, ...
struct Counter(u8);
impl EntropySource for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

#[test]
fn fills_each_request_from_the_source() {
    let mut d = MockDriver::new(VirtioRng::new(Box::new(Counter(0))));
    d.init_all();
    let a = d.alloc(3);
    let b = d.alloc(5);
    let h1 = d.add_chain(0, &[wo(a, 3)]);
    d.publish(0, h1);
    let h2 = d.add_chain(0, &[wo(b, 2), wo(b + 2, 3)]);
    d.submit(0, h2);
    assert_eq!(d.take_used(0), vec![(u32::from(h1), 3), (u32::from(h2), 5)]);
    assert_eq!(d.ram.read_vec(a, 3), [1, 2, 3]);
    assert_eq!(d.ram.read_vec(b, 5), [4, 5, 6, 7, 8]);
}

#[test]
fn large_requests_are_capped() {
    let mut d = MockDriver::new(VirtioRng::new(Box::new(Counter(0))));
    d.init_all();
    let len = MAX_BYTES_PER_REQUEST as u32 + 100;
    let buf = d.alloc(u64::from(len));
    let head = d.add_chain(0, &[wo(buf, len)]);
    d.submit(0, head);
    assert_eq!(
        d.take_used(0),
        vec![(u32::from(head), MAX_BYTES_PER_REQUEST as u32)]
    );
}

#[test]
fn readable_buffer_needs_reset() {
    let mut d = MockDriver::new(VirtioRng::new(Box::new(Counter(0))));
    d.init_all();
    let buf = d.alloc(4);
    let head = d.add_chain(0, &[ro(buf, 4)]);
    d.submit(0, head);
    assert_ne!(d.status() & status::DEVICE_NEEDS_RESET, 0);
    assert!(d.take_used(0).is_empty());
}
