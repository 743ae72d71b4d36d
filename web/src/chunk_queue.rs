//! The chunk source the JavaScript side serves. The disk cannot wait on a promise, so fetching is
//! split in two: [`ChunkSource::request`] only records the hash, the JS side takes the recorded
//! hashes after each run ([`ChunkQueue::take_wanted`]), fetches them (several at once, from its
//! cache or the network) and hands each answer back ([`ChunkQueue::deliver`] /
//! [`ChunkQueue::fail`]); the image picks the answers up at its next poll and verifies them.

use std::cell::RefCell;
use std::rc::Rc;

use webx86_disk::{ChunkSource, ContentHash, FetchError, Fetched};

#[derive(Debug, Default)]
struct Queues {
    /// Requested and not yet taken by the JS side, in request order.
    wanted: Vec<ContentHash>,
    /// Answers waiting for the image's next poll.
    arrived: Vec<Fetched>,
}

/// Both ends of the queue: the image holds one clone (as its [`ChunkSource`]), the machine
/// binding another.
#[derive(Clone, Debug, Default)]
pub struct ChunkQueue(Rc<RefCell<Queues>>);

impl ChunkQueue {
    /// Hashes requested since the last call, for the JS side to fetch.
    pub fn take_wanted(&self) -> Vec<ContentHash> {
        std::mem::take(&mut self.0.borrow_mut().wanted)
    }

    /// The bytes fetched for `hash` (verified by the image, not here).
    pub fn deliver(&self, hash: ContentHash, bytes: Vec<u8>) {
        self.answer(Fetched {
            hash,
            result: Ok(bytes),
        });
    }

    /// `hash` could not be fetched from `location`; the reads waiting for it fail.
    pub fn fail(&self, hash: ContentHash, location: String, reason: String) {
        self.answer(Fetched {
            hash,
            result: Err(FetchError { location, reason }),
        });
    }

    fn answer(&self, fetched: Fetched) {
        self.0.borrow_mut().arrived.push(fetched);
    }
}

impl ChunkSource for ChunkQueue {
    fn request(&mut self, hash: ContentHash) {
        self.0.borrow_mut().wanted.push(hash);
    }

    fn poll(&mut self, out: &mut Vec<Fetched>) {
        out.append(&mut self.0.borrow_mut().arrived);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_go_out_and_answers_come_back() {
        let front = ChunkQueue::default();
        let mut source = front.clone();
        let a = ContentHash::of(b"a");
        let b = ContentHash::of(b"b");
        source.request(a);
        source.request(b);
        assert_eq!(front.take_wanted(), vec![a, b]);
        assert!(front.take_wanted().is_empty());

        let mut out = Vec::new();
        source.poll(&mut out);
        assert!(out.is_empty());
        front.fail(b, "http://x/sha256/b".into(), "HTTP 404".into());
        front.deliver(a, b"a".to_vec());
        source.poll(&mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].hash, b);
        assert_eq!(out[0].result.as_ref().unwrap_err().reason, "HTTP 404");
        assert_eq!(out[1].result.as_deref().unwrap(), b"a");
    }
}
