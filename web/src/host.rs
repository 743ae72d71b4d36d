//! What the WebAssembly module takes from its JavaScript host: a monotonic clock
//! (`performance.now()`) and a CSPRNG (`crypto.getRandomValues`). Both exist as globals in
//! browser workers and in Node 20+, so the same module runs in either.

use wasm_bindgen::prelude::*;
use webx86::machine::HostClock;
use webx86_devices::virtio::EntropySource;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = performance, js_name = now)]
    fn performance_now() -> f64;
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
}

/// Host milliseconds from `performance.now()`.
pub fn now_ms() -> f64 {
    performance_now()
}

/// The realtime clock's host side.
pub struct PerformanceClock;

impl HostClock for PerformanceClock {
    fn now_ns(&mut self) -> u64 {
        (performance_now() * 1e6) as u64
    }
}

/// virtio-rng's entropy.
pub struct CryptoRandom;

/// `getRandomValues` fills at most 65536 bytes per call (Web Crypto's quota).
const RANDOM_QUOTA: usize = 65536;

impl EntropySource for CryptoRandom {
    fn fill(&mut self, buf: &mut [u8]) {
        for part in buf.chunks_mut(RANDOM_QUOTA) {
            get_random_values(part);
        }
    }
}
