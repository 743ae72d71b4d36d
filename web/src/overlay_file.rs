//! The copy-on-write overlay's store on the JavaScript side. The page's worker passes an object
//! over an OPFS file's synchronous access handle (so the guest's files survive a reload); the
//! Node runner one over a host file; without either, the overlay lives in memory.
//!
//! The JS object's interface (all synchronous; a failure throws):
//! `name` (string, for messages), `size()` (bytes), `readAt(offset, buf)` (fills `buf`, zeros
//! past the end), `writeAt(offset, data)`, `sync()` (every earlier write durable).

use std::io;

use wasm_bindgen::prelude::*;
use webx86_disk::overlay::MemoryStore;
use webx86_disk::OverlayStore;

#[wasm_bindgen]
extern "C" {
    /// An overlay file object from JavaScript (see the module documentation).
    pub type OverlayFile;
    #[wasm_bindgen(method, getter)]
    fn name(this: &OverlayFile) -> String;
    #[wasm_bindgen(method, catch)]
    fn size(this: &OverlayFile) -> Result<f64, JsValue>;
    #[wasm_bindgen(method, catch, js_name = readAt)]
    fn read_at(this: &OverlayFile, offset: f64, buf: &mut [u8]) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch, js_name = writeAt)]
    fn write_at(this: &OverlayFile, offset: f64, data: &[u8]) -> Result<(), JsValue>;
    #[wasm_bindgen(method, catch)]
    fn sync(this: &OverlayFile) -> Result<(), JsValue>;
}

/// Offsets travel to JavaScript as numbers, exact below 2^53 bytes.
const MAX_OFFSET: u64 = 1 << 53;

fn js_error(e: JsValue) -> io::Error {
    io::Error::other(e.as_string().unwrap_or_else(|| format!("{e:?}")))
}

fn js_offset(offset: u64, len: usize) -> io::Result<f64> {
    if offset.saturating_add(len as u64) > MAX_OFFSET {
        return Err(io::Error::other("offset beyond 2^53 bytes"));
    }
    Ok(offset as f64)
}

/// Where the overlay of the browser's or the Node runner's disk lives.
pub enum WebStore {
    Js(OverlayFile),
    Memory(MemoryStore),
}

impl OverlayStore for WebStore {
    fn name(&self) -> String {
        match self {
            WebStore::Js(file) => file.name(),
            WebStore::Memory(m) => m.name(),
        }
    }

    fn size(&mut self) -> io::Result<u64> {
        match self {
            WebStore::Js(file) => {
                let size = file.size().map_err(js_error)?;
                if !(0.0..=MAX_OFFSET as f64).contains(&size) || size.fract() != 0.0 {
                    return Err(io::Error::other(format!("file size {size} is not a size")));
                }
                Ok(size as u64)
            }
            WebStore::Memory(m) => m.size(),
        }
    }

    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        match self {
            WebStore::Js(file) => file
                .read_at(js_offset(offset, buf.len())?, buf)
                .map_err(js_error),
            WebStore::Memory(m) => m.read_at(offset, buf),
        }
    }

    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        match self {
            WebStore::Js(file) => file
                .write_at(js_offset(offset, data.len())?, data)
                .map_err(js_error),
            WebStore::Memory(m) => m.write_at(offset, data),
        }
    }

    fn sync(&mut self) -> io::Result<()> {
        match self {
            WebStore::Js(file) => file.sync().map_err(js_error),
            WebStore::Memory(m) => m.sync(),
        }
    }
}
