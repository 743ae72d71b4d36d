//! Split virtqueue tests: chains written into test RAM by hand, as a driver lays them out.

use super::chain::{Segment, VIRTQ_DESC_F_WRITE as WRITE};
use super::chain::{VIRTQ_DESC_F_INDIRECT as IND, VIRTQ_DESC_F_NEXT as NEXT};
use super::*;
use crate::virtio::memory::GuestRam;
use crate::virtio::test_utils::{write_desc, TestRam};

const DESC: u64 = 0x1000;
const AVAIL: u64 = 0x2000;
const USED: u64 = 0x3000;
const SIZE: u16 = 8;

fn ready_queue() -> Virtqueue {
    let mut q = Virtqueue::new(SIZE);
    q.desc_table = DESC;
    q.avail_ring = AVAIL;
    q.used_ring = USED;
    q.ready = true;
    assert!(q.config_valid());
    q
}

/// Makes `heads` available in order.
fn offer(ram: &mut TestRam, heads: &[u16]) {
    for (i, h) in heads.iter().enumerate() {
        ram.put(AVAIL + 4 + 2 * i as u64, &h.to_le_bytes());
    }
    ram.put(AVAIL + 2, &(heads.len() as u16).to_le_bytes());
}

fn pop(
    ram: &mut TestRam,
    q: &mut Virtqueue,
    indirect: bool,
) -> Result<Option<DescriptorChain>, QueueError> {
    q.pop(&mut GuestRam::new(ram), indirect)
}

#[test]
fn direct_chain_splits_readable_and_writable() {
    let mut ram = TestRam::new(0x10000);
    write_desc(&mut ram, DESC, 0, 0x5000, 16, NEXT, 3);
    write_desc(&mut ram, DESC, 3, 0x6000, 512, NEXT | WRITE, 5);
    write_desc(&mut ram, DESC, 5, 0x7000, 1, WRITE, 0);
    offer(&mut ram, &[0]);
    let mut q = ready_queue();
    let c = pop(&mut ram, &mut q, false).unwrap().unwrap();
    assert_eq!(c.head, 0);
    assert_eq!(
        c.readable.0,
        vec![Segment {
            addr: 0x5000,
            len: 16
        }]
    );
    assert_eq!(
        c.writable.0,
        vec![
            Segment {
                addr: 0x6000,
                len: 512
            },
            Segment {
                addr: 0x7000,
                len: 1
            }
        ]
    );
    assert_eq!(
        pop(&mut ram, &mut q, false).unwrap(),
        None,
        "nothing more available"
    );
    assert_eq!(q.next_avail, 1);
}

#[test]
fn indirect_chain_only_when_negotiated() {
    let mut ram = TestRam::new(0x10000);
    let table = 0x4000;
    write_desc(&mut ram, table, 0, 0x5000, 16, NEXT, 1);
    write_desc(&mut ram, table, 1, 0x6000, 100, NEXT | WRITE, 2);
    write_desc(&mut ram, table, 2, 0x6100, 1, WRITE, 0);
    write_desc(&mut ram, DESC, 2, table, 48, IND, 0);
    offer(&mut ram, &[2, 2]);
    let mut q = ready_queue();
    let c = pop(&mut ram, &mut q, true).unwrap().unwrap();
    assert_eq!(c.head, 2);
    assert_eq!(c.readable.len(), 16);
    assert_eq!(c.writable.len(), 101);
    assert_eq!(
        pop(&mut ram, &mut q, false),
        Err(QueueError::IndirectNotNegotiated)
    );
}

/// Each malformed chain is refused with its own error, and never read outside RAM (the test
/// RAM panics on that).
#[test]
fn malformed_chains_are_refused() {
    type Setup = fn(&mut TestRam);
    let cases: [(&str, Setup, QueueError); 9] = [
        (
            "loop",
            |r| {
                write_desc(r, DESC, 0, 0x5000, 4, NEXT, 1);
                write_desc(r, DESC, 1, 0x5000, 4, NEXT, 0);
            },
            QueueError::ChainTooLong,
        ),
        (
            "next outside the table",
            |r| write_desc(r, DESC, 0, 0x5000, 4, NEXT, SIZE),
            QueueError::NextOutOfRange {
                next: SIZE,
                table_len: 8,
            },
        ),
        (
            "buffer past the end of RAM",
            |r| write_desc(r, DESC, 0, 0xFFF0, 0x20, 0, 0),
            QueueError::OutOfRam(crate::virtio::memory::OutOfRam {
                addr: 0xFFF0,
                len: 0x20,
                ram_size: 0x10000,
            }),
        ),
        (
            "address wrapping 64 bits",
            |r| write_desc(r, DESC, 0, u64::MAX - 1, 4, 0, 0),
            QueueError::OutOfRam(crate::virtio::memory::OutOfRam {
                addr: u64::MAX - 1,
                len: 4,
                ram_size: 0x10000,
            }),
        ),
        (
            "readable after writable",
            |r| {
                write_desc(r, DESC, 0, 0x5000, 4, NEXT | WRITE, 1);
                write_desc(r, DESC, 1, 0x5000, 4, 0, 0);
            },
            QueueError::ReadableAfterWritable,
        ),
        (
            "indirect with next",
            |r| write_desc(r, DESC, 0, 0x4000, 16, IND | NEXT, 1),
            QueueError::IndirectWithNext,
        ),
        (
            "indirect length not a multiple of 16",
            |r| write_desc(r, DESC, 0, 0x4000, 24, IND, 0),
            QueueError::BadIndirectLength(24),
        ),
        (
            "nested indirect",
            |r| {
                write_desc(r, DESC, 0, 0x4000, 16, IND, 0);
                write_desc(r, 0x4000, 0, 0x4100, 16, IND, 0);
            },
            QueueError::NestedIndirect,
        ),
        (
            "loop inside an indirect table",
            |r| {
                write_desc(r, DESC, 0, 0x4000, 32, IND, 0);
                write_desc(r, 0x4000, 0, 0x5000, 4, NEXT, 1);
                write_desc(r, 0x4000, 1, 0x5000, 4, NEXT, 0);
            },
            QueueError::ChainTooLong,
        ),
    ];
    for (what, setup, expected) in cases {
        let mut ram = TestRam::new(0x10000);
        setup(&mut ram);
        offer(&mut ram, &[0]);
        let mut q = ready_queue();
        assert_eq!(pop(&mut ram, &mut q, true), Err(expected), "{what}");
    }
}

#[test]
fn ring_errors() {
    let mut ram = TestRam::new(0x10000);
    let mut q = ready_queue();
    ram.put(AVAIL + 2, &(SIZE + 1).to_le_bytes());
    assert!(matches!(
        pop(&mut ram, &mut q, false),
        Err(QueueError::AvailIndexTooFar { .. })
    ));
    offer(&mut ram, &[SIZE]);
    assert_eq!(
        pop(&mut ram, &mut q, false),
        Err(QueueError::HeadOutOfRange {
            head: SIZE,
            queue_size: SIZE
        })
    );
    // A ring placed past the end of RAM.
    let mut q = ready_queue();
    q.avail_ring = 0xFFFE;
    assert!(matches!(
        pop(&mut ram, &mut q, false),
        Err(QueueError::OutOfRam(_))
    ));
    let mut bad = ready_queue();
    bad.size = 6;
    assert!(!bad.config_valid(), "size must be a power of two");
    bad.size = 16;
    assert!(!bad.config_valid(), "size above the maximum");
    bad.size = 8;
    bad.desc_table = 0x1008;
    assert!(!bad.config_valid(), "descriptor table 16-byte aligned");
}

#[test]
fn used_ring_and_interrupt_suppression() {
    let mut ram = TestRam::new(0x10000);
    let mut q = ready_queue();
    let mut mem = GuestRam::new(&mut ram);
    q.add_used(&mut mem, 5, 77).unwrap();
    assert!(q.needs_interrupt(&mut mem, false).unwrap());
    assert!(!q.needs_interrupt(&mut mem, false).unwrap(), "nothing new");
    // VIRTQ_AVAIL_F_NO_INTERRUPT without EVENT_IDX.
    mem.write_u16(AVAIL, VIRTQ_AVAIL_F_NO_INTERRUPT).unwrap();
    q.add_used(&mut mem, 6, 1).unwrap();
    assert!(!q.needs_interrupt(&mut mem, false).unwrap());
    assert_eq!(ram.u16_at(USED + 2), 2);
    assert_eq!((ram.u32_at(USED + 4), ram.u32_at(USED + 8)), (5, 77));
    assert_eq!((ram.u32_at(USED + 12), ram.u32_at(USED + 16)), (6, 1));
}

#[test]
fn event_idx_follows_used_event() {
    let mut ram = TestRam::new(0x10000);
    let mut q = ready_queue();
    let used_event = AVAIL + 4 + 2 * u64::from(SIZE);
    let mut mem = GuestRam::new(&mut ram);
    q.add_used(&mut mem, 0, 0).unwrap();
    assert!(
        q.needs_interrupt(&mut mem, true).unwrap(),
        "first one always"
    );
    // The driver wants an interrupt once used idx passes 3 (i.e. when entry 3 is added).
    mem.write_u16(used_event, 3).unwrap();
    q.add_used(&mut mem, 1, 0).unwrap(); // idx 2
    assert!(!q.needs_interrupt(&mut mem, true).unwrap());
    q.add_used(&mut mem, 2, 0).unwrap(); // idx 3
    assert!(!q.needs_interrupt(&mut mem, true).unwrap());
    q.add_used(&mut mem, 3, 0).unwrap(); // idx 4: entry 3 added
    assert!(q.needs_interrupt(&mut mem, true).unwrap());
    // Several entries in one batch crossing the event.
    mem.write_u16(used_event, 5).unwrap();
    q.add_used(&mut mem, 4, 0).unwrap();
    q.add_used(&mut mem, 5, 0).unwrap();
    q.add_used(&mut mem, 6, 0).unwrap();
    assert!(q.needs_interrupt(&mut mem, true).unwrap());
    // avail_event tells the driver to notify for anything new.
    q.next_avail = 9;
    q.publish_avail_event(&mut mem).unwrap();
    assert_eq!(ram.u16_at(USED + 4 + 8 * u64::from(SIZE)), 9);
}

#[test]
fn segments_as_one_stream() {
    let mut ram = TestRam::new(0x10000);
    let segs = Segments(vec![
        Segment {
            addr: 0x100,
            len: 3,
        },
        Segment {
            addr: 0x200,
            len: 0,
        },
        Segment {
            addr: 0x300,
            len: 5,
        },
    ]);
    let mut mem = GuestRam::new(&mut ram);
    assert_eq!(segs.write_at(&mut mem, 1, b"abcdefghij").unwrap(), 7);
    let mut back = [0u8; 8];
    assert_eq!(segs.read_at(&mut mem, 0, &mut back).unwrap(), 8);
    assert_eq!(&back, b"\0abcdefg");
    let (head, tail) = segs.split_at(4);
    assert_eq!(head.len(), 4);
    assert_eq!(
        tail.0,
        vec![Segment {
            addr: 0x301,
            len: 4
        }]
    );
    assert_eq!(tail.read_all(&mut mem, 100).unwrap(), b"defg");
    assert_eq!(ram.read_vec(0x100, 3), b"\0ab");
    assert_eq!(ram.read_vec(0x300, 5), b"cdefg");
}
