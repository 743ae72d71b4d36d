//! Transport tests: configuration space and capabilities as Linux's virtio_pci_modern probes
//! them, feature negotiation, queue setup, reset, ISR/INTx and the error state.

use super::common_cfg::reg;
use super::*;
use crate::virtio::rng::{EntropySource, VirtioRng};
use crate::virtio::test_utils::{wo, MockDriver};

struct Counter(u8);
impl EntropySource for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(1);
            *b = self.0;
        }
    }
}

fn rng_driver() -> MockDriver<VirtioRng> {
    MockDriver::new(VirtioRng::new(Box::new(Counter(0))))
}

#[test]
fn identity_bar_and_interrupt_registers() {
    let mut d = rng_driver();
    let f = &mut d.dev;
    assert_eq!(f.config_read(0x00, 4), 0x1044_1AF4, "1AF4:1040+4");
    assert_eq!(f.config_read(0x08, 1), 1, "revision 1: modern only");
    assert_eq!(f.config_read(0x2C, 4), 0x0044_1AF4, "subsystem id >= 0x40");
    assert_eq!(f.config_read(0x06, 2) & 0x10, 0x10, "capability list");
    assert_eq!(f.config_read(0x3C, 2), 0x010A, "INTA# on IRQ 10");
    f.config_write(0x10, 4, 0xFFFF_FFFF);
    assert_eq!(f.config_read(0x10, 4), 0xFFFF_C000, "16 KiB memory BAR");
    f.config_write(0x10, 4, 0xFEBF_0000);
    assert_eq!(f.bar_window(), None, "memory decoding off");
    f.config_write(0x04, 2, 0x0006);
    assert_eq!(f.bar_window(), Some((0xFEBF_0000, 0x4000)));
}

/// Walks the capability list as `virtio_pci_find_capability` does.
#[test]
fn capabilities_describe_the_bar_regions() {
    let mut d = rng_driver();
    let f = &mut d.dev;
    let mut at = f.config_read(0x34, 1) as u16;
    let mut found = Vec::new();
    while at != 0 {
        assert_eq!(
            f.config_read(at, 1),
            0x09,
            "vendor-specific capability at {at:#x}"
        );
        let cap_len = f.config_read(at + 2, 1);
        let cfg_type = f.config_read(at + 3, 1) as u8;
        let bar = f.config_read(at + 4, 1);
        let offset = f.config_read(at + 8, 4);
        let length = f.config_read(at + 12, 4);
        if cfg_type == layout::cap_type::NOTIFY_CFG {
            assert_eq!(cap_len, 20);
            assert_eq!(f.config_read(at + 16, 4), NOTIFY_OFF_MULTIPLIER);
        }
        assert_eq!(bar, 0);
        found.push((cfg_type, offset, length));
        at = f.config_read(at + 1, 1) as u16;
        assert!(found.len() < 10, "list ends");
    }
    use layout::cap_type::*;
    assert_eq!(
        found,
        vec![
            (COMMON_CFG, COMMON_OFFSET, COMMON_LEN),
            (NOTIFY_CFG, NOTIFY_OFFSET, 4),
            (ISR_CFG, ISR_OFFSET, 1),
            (PCI_CFG, 0, 0),
        ],
        "virtio-rng: one queue, no device configuration"
    );
}

#[test]
fn pci_cfg_capability_reaches_the_bar() {
    let mut d = rng_driver();
    d.dev.config_write(PCI_CFG_BAR, 1, 0);
    d.dev
        .config_write(PCI_CFG_OFFSET, 4, COMMON_OFFSET + reg::NUM_QUEUES);
    d.dev.config_write(PCI_CFG_LENGTH, 4, 2);
    assert_eq!(
        d.dev.config_read(PCI_CFG_DATA, 4),
        1,
        "num_queues through config space"
    );
    d.dev
        .config_write(PCI_CFG_OFFSET, 4, COMMON_OFFSET + reg::DEVICE_STATUS);
    d.dev.config_write(PCI_CFG_LENGTH, 4, 1);
    d.dev
        .config_write(PCI_CFG_DATA, 1, u32::from(status::ACKNOWLEDGE));
    assert_eq!(d.status(), status::ACKNOWLEDGE);
    d.dev.config_write(PCI_CFG_LENGTH, 4, 3);
    assert_eq!(
        d.dev.config_read(PCI_CFG_DATA, 4),
        0,
        "length 3 is not an access"
    );
    d.dev.config_write(PCI_CFG_OFFSET, 4, 0xFFFF_FFFF);
    d.dev.config_write(PCI_CFG_LENGTH, 4, 4);
    assert_eq!(d.dev.config_read(PCI_CFG_DATA, 4), 0, "offset past the BAR");
}

#[test]
fn feature_negotiation() {
    let mut d = rng_driver();
    let offered = d.device_features();
    assert_eq!(
        offered,
        feature::VERSION_1 | feature::INDIRECT_DESC | feature::EVENT_IDX
    );
    d.write_common(reg::DEVICE_FEATURE_SELECT, 4, 2);
    assert_eq!(d.read_common(reg::DEVICE_FEATURE, 4), 0, "no bits above 63");
    let s = status::ACKNOWLEDGE | status::DRIVER;
    d.set_status(s);
    // A legacy driver (no VERSION_1) is refused: FEATURES_OK does not stick.
    d.write_driver_features(feature::INDIRECT_DESC);
    d.set_status(s | status::FEATURES_OK);
    assert_eq!(d.status(), s);
    // A feature the device did not offer is refused too.
    d.write_driver_features(feature::VERSION_1 | 1);
    d.set_status(s | status::FEATURES_OK);
    assert_eq!(d.status(), s);
    d.write_driver_features(feature::VERSION_1 | feature::EVENT_IDX);
    d.set_status(s | status::FEATURES_OK);
    assert_eq!(d.status(), s | status::FEATURES_OK);
    // Frozen afterwards.
    d.write_driver_features(feature::VERSION_1);
    assert_eq!(
        d.dev.state().driver_features,
        feature::VERSION_1 | feature::EVENT_IDX
    );
}

#[test]
fn queue_setup_registers() {
    let mut d = rng_driver();
    assert_eq!(d.read_common(reg::NUM_QUEUES, 2), 1);
    assert_eq!(d.read_common(reg::QUEUE_SIZE, 2), 256);
    assert_eq!(d.read_common(reg::CONFIG_MSIX_VECTOR, 2), 0xFFFF);
    d.write_common(reg::QUEUE_SIZE, 2, 64);
    // 64-bit address as two halves, and a byte access inside a register.
    d.write_common(reg::QUEUE_DESC_LO, 4, 0x1234_5670);
    d.write_common(reg::QUEUE_DESC_HI, 4, 0x1);
    d.write_common(reg::QUEUE_DESC_LO + 1, 1, 0xAB);
    assert_eq!(d.dev.state().queues[0].desc_table, 0x1_1234_AB70);
    assert_eq!(d.read_common(reg::QUEUE_DESC_LO, 2), 0xAB70);
    assert_eq!(d.read_common(reg::QUEUE_SIZE, 2), 64);
    assert_eq!(d.read_common(reg::QUEUE_NOTIFY_OFF, 2), 0);
    // A queue that does not exist.
    d.write_common(reg::QUEUE_SELECT, 2, 5);
    assert_eq!(d.read_common(reg::QUEUE_SIZE, 2), 0);
    d.write_common(reg::QUEUE_ENABLE, 2, 1);
    assert_eq!(d.read_common(reg::QUEUE_ENABLE, 2), 0);
    assert_eq!(d.status() & status::DEVICE_NEEDS_RESET, 0);
}

#[test]
fn enabling_a_bad_queue_needs_reset() {
    let mut d = rng_driver();
    d.write_common(reg::QUEUE_SIZE, 2, 100);
    d.write_common(reg::QUEUE_ENABLE, 2, 1);
    assert_eq!(d.read_common(reg::QUEUE_ENABLE, 2), 0);
    assert_ne!(d.status() & status::DEVICE_NEEDS_RESET, 0);
    assert_eq!(d.dev.take_notices().len(), 1);
    d.set_status(0);
    assert_eq!(d.status(), 0);
    assert_eq!(
        d.read_common(reg::QUEUE_SIZE, 2),
        256,
        "reset restores the size"
    );
}

#[test]
fn full_init_request_interrupt_and_isr() {
    let mut d = rng_driver();
    d.init_all();
    assert!(d.negotiated_all_transport_features());
    assert!(d.dev.live());
    let buf = d.alloc(8);
    let head = d.add_chain(0, &[wo(buf, 8)]);
    d.submit(0, head);
    assert_eq!(d.take_used(0), vec![(u32::from(head), 8)]);
    assert_eq!(d.ram.read_vec(buf, 8), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert!(d.dev.irq_level());
    assert_eq!(
        d.dev.config_read(0x06, 1) & 0x08,
        0x08,
        "PCI status: interrupt"
    );
    // INTx disable masks the line, not the ISR.
    d.dev.config_write(0x04, 2, 0x0400);
    assert!(!d.dev.irq_level());
    d.dev.config_write(0x04, 2, 0x0000);
    assert!(d.dev.irq_level());
    assert_eq!(d.read_isr(), ISR_QUEUE);
    assert!(!d.dev.irq_level(), "reading the ISR lowers INTx");
    assert_eq!(d.read_isr(), 0);
}

#[test]
fn malformed_chain_sets_needs_reset_until_reset() {
    let mut d = rng_driver();
    d.init_all();
    let q = d.queues[0].clone();
    d.write_desc(q.desc, 0, 0x2_0000_0000, 8, 2, 0); // far outside RAM
    d.submit(0, 0);
    assert_ne!(d.status() & status::DEVICE_NEEDS_RESET, 0);
    assert!(!d.dev.live());
    assert_eq!(d.read_isr(), ISR_CONFIG, "configuration change interrupt");
    assert!(d.take_used(0).is_empty());
    // The driver cannot clear the bit; more requests are ignored.
    let s = d.status();
    d.set_status(s & !status::DEVICE_NEEDS_RESET);
    assert_ne!(d.status() & status::DEVICE_NEEDS_RESET, 0);
    let buf = d.alloc(4);
    let head = d.add_chain(0, &[wo(buf, 4)]);
    d.submit(0, head);
    assert!(d.take_used(0).is_empty());
    assert!(d.dev.take_notices()[0].contains("outside"));
    // Reset and re-initialise: usable again.
    d.init_all();
    assert_eq!(d.status() & status::DEVICE_NEEDS_RESET, 0);
    let head = d.add_chain(0, &[wo(buf, 4)]);
    d.submit(0, head);
    assert_eq!(d.take_used(0), vec![(u32::from(head), 4)]);
}

#[test]
fn nothing_happens_before_driver_ok() {
    let mut d = rng_driver();
    d.setup(u64::MAX, None);
    let buf = d.alloc(4);
    let head = d.add_chain(0, &[wo(buf, 4)]);
    d.submit(0, head);
    assert!(d.take_used(0).is_empty(), "not live without DRIVER_OK");
    assert!(!d.dev.irq_level());
    let s = d.status();
    d.set_status(s | status::DRIVER_OK);
    d.poll();
    assert_eq!(
        d.take_used(0),
        vec![(u32::from(head), 4)],
        "taken once live"
    );
}
