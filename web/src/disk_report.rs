//! Disk errors reach the page. A failed chunk fetch or a chunk that fails its SHA-256 check
//! becomes an I/O error inside the guest, which a person watching the terminal may never see
//! (or sees as a hung boot); this wrapper also keeps each distinct error's sentence so the page
//! can show it.

use std::cell::RefCell;
use std::rc::Rc;

use webx86_disk::{BlockBackend, Completion, Request, RequestId};

/// Distinct messages kept; later ones are counted, not kept (a broken image fails many reads).
const MAX_MESSAGES: usize = 16;

#[derive(Debug, Default)]
struct Log {
    new: Vec<String>,
    seen: Vec<String>,
}

/// The page's view of disk errors (shared with the [`ReportingDisk`]).
#[derive(Clone, Debug, Default)]
pub struct DiskErrors(Rc<RefCell<Log>>);

impl DiskErrors {
    /// Errors not taken before, each once.
    pub fn take_new(&self) -> Vec<String> {
        std::mem::take(&mut self.0.borrow_mut().new)
    }

    fn record(&self, message: String) {
        let mut log = self.0.borrow_mut();
        if log.seen.len() < MAX_MESSAGES && !log.seen.contains(&message) {
            log.seen.push(message.clone());
            log.new.push(message);
        }
    }
}

/// A backend whose failed completions are also recorded in a [`DiskErrors`].
pub struct ReportingDisk<B> {
    inner: B,
    errors: DiskErrors,
}

impl<B: BlockBackend> ReportingDisk<B> {
    pub fn new(inner: B, errors: DiskErrors) -> Self {
        Self { inner, errors }
    }
}

impl<B: BlockBackend> BlockBackend for ReportingDisk<B> {
    fn len(&self) -> u64 {
        self.inner.len()
    }

    fn read_only(&self) -> bool {
        self.inner.read_only()
    }

    fn device_id(&self) -> String {
        self.inner.device_id()
    }

    fn submit(&mut self, id: RequestId, request: Request) {
        self.inner.submit(id, request);
    }

    fn poll(&mut self, out: &mut Vec<Completion>) {
        let start = out.len();
        self.inner.poll(out);
        for completion in &out[start..] {
            if let Err(e) = &completion.result {
                self.errors.record(e.to_string());
            }
        }
    }
}
