//! webx86 as a WebAssembly module (`wasm32-unknown-unknown`) with wasm-bindgen bindings, for the
//! browser and Node. `web/build.sh` runs `wasm-bindgen --target web` over the release `.wasm`
//! into `web/dist/pkg/`; the page's worker and the Node runner load that same module.
//!
//! - [`WebMachine`]: the PC, with its console, a disk streamed from a chunked image and the
//!   copy-on-write overlay kept by the JS side (`web/site/guest.js` drives it);
//! - [`RomSession`]: raw ROM images such as test386 (`web/node/smoke-test386.mjs`).

mod chunk_queue;
mod disk_report;
mod host;
mod image;
mod machine;
mod overlay_file;
mod rom;

pub use machine::{run_status, WebMachine};
pub use rom::{status as rom_status, RomSession};
