//! The i686 CPU: architectural state, decoding with `iced-x86` into a compact IR, a cache of
//! decoded blocks, and the interpreter that runs them.

mod access;
mod cache;
mod decode;
pub mod exec;
pub mod fault;
mod flags;
pub mod fpu;
mod interrupt;
pub mod ir;
mod platform;
mod protected;
mod run;
pub mod simd;
pub mod state;

use std::collections::HashSet;

pub use cache::Block;
pub use decode::Lowered;
pub use fault::{Exec, Fault};
pub use flags::{op as lazy_op, LazyFlags};
pub use interrupt::IntKind;
pub use platform::{NullPlatform, Platform, PlatformRequest};
pub use run::RunExit;
pub use state::CpuState;
pub use webx86_mmu as mmu;

use cache::BlockCache;
use webx86_mmu::{Mmu, PagingConfig};

/// One CPU with its memory and its view of the platform.
pub struct Cpu {
    pub state: CpuState,
    pub mmu: Mmu,
    pub platform: Box<dyn Platform>,
    cache: BlockCache,
    /// Set by a handler to end the current block after it (a mode change, a halt, ...).
    pub end_block: bool,
    /// Set by a handler to make [`Cpu::run`] return after the current instruction.
    pub exit: Option<RunExit>,
    /// Exceptions being delivered, for double/triple fault detection (SDM vol. 3A §6.15 table 6-5).
    delivering: Vec<u8>,
    /// Features already reported as unimplemented (logged once each).
    logged: HashSet<String>,
}

impl Cpu {
    /// A CPU in its reset state with `mmu` as memory and `platform` for I/O and interrupts.
    pub fn new(mmu: Mmu, platform: Box<dyn Platform>) -> Self {
        Self {
            state: CpuState::reset(),
            mmu,
            platform,
            cache: BlockCache::default(),
            end_block: false,
            exit: None,
            delivering: Vec::new(),
            logged: HashSet::new(),
        }
    }

    /// RESET: the architectural reset state; memory is kept, decoded code dropped.
    pub fn reset(&mut self) {
        self.state = CpuState::reset();
        self.mmu.set_a20(true);
        self.sync_paging();
        self.mmu.flush_all();
        self.cache.clear();
        self.delivering.clear();
    }

    /// Copies CR0/CR3/CR4 into the paging unit; call after changing any of them.
    pub fn sync_paging(&mut self) {
        use state::{cr0, cr4};
        let s = &self.state;
        self.mmu.set_config(PagingConfig {
            enabled: s.cr0 & cr0::PG != 0 && s.cr0 & cr0::PE != 0,
            write_protect: s.cr0 & cr0::WP != 0,
            pse: s.cr4 & cr4::PSE != 0,
            pge: s.cr4 & cr4::PGE != 0,
            cr3: s.cr3,
        });
    }

    /// Logs `what` once per CPU: an unimplemented feature the guest reached.
    pub fn log_once(&mut self, what: &str) {
        if self.logged.insert(what.to_string()) {
            eprintln!("webx86: {what}");
        }
    }

    /// Decoded blocks currently cached.
    pub fn cached_blocks(&self) -> usize {
        self.cache.len()
    }
}
