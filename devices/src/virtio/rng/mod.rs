//! virtio-rng (virtio 1.2 §5.4): fills the guest's buffers with entropy so its RNG is
//! initialised at once.
//!
//! The entropy comes from an [`EntropySource`] the machine supplies (the host's CSPRNG natively,
//! `crypto.getRandomValues` in the browser, a fixed generator in deterministic tests): a device
//! never calls the host itself.

use crate::virtio::queue::{QueueContext, QueueError, MAX_QUEUE_SIZE};
use crate::virtio::{device_type, VirtioDevice};

/// Most bytes given for one request (the guest asks again for more).
pub const MAX_BYTES_PER_REQUEST: usize = 64 << 10;

/// Where random bytes come from.
pub trait EntropySource {
    /// Fills `buf` with random bytes.
    fn fill(&mut self, buf: &mut [u8]);
}

/// A virtio entropy device.
pub struct VirtioRng {
    source: Box<dyn EntropySource>,
}

impl VirtioRng {
    /// A device handing out bytes from `source`.
    pub fn new(source: Box<dyn EntropySource>) -> Self {
        VirtioRng { source }
    }
}

impl VirtioDevice for VirtioRng {
    fn device_type(&self) -> u16 {
        device_type::ENTROPY
    }

    fn pci_class(&self) -> u32 {
        0xFF_00_00 // unassigned class, as other virtio-rng implementations use
    }

    fn features(&self) -> u64 {
        0
    }

    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![MAX_QUEUE_SIZE]
    }

    fn config_len(&self) -> u32 {
        0
    }

    fn read_config(&self, _offset: u32, data: &mut [u8]) {
        data.fill(0);
    }

    fn write_config(&mut self, _offset: u32, _data: &[u8]) {}

    fn activate(&mut self, _features: u64) {}

    fn reset(&mut self) {}

    fn process(&mut self, ctx: &mut QueueContext<'_>) -> Result<(), QueueError> {
        while let Some(chain) = ctx.pop(0)? {
            if !chain.readable.is_empty() {
                return Err(QueueError::BadChain(
                    "entropy request buffer is device-readable",
                ));
            }
            let n = (chain.writable.len() as usize).min(MAX_BYTES_PER_REQUEST);
            let mut bytes = vec![0u8; n];
            self.source.fill(&mut bytes);
            chain.writable.write_at(ctx.mem(), 0, &bytes)?;
            ctx.add_used(0, chain.head, n as u32)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
