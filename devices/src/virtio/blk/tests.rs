//! virtio-blk driven by the mock driver, on a test backend whose completions the test releases.

use std::cell::RefCell;
use std::rc::Rc;

use webx86_disk::DiskError;

use super::request::{request_type, HEADER_LEN};
use super::*;
use crate::pci::PciDevice;
use crate::virtio::test_utils::{ro, wo, MockDriver};
use crate::virtio::transport::ISR_QUEUE;
use crate::virtio::{feature, status};

/// A RAM disk that holds completions until the test releases them (or completes at once).
#[derive(Default)]
struct DiskState {
    data: Vec<u8>,
    pending: Vec<(RequestId, Request)>,
    immediate: bool,
    fail: bool,
    read_only: bool,
    flushes: usize,
    done: Vec<Completion>,
}

impl DiskState {
    fn finish(&mut self, id: RequestId, request: Request) {
        let result = if self.fail {
            Err(DiskError::ReadOnly)
        } else {
            match request {
                Request::Read { offset, len } => {
                    Ok(self.data[offset as usize..offset as usize + len as usize].to_vec())
                }
                Request::Write { offset, data } => {
                    self.data[offset as usize..offset as usize + data.len()].copy_from_slice(&data);
                    Ok(Vec::new())
                }
                Request::Flush => {
                    self.flushes += 1;
                    Ok(Vec::new())
                }
            }
        };
        self.done.push(Completion { id, result });
    }

    /// Completes the pending request at position `i`.
    fn release(&mut self, i: usize) {
        let (id, r) = self.pending.remove(i);
        self.finish(id, r);
    }
}

#[derive(Clone)]
struct TestDisk(Rc<RefCell<DiskState>>);

impl BlockBackend for TestDisk {
    fn len(&self) -> u64 {
        self.0.borrow().data.len() as u64
    }
    fn read_only(&self) -> bool {
        self.0.borrow().read_only
    }
    fn device_id(&self) -> String {
        "webx86-test-disk-serial-number".into()
    }
    fn submit(&mut self, id: RequestId, request: Request) {
        let mut s = self.0.borrow_mut();
        if s.immediate {
            s.finish(id, request);
        } else {
            s.pending.push((id, request));
        }
    }
    fn poll(&mut self, out: &mut Vec<Completion>) {
        out.append(&mut self.0.borrow_mut().done);
    }
}

fn disk(sectors: usize, immediate: bool) -> (MockDriver<VirtioBlk>, Rc<RefCell<DiskState>>) {
    let state = Rc::new(RefCell::new(DiskState {
        data: (0..sectors * 512)
            .map(|i| (i * 7 + i / 512) as u8)
            .collect(),
        immediate,
        ..Default::default()
    }));
    let mut d = MockDriver::new(VirtioBlk::new(Box::new(TestDisk(state.clone()))));
    d.init_all();
    (d, state)
}

/// A request's buffers in RAM: header, data, status.
struct Req {
    header: u64,
    data: u64,
    status: u64,
}

fn request(d: &mut MockDriver<VirtioBlk>, ty: u32, sector: u64, data_len: u32) -> Req {
    let header = d.alloc(HEADER_LEN);
    let mut h = [0u8; 16];
    h[0..4].copy_from_slice(&ty.to_le_bytes());
    h[8..16].copy_from_slice(&sector.to_le_bytes());
    d.ram.put(header, &h);
    let data = d.alloc(u64::from(data_len).max(1));
    let status = d.alloc(1);
    d.ram.put(status, &[0xFF]);
    Req {
        header,
        data,
        status,
    }
}

/// Submits a request the way Linux lays it out: header, data, status.
fn send(
    d: &mut MockDriver<VirtioBlk>,
    ty: u32,
    sector: u64,
    len: u32,
    writes_data: bool,
) -> (u16, Req) {
    let r = request(d, ty, sector, len);
    let data = if writes_data {
        ro(r.data, len)
    } else {
        wo(r.data, len)
    };
    let mut bufs = vec![ro(r.header, 16)];
    if len > 0 {
        bufs.push(data);
    }
    bufs.push(wo(r.status, 1));
    let head = d.add_chain(0, &bufs);
    d.submit(0, head);
    (head, r)
}

#[test]
fn configuration_and_features() {
    let (mut d, _) = disk(2048, true);
    let cfg = |d: &mut MockDriver<VirtioBlk>, off: u32, size: u8| {
        d.dev
            .bar_read(crate::virtio::transport::layout::DEVICE_OFFSET + off, size)
    };
    assert_eq!(cfg(&mut d, 0, 4), 2048, "capacity low");
    assert_eq!(cfg(&mut d, 4, 4), 0, "capacity high");
    assert_eq!(cfg(&mut d, 8, 4), SIZE_MAX);
    assert_eq!(cfg(&mut d, 12, 4), SEG_MAX);
    assert_eq!(cfg(&mut d, 20, 4), 512, "blk_size");
    let f = d.device_features();
    let want = blk_feature::FLUSH | blk_feature::SEG_MAX | blk_feature::SIZE_MAX;
    assert_eq!(f & want, want);
    assert_eq!(f & blk_feature::RO, 0);
    assert_eq!(d.dev.config_read(0, 4), 0x1042_1AF4);
    let state = Rc::new(RefCell::new(DiskState {
        data: vec![0; 512],
        read_only: true,
        ..Default::default()
    }));
    let mut d = MockDriver::new(VirtioBlk::new(Box::new(TestDisk(state))));
    assert_ne!(
        d.device_features() & blk_feature::RO,
        0,
        "read-only backend"
    );
}

#[test]
fn write_then_read_back_across_segments() {
    let (mut d, state) = disk(64, true);
    let r = request(&mut d, request_type::OUT, 5, 1024);
    let pattern: Vec<u8> = (0..1024u32).map(|i| (i % 251) as u8).collect();
    d.ram.put(r.data, &pattern);
    // Data split across three descriptors.
    let head = d.add_chain(
        0,
        &[
            ro(r.header, 16),
            ro(r.data, 100),
            ro(r.data + 100, 412),
            ro(r.data + 512, 512),
            wo(r.status, 1),
        ],
    );
    d.submit(0, head);
    assert_eq!(d.take_used(0), vec![(u32::from(head), 1)]);
    assert_eq!(d.ram.read_vec(r.status, 1), [blk_status::OK]);
    assert_eq!(&state.borrow().data[5 * 512..7 * 512], &pattern[..]);
    // Read it back into two writable buffers.
    let back = request(&mut d, request_type::IN, 5, 1024);
    let head = d.add_chain(
        0,
        &[
            ro(back.header, 16),
            wo(back.data, 700),
            wo(back.data + 700, 324),
            wo(back.status, 1),
        ],
    );
    d.submit(0, head);
    assert_eq!(d.take_used(0), vec![(u32::from(head), 1025)]);
    assert_eq!(d.ram.read_vec(back.data, 1024), pattern);
    assert_eq!(d.ram.read_vec(back.status, 1), [blk_status::OK]);
    assert_eq!(d.read_isr(), ISR_QUEUE);
}

#[test]
fn requests_in_flight_complete_in_backend_order() {
    let (mut d, state) = disk(64, false);
    let (h0, r0) = send(&mut d, request_type::IN, 0, 512, false);
    let (h1, r1) = send(&mut d, request_type::IN, 1, 512, false);
    let (h2, _r2) = send(&mut d, request_type::IN, 2, 512, false);
    assert_eq!(state.borrow().pending.len(), 3, "all three submitted");
    assert_eq!(d.dev.device().in_flight(), 3);
    assert!(d.take_used(0).is_empty());
    assert!(!d.dev.irq_level(), "no interrupt before completion");
    assert!(d.dev.wants_poll());
    state.borrow_mut().release(1);
    d.poll();
    assert_eq!(d.take_used(0), vec![(u32::from(h1), 513)]);
    assert_eq!(d.ram.read_vec(r1.data, 512), state.borrow().data[512..1024]);
    assert_eq!(d.ram.read_vec(r0.status, 1), [0xFF], "first still pending");
    assert!(d.dev.irq_level());
    d.read_isr();
    state.borrow_mut().release(1);
    state.borrow_mut().release(0);
    d.poll();
    assert_eq!(
        d.take_used(0),
        vec![(u32::from(h2), 513), (u32::from(h0), 513)]
    );
    assert_eq!(d.ram.read_vec(r0.data, 512), state.borrow().data[..512]);
    assert!(d.dev.irq_level());
    assert!(!d.dev.wants_poll());
}

#[test]
fn get_id_and_flush() {
    let (mut d, state) = disk(8, true);
    let (head, r) = send(&mut d, request_type::GET_ID, 0, 20, false);
    assert_eq!(d.take_used(0), vec![(u32::from(head), 21)]);
    assert_eq!(d.ram.read_vec(r.data, 20), b"webx86-test-disk-ser");
    let (head, r) = send(&mut d, request_type::FLUSH, 0, 0, false);
    assert_eq!(d.take_used(0), vec![(u32::from(head), 1)]);
    assert_eq!(d.ram.read_vec(r.status, 1), [blk_status::OK]);
    assert_eq!(state.borrow().flushes, 1);
}

#[test]
fn refused_requests_get_a_status() {
    let (mut d, state) = disk(8, true);
    let cases = [
        ("unknown type", 11, 0, 512, true, blk_status::UNSUPP),
        (
            "past the end",
            request_type::IN,
            7,
            1024,
            false,
            blk_status::IOERR,
        ),
        (
            "sector overflow",
            request_type::IN,
            u64::MAX,
            512,
            false,
            blk_status::IOERR,
        ),
        (
            "not whole sectors",
            request_type::OUT,
            0,
            100,
            true,
            blk_status::IOERR,
        ),
        (
            "read into readable buffer",
            request_type::IN,
            0,
            512,
            true,
            blk_status::IOERR,
        ),
        (
            "write from writable buffer",
            request_type::OUT,
            0,
            512,
            false,
            blk_status::IOERR,
        ),
    ];
    for (what, ty, sector, len, readable_data, expected) in cases {
        let (head, r) = send(&mut d, ty, sector, len, readable_data);
        assert_eq!(d.take_used(0), vec![(u32::from(head), 1)], "{what}");
        assert_eq!(d.ram.read_vec(r.status, 1), [expected], "{what}");
    }
    assert_eq!(state.borrow().flushes, 0);
    assert!(d.dev.live(), "refusals are not device errors");
    state.borrow_mut().fail = true;
    let (_, r) = send(&mut d, request_type::IN, 0, 512, false);
    assert_eq!(
        d.ram.read_vec(r.status, 1),
        [blk_status::IOERR],
        "backend error"
    );
}

#[test]
fn write_to_read_only_disk_is_refused() {
    let state = Rc::new(RefCell::new(DiskState {
        data: vec![9; 4096],
        read_only: true,
        immediate: true,
        ..Default::default()
    }));
    let mut d = MockDriver::new(VirtioBlk::new(Box::new(TestDisk(state.clone()))));
    d.init_all();
    let (_, r) = send(&mut d, request_type::OUT, 0, 512, true);
    assert_eq!(d.ram.read_vec(r.status, 1), [blk_status::IOERR]);
    assert_eq!(state.borrow().data, vec![9; 4096]);
}

#[test]
fn chains_that_are_not_requests_need_reset() {
    let (mut d, _) = disk(8, true);
    let r = request(&mut d, request_type::IN, 0, 512);
    let head = d.add_chain(0, &[ro(r.header, 16), ro(r.data, 512)]);
    d.submit(0, head);
    assert_ne!(d.status() & status::DEVICE_NEEDS_RESET, 0, "no status byte");
    let (mut d, _) = disk(8, true);
    let r = request(&mut d, request_type::IN, 0, 512);
    let head = d.add_chain(0, &[ro(r.header, 8), wo(r.status, 1)]);
    d.submit(0, head);
    assert_ne!(d.status() & status::DEVICE_NEEDS_RESET, 0, "short header");
}

#[test]
fn reset_drops_requests_in_flight() {
    let (mut d, state) = disk(8, false);
    let (_, r) = send(&mut d, request_type::IN, 0, 512, false);
    d.ram.put(r.data, &[0xAA; 512]);
    d.set_status(0);
    state.borrow_mut().release(0);
    d.poll();
    assert_eq!(
        d.ram.read_vec(r.data, 512),
        vec![0xAA; 512],
        "memory untouched"
    );
    assert_eq!(d.ram.read_vec(r.status, 1), [0xFF]);
    assert!(!d.dev.wants_poll());
    // After re-initialisation the queue starts afresh.
    d.init_all();
    let (head, _) = send(&mut d, request_type::IN, 1, 512, false);
    state.borrow_mut().release(0);
    d.poll();
    assert_eq!(d.take_used(0), vec![(u32::from(head), 513)]);
}

#[test]
fn indirect_requests_with_event_idx() {
    let (mut d, _) = disk(16, true);
    assert!(d.negotiated_all_transport_features());
    let r = request(&mut d, request_type::IN, 2, 1024);
    let head = d.add_indirect_chain(0, &[ro(r.header, 16), wo(r.data, 1024), wo(r.status, 1)]);
    d.submit(0, head);
    assert_eq!(d.take_used(0), vec![(u32::from(head), 1025)]);
    // avail_event published: the driver is asked to notify for the next one.
    let q = d.queues[0].clone();
    assert_eq!(d.ram.u16_at(q.used + 4 + 8 * u64::from(q.size)), 1);
    assert_ne!(d.dev.state().driver_features & feature::EVENT_IDX, 0);
}

/// The disk crate's own in-memory backend behind the device: completions arrive at its next
/// poll, which the device makes in the same `process`.
#[test]
fn memory_disk_backend_round_trip() {
    let backend = webx86_disk::MemoryDisk::zeroed(16 * 512).with_device_id("vda-serial");
    let mut d = MockDriver::new(VirtioBlk::new(Box::new(backend)));
    d.init_all();
    let w = request(&mut d, request_type::OUT, 3, 512);
    d.ram.put(w.data, &[0x5A; 512]);
    let head = d.add_chain(0, &[ro(w.header, 16), ro(w.data, 512), wo(w.status, 1)]);
    d.submit(0, head);
    assert_eq!(d.take_used(0), vec![(u32::from(head), 1)]);
    assert_eq!(d.ram.read_vec(w.status, 1), [blk_status::OK]);
    let (head, r) = send(&mut d, request_type::IN, 3, 1024, false);
    assert_eq!(d.take_used(0), vec![(u32::from(head), 1025)]);
    assert_eq!(d.ram.read_vec(r.data, 512), vec![0x5A; 512]);
    assert_eq!(d.ram.read_vec(r.data + 512, 512), vec![0; 512]);
    let (_, id) = send(&mut d, request_type::GET_ID, 0, 20, false);
    assert_eq!(&d.ram.read_vec(id.data, 20)[..11], b"vda-serial\0");
}
