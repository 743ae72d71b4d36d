//! The execution loop: look up or decode the block at CS:EIP, run its ops, deliver faults
//! and interrupts at instruction boundaries.

use std::rc::Rc;

use crate::fault::{vector, Fault};
use crate::interrupt::IntKind;
use crate::state::flag;
use crate::Cpu;

/// Why [`Cpu::run`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunExit {
    /// The instruction budget ran out.
    Budget,
    /// HLT with interrupts disabled: only NMI or reset can wake the CPU.
    HaltedForever,
    /// HLT with interrupts enabled and none pending: the machine should advance time.
    Idle,
    /// Triple fault (or a shutdown cycle): the machine should reset or stop.
    Shutdown,
    /// A device asked for a system reset ([`crate::PlatformRequest::Reset`]).
    Reset,
}

impl Cpu {
    /// Runs until `budget` more instructions have retired or something stops the CPU.
    pub fn run(&mut self, budget: u64) -> RunExit {
        let end = self.state.retired.saturating_add(budget);
        // Code written from outside (DMA, loaders) since the last run.
        self.memory_events();
        loop {
            if let Some(exit) = self.exit.take() {
                return exit;
            }
            if self.state.retired >= end {
                return RunExit::Budget;
            }
            if self.state.interrupt_shadow != 0 {
                self.state.interrupt_shadow = 0;
            } else if self.state.eflags & flag::IF != 0 && self.platform.interrupt_pending() {
                if let Some(vector) = self.platform.acknowledge_interrupt() {
                    self.state.halted = 0;
                    self.interrupt(vector, IntKind::Hardware, None);
                    continue;
                }
            }
            if self.state.halted != 0 {
                return if self.state.eflags & flag::IF == 0 {
                    RunExit::HaltedForever
                } else {
                    RunExit::Idle
                };
            }
            if self.state.eflags & flag::TF != 0 {
                self.step_traced();
                continue;
            }
            let mut block = match self.fetch_block() {
                Ok(block) => block,
                Err(fault) => {
                    self.exception(fault);
                    continue;
                }
            };
            // Chain through blocks that end in near branches while the lookup cache has the
            // next one: nothing the checks above look at can have changed in between.
            while self.run_block(&block, end) {
                match self.fetch_cached() {
                    Some(next) => block = next,
                    None => break,
                }
            }
        }
    }

    /// Runs the ops of `block` from the first, stopping early on a fault, a request to end the
    /// block, a write to a code page, or the instruction budget. Returns whether the next block
    /// may follow at once (see [`crate::Block::chains`]).
    #[inline]
    fn run_block(&mut self, block: &Rc<crate::Block>, end: u64) -> bool {
        block.hits.set(block.hits.get().wrapping_add(1));
        let left = end.saturating_sub(self.state.retired);
        let all = &block.ops[..];
        let ops = if all.len() as u64 <= left {
            all
        } else {
            &all[..left as usize]
        };
        for (n, op) in ops.iter().enumerate() {
            let start = self.state.eip;
            self.state.eip = start.wrapping_add(u32::from(op.len));
            if let Err(fault) = (op.handler)(self, op) {
                self.state.eip = start;
                self.state.retired += n as u64;
                self.exception(fault);
                return false;
            }
            // Writes through `write_lin`/`write_sys` that hit decoded code or an MMIO window
            // set `end_block`.
            if self.end_block {
                self.end_block = false;
                self.memory_events();
                self.state.retired += n as u64 + 1;
                return false;
            }
        }
        self.state.retired += ops.len() as u64;
        if self.mmu.phys.attention() {
            // Code or MMIO written by other paths (interrupt frames, bulk string copies).
            self.memory_events();
            return false;
        }
        block.chains && ops.len() == all.len() && self.state.retired < end
    }

    /// Drops decoded blocks of code pages written since the last check, and lets the
    /// platform's devices act on MMIO writes (a virtio queue notification) with guest memory.
    fn memory_events(&mut self) {
        if self.mmu.phys.attention() {
            for frame in self.mmu.phys.take_written_code_pages() {
                self.cache.invalidate_page(frame);
            }
            if self.mmu.phys.take_mmio_written() {
                self.platform.mmio_written(&mut self.mmu.phys);
                // Device DMA may have written code pages.
                for frame in self.mmu.phys.take_written_code_pages() {
                    self.cache.invalidate_page(frame);
                }
            }
        }
    }

    /// Runs one instruction with EFLAGS.TF set, then takes the single-step trap (#DB, BS).
    fn step_traced(&mut self) {
        let block = match self.fetch_block() {
            Ok(block) => block,
            Err(fault) => {
                self.exception(fault);
                return;
            }
        };
        let op = block.ops[0];
        let start = self.state.eip;
        self.state.eip = start.wrapping_add(u32::from(op.len));
        match (op.handler)(self, &op) {
            Ok(()) => {
                self.state.retired += 1;
                self.end_block = false;
                self.memory_events();
                self.state.dr[6] |= 1 << 14;
                self.interrupt(vector::DB, IntKind::Exception, None);
            }
            Err(fault) => {
                self.state.eip = start;
                self.exception(fault);
            }
        }
    }

    /// Delivers a fault raised by an instruction (EIP already points at it). A delivery counts
    /// against the instruction budget, so a guest stuck in a fault loop still yields.
    pub fn exception(&mut self, fault: Fault) {
        self.state.retired += 1;
        self.interrupt(fault.vector(), IntKind::Exception, fault.error_code());
    }
}
